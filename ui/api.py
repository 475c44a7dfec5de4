"""The HTTP API: ``POST /api/ask``, the OpenAI-compatible ``/v1`` routes, ``GET /healthz``.

- ``/api/ask`` takes ``{question, history?, doc?, generator?}`` and returns the
  ask JSON record of the contract (README.md, "The JSON contract").
- ``/v1/chat/completions`` speaks the OpenAI chat schema: the user turns before
  the last become the history, the last user turn is the question. The reply is
  a ``chat.completion`` (or, with ``stream: true``, ``chat.completion.chunk``
  server-sent events ending with ``data: [DONE]``) from the model
  "policy-assistant", with the citations in a top-level ``citations`` field
  (of the response, or of the last chunk), and ``usage`` counted in characters
  (no tokenizer: the extractive answers are not made by a model). Any other
  ``model`` is a 404 in the OpenAI error shape. ``/v1/models`` lists the one model.
- Every response names a citation's ``source`` relative to the indexed folder
  (``public_record``; indexes built before sources were stored that way get the
  file name), never as an absolute server path.
- ``/healthz`` reports the documents, items and index generation being served, and the
  documents counted by validity status (``by_status``).

This module is also the one place where errors become HTTP responses:
``AssistantError`` -> its ``status`` with ``{"error": {"message", "type"}}``;
bad JSON -> 400; a body that does not fit the schema -> 422. Handlers are plain
``def`` functions, so FastAPI runs them in its thread pool and a slow answer
never blocks another request. Auth, size and rate limits live in ``ui.guard``.
"""
from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
import sys
import time
import traceback
import uuid
from typing import Any, Iterator, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from policy_assistant.core.errors import AssistantError, BadInput
from policy_assistant.core.model import Validity
from policy_assistant.index.validity import count_by_status
from policy_assistant.core.settings import Settings
from policy_assistant.ui.guard import error_body
from policy_assistant.ui.viewer import linked

MODEL = "policy-assistant"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MAX_HISTORY = 20                 # earlier turns kept for follow-up rewriting (the newest ones)
STATUS_TYPES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 413: "request_too_large", 422: "invalid_request", 429: "rate_limited"}


# -- request and response models --------------------------------------------------------------------
class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "那高中呢", "history": ["学前教育今年有什么要求"]}]})
    question: str = Field(description="the question, in Chinese or English")
    history: list[str] = Field(default_factory=list, description="earlier questions of the conversation, oldest first")
    doc: str | None = Field(default=None, description="restrict retrieval to one document id (see /healthz)")
    generator: Literal["extractive", "llm"] | None = Field(default=None, description="default: the server's setting")


class Citation(BaseModel):
    model_config = ConfigDict(extra="allow")
    doc: str
    title: str = ""
    year: int | None = None
    item: str
    path: list[str]
    section: str = ""
    text: str
    url: str = Field(default="", description="where the item opens in the source viewer: /doc/<doc>#<item path>")


class AskRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    question: str
    language: str
    refused: bool
    generator: str
    warnings: list[str]
    answer: str
    citations: list[Citation]
    retrieved: list[dict[str, Any]]
    grounding: dict[str, Any]
    timing_ms: dict[str, float]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):   # content parts: [{"type": "text", "text": "…"}, …]
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")   # temperature, max_tokens … are accepted and ignored
    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    doc: str | None = Field(default=None, description="extension: restrict retrieval to one document id")
    generator: Literal["extractive", "llm"] | None = Field(default=None, description="extension")


