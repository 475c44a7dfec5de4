"""The fake embedder honours the seam the real ones do: unit vectors, one row per text, stable."""
from __future__ import annotations

import socket

import numpy as np
import pytest


def test_vectors_are_unit_and_deterministic(fake_embedder):
    a = fake_embedder.embed_passages(["加快建设公办幼儿园", "", "高中教育"])
    b = fake_embedder.embed_passages(["加快建设公办幼儿园", "", "高中教育"])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)


def test_shared_words_are_closer(fake_embedder):
    q = fake_embedder.embed_queries(["公办幼儿园建设"])[0]
    near, far = fake_embedder.embed_passages(["加快建设公办幼儿园", "推进高校科研"])
    assert q @ near > q @ far


def test_sockets_are_blocked():
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
