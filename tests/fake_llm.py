"""A small OpenAI-protocol chat-completions server on loopback, with scripted replies.

There is no real LLM here, so the tests talk to this: a real HTTP server on
127.0.0.1 (a free port, a daemon thread) that answers ``POST /v1/chat/completions``
(and ``/chat/completions``) in the OpenAI wire format, plain JSON or SSE
(``"stream": true``), with the replies a test scripts:

    server.script(Reply(status=500), Reply("加快建设公办幼儿园。[第12条]"))

Replies are used in order, one per request; the last one repeats when the script
runs out. Every request body is kept (``server.requests``) so tests can check
what the assistant sent. A reply can fail (``status``), hang (``delay`` before the
headers), trickle (``chunk_delay`` between SSE chunks), or send a body verbatim
(``raw``, for malformed JSON). It knows nothing of the assistant.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    delay: float = 0.0          # seconds before anything is sent (a hang when longer than the client's timeout)
    chunk_delay: float = 0.0    # seconds between SSE chunks (a slow stream)
    chunk_chars: int = 6        # characters of content per SSE chunk
    raw: str | None = None      # send this body verbatim instead (malformed JSON)


class FakeLLM:
    def __init__(self):
        self.requests: list[dict] = []
        self._replies: list[Reply] = [Reply("")]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"       # one request per connection; a stream ends when it closes

            def log_message(self, *args):      # quiet
                pass

            def do_GET(self):                  # /v1/models, for clients that probe
                self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                reply = fake._next(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._json(404, {"error": {"message": f"no route {self.path}"}})
                if fake._sleep(reply.delay):
                    return
                try:
                    if reply.raw is not None:
                        return self._send(reply.status, reply.raw.encode(), "application/json")
                    if reply.status != 200:
                        return self._json(reply.status, {"error": {"message": f"scripted HTTP {reply.status}",
                                                                   "type": "server_error"}})
                    if body.get("stream"):
                        return self._stream(body, reply)
                    self._json(200, completion(body.get("model", "fake"), reply.content))
                except (BrokenPipeError, ConnectionResetError):
                    pass                        # the client gave up: that is what some tests want

            def _stream(self, body, reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                model = body.get("model", "fake")
                pieces = [reply.content[i:i + reply.chunk_chars]
                          for i in range(0, len(reply.content), reply.chunk_chars)]
                self._event(chunk(model, {"role": "assistant", "content": ""}))
                for piece in pieces:
                    if fake._sleep(reply.chunk_delay):
                        return
                    self._event(chunk(model, {"content": piece}))
                self._event(chunk(model, {}, finish="stop"))
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload):
                self.wfile.write(b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n")
                self.wfile.flush()

            def _json(self, status, payload):
                self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

            def _send(self, status, data: bytes, kind: str):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeLLM":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply | str) -> None:
        """The replies for the next requests (a str is a plain successful reply)."""
        with self._lock:
            self._replies = [Reply(r) if isinstance(r, str) else r for r in replies] or [Reply("")]
            self.requests.clear()

    def _next(self, body: dict) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def _sleep(self, seconds: float) -> bool:
        """Sleep, but wake up when the server stops; True when it stopped."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


def completion(model: str, content: str) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