# -- the routes ---------------------------------------------------------------------------------------
def build_router(assistant, settings: Settings) -> APIRouter:
    router = APIRouter()

    @router.post("/api/ask", response_model=AskRecord, tags=["api"],
                 summary="Answer one question, quoting and citing the policy items")
    def ask(body: AskRequest) -> dict:
        return public_record(assistant.ask(body.question, body.history[-MAX_HISTORY:], body.doc or None,
                                           body.generator))

    @router.post("/v1/chat/completions", tags=["openai"], summary="OpenAI-compatible chat completions")
    def chat_completions(body: ChatRequest):
        if body.model != MODEL:
            return unknown_model(body.model)
        question, history = split_messages(body.messages)
        events = assistant.ask_stream(question, history, body.doc or None, body.generator)
        first = next(events)          # the question is checked here, so a bad one is a 4xx, not a broken stream
        if not body.stream:
            record = first["record"] if first["type"] == "final" else _final(events)
            return completion(public_record(record), prompt_chars(body.messages))
        return StreamingResponse(sse_chunks(first, events, prompt_chars(body.messages)), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @router.get("/v1/models", tags=["openai"], summary="The one model served")
    def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "policy-assistant"}]}

    @router.get("/healthz", tags=["ops"], summary="Liveness and what the index holds")
    def healthz():
        try:
            corpus = assistant.corpus()
            state = assistant.store.state()
        except AssistantError as exc:
            return JSONResponse({"status": "unavailable", **error_body(exc.message, _kind(exc))}, status_code=503)
        return {"status": "ok", "documents": len(corpus.docs), "items": len(corpus.items),
                "index": {"generation": corpus.collection, "built_at": _iso(state.built_at) if state else None,
                          "embed_model": assistant.embedder.name,       # no server path: a Chroma URL or "embedded"
                          "where": assistant.store.settings.chroma_url or "embedded"},
                "docs": [{"doc": d.doc, "title": d.title, "year": d.year, "items": d.items,
                          "status": corpus.validity[d.doc].status if d.doc in corpus.validity else "in_force"}
                         for d in corpus.docs.values()],
                "by_status": count_by_status({d: corpus.validity.get(d, Validity()) for d in corpus.docs}),
                "generator": settings.generator}

    routes = {route.path: sorted(route.methods) for route in router.routes}

    @router.api_route("/api/{rest:path}", methods=ANY_METHOD, include_in_schema=False)
    @router.api_route("/v1/{rest:path}", methods=ANY_METHOD, include_in_schema=False)
    def unknown_route(request: Request):
        """Without this, the chat mounted at "/" would answer these paths with its own 404."""
        allowed = routes.get(request.url.path)
        if allowed:
            raise HTTPException(405, f"{request.method} is not allowed here; use {', '.join(allowed)}",
                                headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no API route {request.url.path}; see /docs")

    return router


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """The last user turn is the question; the user turns before it are the history."""
    users = [m.text() for m in messages if m.role == "user"]
    if not users:
        raise BadInput("messages must contain at least one message with role 'user'")
    return users[-1], users[:-1][-MAX_HISTORY:]


def public_record(record: dict) -> dict:
    """The record as clients see it: each citation's ``source`` relative (an absolute one, from an index
    built before sources were stored relative, becomes the file name)."""
    citations = [{**c, "source": posixpath.basename(c["source"].replace("\\", "/"))}
                 if _absolute(c.get("source")) else c for c in record.get("citations", [])]
    return {**record, "citations": linked(citations)}


def _absolute(source) -> bool:
    return isinstance(source, str) and (source.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:[\\/]", source) is not None)


def unknown_model(name: str) -> JSONResponse:
    """OpenAI's answer to a model it does not serve: 404, ``model_not_found``, naming the one served."""
    return JSONResponse({"error": {"message": f"The model '{name}' does not exist; this server serves '{MODEL}' "
                                              f"(see GET /v1/models)", "type": "invalid_request_error",
                                   "param": "model", "code": "model_not_found"}}, status_code=404)


def prompt_chars(messages: list[ChatMessage]) -> int:
    return sum(len(message.text()) for message in messages)


def usage(prompt: int, answer: str) -> dict:
    """OpenAI's ``usage``, counted in characters (see the module docstring)."""
    return {"prompt_tokens": prompt, "completion_tokens": len(answer), "total_tokens": prompt + len(answer)}


def completion(record: dict, prompt: int = 0) -> dict:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": record["answer"]},
                         "finish_reason": "stop"}],
            "usage": usage(prompt, record["answer"]),
            "citations": record["citations"], "refused": record["refused"], "warnings": record["warnings"],
            "grounding": record["grounding"]}


def sse_chunks(first: dict, events: Iterator[dict], prompt: int = 0) -> Iterator[str]:
    """OpenAI-style chunks: the role, the text deltas, then a last chunk with finish_reason and citations."""
    chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        payload = {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": MODEL,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    sent = ""
    try:
        for event in _chain(first, events):
            if event["type"] == "delta":
                sent += event["text"]
                yield chunk({"content": event["text"]})
            elif event["type"] == "final":
                record = public_record(event["record"])
                rest = record["answer"][len(sent):] if record["answer"].startswith(sent) else ""
                if rest:
                    yield chunk({"content": rest})
                yield chunk({}, "stop", citations=record["citations"], refused=record["refused"],
                            warnings=record["warnings"], grounding=record["grounding"],
                            usage=usage(prompt, record["answer"]))
    except AssistantError as exc:
        yield f"data: {json.dumps(error_body(exc.message, _kind(exc)), ensure_ascii=False)}\n\n"
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band, log the traceback
        traceback.print_exc(file=sys.stderr)
        yield f"data: {json.dumps(error_body(f'internal error: {type(exc).__name__}', 'internal_error'))}\n\n"
    yield "data: [DONE]\n\n"


def _chain(first: dict, events: Iterator[dict]) -> Iterator[dict]:
    yield first
    yield from events


def _final(events: Iterator[dict]) -> dict:
    for event in events:
        if event["type"] == "final":
            return event["record"]
    raise RuntimeError("the answer stream ended without a final record")


# -- errors: the one boundary ---------------------------------------------------------------------------
def install_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(AssistantError)
    def assistant_error(request: Request, exc: AssistantError):
        if settings.debug:
            traceback.print_exception(exc, file=sys.stderr)
        return JSONResponse(error_body(exc.message, _kind(exc)), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(error_body("the request body is not valid JSON", "invalid_json"), status_code=400)
        message = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                            for e in errors)
        return JSONResponse(error_body(message or "invalid request", "invalid_request"), status_code=422)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException):
        return JSONResponse(error_body(str(exc.detail), STATUS_TYPES.get(exc.status_code, "http_error")),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception):
        traceback.print_exception(exc, file=sys.stderr)     # a bug: keep its traceback in the server log
        detail = f": {type(exc).__name__}: {exc}" if settings.debug else ""
        return JSONResponse(error_body(f"internal error{detail}", "internal_error"), status_code=500)


def _iso(epoch: float) -> str | None:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds") if epoch else None


def _kind(exc: AssistantError) -> str:
    """BadInput -> "bad_input", IndexUnusable -> "index_unusable" …"""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
