"""The HTTP API's gate: body size limit, per-client rate limit, bearer-key check.

A pure ASGI middleware (it does not buffer streamed responses) that applies to
the API paths only (``/api/*`` and ``/v1/*``); the Gradio app, ``/healthz`` and
the OpenAPI docs pass through untouched. In order:

1. a body larger than ``max_body`` bytes (by Content-Length, or counted while
   it is read when the client streams it) -> 413;
2. more than ``rate_limit`` requests from one client address in the last 60 s
   -> 429 with ``Retry-After`` (seconds); 0 disables the limit;
3. with an ``api_key``, a missing or wrong ``Authorization: Bearer <key>``
   -> 401 with ``WWW-Authenticate: Bearer``.

Every refusal is the JSON error body of the API: ``{"error": {"message", "type"}}``.
The client address is the one uvicorn reports: the socket peer, or `X-Forwarded-For` when the proxy
connects from an address in `FORWARDED_ALLOW_IPS` (127.0.0.1 by default).
"""
from __future__ import annotations

import collections
import hmac
import json
import math
import threading
import time

from starlette.exceptions import HTTPException

MAX_BODY_BYTES = 64 * 1024
WINDOW_S = 60.0
GUARDED_PREFIXES = ("/api/", "/v1/")
MAX_TRACKED_CLIENTS = 10_000


def error_body(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind}}


class BodyTooLarge(HTTPException):
    """Raised while the body is read; an HTTPException so that FastAPI passes it through unchanged."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body too large (limit {limit} bytes)")


class RateLimiter:
    """Sliding window: at most ``limit`` hits per key in any ``window`` seconds."""

    def __init__(self, limit: int, window: float = WINDOW_S, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request; 0 when allowed, else the seconds until the next one would be."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            if len(self._hits) > MAX_TRACKED_CLIENTS:
                self._forget_idle(now)
            hits = self._hits.setdefault(key, collections.deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.001)
            hits.append(now)
            return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or now - hits[-1] >= self.window]:
            del self._hits[key]


class Guard:
    def __init__(self, app, *, api_key: str = "", rate_limit: int = 0, max_body: int = MAX_BODY_BYTES,
                 admin_paths: tuple[str, ...] = (), admin_max_body: int = MAX_BODY_BYTES):
        self.app = app
        self.admin_paths, self.admin_max_body = admin_paths, admin_max_body   # ui.admin checks their credentials
        self.api_key = api_key.encode("utf-8")
        self.max_body = max_body
        self.limiter = RateLimiter(rate_limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(GUARDED_PREFIXES):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        admin = bool(self.admin_paths) and scope["path"].startswith(self.admin_paths)
        max_body = self.admin_max_body if admin else self.max_body

        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > max_body:
            return await _reply(send, 413, error_body(
                f"request body too large: {length} bytes (limit {max_body})", "request_too_large"))

        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.limiter.hit(client)
        if wait:
            return await _reply(send, 429, error_body(
                f"rate limit exceeded: at most {self.limiter.limit} requests per minute", "rate_limited"),
                {"retry-after": str(math.ceil(wait))})

        if self.api_key and not admin and not self._authorised(headers.get("authorization", "")):
            return await _reply(send, 401, error_body(
                "missing or wrong API key: send `Authorization: Bearer <key>`", "unauthorized"),
                {"www-authenticate": "Bearer"})

        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise BodyTooLarge(max_body)
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:        # read outside FastAPI's handler (its own handler answers otherwise)
            if not started:
                await _reply(send, 413, error_body(exc.detail, "request_too_large"))

    def _authorised(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), self.api_key)


async def _reply(send, status: int, body: dict, extra_headers: dict | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
