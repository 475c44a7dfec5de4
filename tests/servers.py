"""Start the real web app on a free 127.0.0.1 port for a test, and stop it after.

``running(settings, assistant)`` is a context manager that builds the app with
``ui.server.create_app``, runs uvicorn in a daemon thread, waits until it
listens and yields the base URL. Only loopback is used. It checks nothing.
``ask_in_page(page, question, n)`` sends a question in the chat page (Playwright) and
waits for the n-th answer to be final.
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(settings, assistant, timeout: float = 30.0):
    import uvicorn

    from policy_assistant.ui.server import create_app

    assistant.warm_up()                       # as `serve` does: loaded before the first request
    app = create_app(settings, assistant)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None,
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on port {port} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ask_in_page(page, question: str, bot_count: int):
    """Type and send; wait until the bot message number ``bot_count`` is final (its sources or refusal shown)."""
    page.fill("#pa-question textarea", question)
    page.keyboard.press("Enter")
    last = page.locator("#pa-chat .bot-row").nth(bot_count - 1)
    last.locator(".pa-final").wait_for(state="attached", timeout=30_000)
    return last
