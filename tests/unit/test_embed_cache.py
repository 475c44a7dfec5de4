"""The passage-vector cache: what was embedded once is never embedded again, across processes."""
from __future__ import annotations

import numpy as np

from policy_assistant.index.embed_cache import CachedPassages, VectorCache


class CountingEmbedder:
    name = "counting"

    def __init__(self):
        self.seen: list[str] = []

    def embed_passages(self, texts):
        self.seen.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    def embed_queries(self, texts):
        return self.embed_passages(texts)


def test_only_missing_texts_are_embedded_and_survive_reopening(tmp_path):
    inner = CountingEmbedder()
    first = CachedPassages(inner, VectorCache(tmp_path / "c.sqlite"))
    a = first.embed_passages(["甲", "乙乙"])
    first.cache.close()
    second = CachedPassages(inner, VectorCache(tmp_path / "c.sqlite"))      # a new process, in effect
    b = second.embed_passages(["乙乙", "丙丙丙", "甲"])
    assert inner.seen == ["甲", "乙乙", "丙丙丙"]
    assert (second.reused, second.embedded) == (2, 1)
    np.testing.assert_array_equal(b[0], a[1])
    np.testing.assert_array_equal(b[2], a[0])
    assert b[1][0] == 3


def test_the_model_name_is_part_of_the_key(tmp_path):
    cache = VectorCache(tmp_path / "c.sqlite")
    inner = CountingEmbedder()
    CachedPassages(inner, cache).embed_passages(["甲"])
    other = CountingEmbedder()
    other.name = "another-model"
    CachedPassages(other, cache).embed_passages(["甲"])
    assert other.seen == ["甲"] and len(cache) == 2
