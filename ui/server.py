"""One process for ``policy-assistant serve``: FastAPI with the Gradio chat mounted at ``/``.

``create_app`` wires the pieces: the API routes and error handlers
(``ui.api``), the gate for ``/api`` and ``/v1`` (``ui.guard``: size limit,
rate limit, API key), and the chat (``ui.chat``). The ``Assistant`` (index,
BM25, embedder) is loaded and warmed up once, before the server accepts
traffic, and shared by every request. ``serve`` runs it under uvicorn and
returns an exit code; it warns on stderr when the server is reachable beyond
this machine without an API key. Routes and rendering live in the other modules.
"""
from __future__ import annotations

import contextlib
import ipaddress
import signal
import sys
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

from policy_assistant.core.settings import Settings
from policy_assistant.ui.admin import ADMIN_API_PATHS, build_admin
from policy_assistant.ui.api import build_router, install_error_handlers
from policy_assistant.ui.chat import mount_chat
from policy_assistant.ui.conversations import ConversationLog, LoggedAssistant, RememberClient
from policy_assistant.ui.guard import MAX_BODY_BYTES, Guard
from policy_assistant.ui.viewer import build_viewer

DESCRIPTION = """Answers questions about policy documents, quoting them and citing their item numbers ([第12条]).

* `POST /api/ask`: the ask JSON record.
* `POST /v1/chat/completions`, `GET /v1/models`: OpenAI-compatible (model `policy-assistant`), streaming with `stream: true`.
* `GET /healthz`: documents, items and index generation served.
* `GET /doc/{doc}`: the source viewer; every citation's `url` opens its item there.
* Admin (`/api/documents`, `/api/logs`, `/api/stats`; the console page is `/admin`): they want
  `Authorization: Bearer <POLICY_ADMIN_KEY>` (or the console's login); the public API key opens none of them.

When the server has an API key, `/api/*` and `/v1/*` want `Authorization: Bearer <key>`.
Errors are `{"error": {"message": …, "type": …}}`.

`usage` in `/v1/chat/completions` counts characters (a Chinese character, a letter, a space: 1 each):
`prompt_tokens` the messages' text, `completion_tokens` the answer, `total_tokens` their sum.
There is no tokenizer: the extractive answers are not made by a model."""

DOCS_ASSETS = "/docs-assets"     # Swagger UI, served from the fastapi-offline package: /docs works offline


def create_app(settings: Settings, assistant=None) -> FastAPI:
    """The whole web app. Without ``assistant``, one is built from ``settings`` and warmed up here."""
    if assistant is None:
        from policy_assistant.engine import Assistant

        assistant = Assistant(settings)
        assistant.warm_up()
    app = FastAPI(title="Policy assistant", version="0.1.0", description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.assistant = assistant
    mount_docs(app)
    install_error_handlers(app, settings)
    log = ConversationLog(settings)
    admin = build_admin(assistant, settings, log)
    app.state.documents, app.state.conversations = admin.desk, log
    app.include_router(admin)                                  # before the API's catch-all for /api/*
    app.include_router(build_router(LoggedAssistant(assistant, log, "api"), settings))  # before the mount: "/" catches the rest
    app.include_router(build_viewer(assistant))
    mount_chat(app, LoggedAssistant(assistant, log, "chat"), settings, log)
    app.add_middleware(Guard, api_key=settings.api_key, rate_limit=settings.rate_limit, max_body=MAX_BODY_BYTES,
                       admin_paths=ADMIN_API_PATHS, admin_max_body=int(settings.upload_max_mb * 1024 * 1024) * 10)
    if settings.log_client_address:
        app.add_middleware(RememberClient)
    return app


def mount_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI with its script and stylesheet from this server, never a CDN."""
    import fastapi_offline

    app.mount(DOCS_ASSETS, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request):
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} – API",
                                   swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
                                   swagger_ui_parameters={"validatorUrl": None})


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> int:
    """Run the server until interrupted. 0 after a clean stop; 2 when it cannot listen."""
    from policy_assistant.engine import Assistant

    if not is_loopback(host) and not settings.api_key:
        _notice(f"policy-assistant: warning: listening on {host} without an API key; anyone who can reach "
                f"port {port} can use the API. Set POLICY_API_KEY (and POLICY_UI_USERS for the chat page).")
    if not is_loopback(host) and not (settings.admin_users or settings.admin_key):
        _notice("policy-assistant: the staff console /admin and the admin API answer only on this machine "
                "until POLICY_ADMIN_USERS or POLICY_ADMIN_KEY is set.")
    if settings.embed_threads == 0:             # parallel across requests, one embedding thread each
        settings = settings.with_(embed_threads=1)
    assistant = Assistant(settings)
    _notice("policy-assistant: loading the index and models…")
    assistant.warm_up()
    app = create_app(settings, assistant)
    server = StoppableServer(uvicorn.Config(app, host=host, port=port, log_level="info",
                                             timeout_graceful_shutdown=5, server_header=False))
    shown = f"[{host}]" if ":" in host else host
    _notice(f"policy-assistant: chat on http://{shown}:{port}/ · API /api/ask, /v1/chat/completions · docs /docs")
    try:
        server.run()
    except SystemExit:                          # uvicorn exits when it cannot bind
        _notice(f"policy-assistant: cannot listen on {host}:{port} (in use, or not an address of this machine)")
        return 2
    _notice("policy-assistant: stopped")
    return 0 if server.started else 2


class StoppableServer(uvicorn.Server):
    """Ctrl+C / SIGTERM stop the server gracefully and ``serve`` returns 0 (plain uvicorn re-raises
    the signal after shutting down, turning a normal stop into exit 130 or death by SIGTERM)."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
