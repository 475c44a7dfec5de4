"""The item store: Chroma, through llama-index's ``ChromaVectorStore``.

Chroma is the single source of truth for items. Each build writes a fresh
*generation* collection (``items-<stamp>``) and then flips one pointer record in
the ``policy-index-meta`` collection; readers always follow the pointer, so they
never see a half-built generation and a killed build leaves the previous one
answering. The pointer record also holds the manifest (file -> content hash) and
the embedder's name, so an index built with another embedder is refused, not
silently mixed.

The client is a ``PersistentClient`` under ``<index_dir>/chroma`` by default, or
an ``HttpClient`` when ``chroma_url`` names a ``chroma run`` server: replicas that
share a server share one index. This module does not load files or embed text.
"""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlparse

import numpy as np

from policy_assistant.core.errors import IndexUnusable
from policy_assistant.core.model import Item
from policy_assistant.core.settings import Settings

META_COLLECTION = "policy-index-meta"
POINTER_ID = "current"
SCHEMA = 1
PAGE = 5000                 # records per Chroma read: bounded memory at any corpus size
REBUILD_HINT = "rebuild it with `policy-assistant index build` (or remove the index dir)"


@dataclass
class IndexState:
    """What the pointer record says about the live generation."""

    collection: str
    embed_model: str
    manifest: dict = field(default_factory=dict)   # source path -> {"sha256", "doc", "title", "year", "items"}
    built_at: float = 0.0
    items: int = 0


class ItemStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._vector_stores: dict = {}
        self._collections: dict = {}

    # -- the client ---------------------------------------------------------------------------
    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if self.settings.chroma_url:
                url = urlparse(self.settings.chroma_url)
                return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                           ssl=url.scheme == "https", settings=chroma_settings)
            path = self.settings.index_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:  # noqa: BLE001 - chroma raises many types for a bad dir or server
            where = self.settings.chroma_url or self.settings.index_dir
            raise IndexUnusable(f"cannot open the index at {where}: {_first_line(exc)}; {REBUILD_HINT}") from exc

    def describe(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir)

    # -- the pointer ----------------------------------------------------------------------------
    def state(self) -> IndexState | None:
        """The live generation, or None when nothing was ever built here."""
        try:
            meta = self._meta()
            record = meta.get(ids=[POINTER_ID], include=["metadatas", "documents"])
        except IndexUnusable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise IndexUnusable(f"the index at {self.describe()} is unreadable: {_first_line(exc)}; {REBUILD_HINT}") from exc
        if not record["ids"]:
            return None
        info = record["metadatas"][0] or {}
        try:
            if info.get("schema") != SCHEMA:
                raise ValueError(f"schema {info.get('schema')!r}, expected {SCHEMA}")
            return IndexState(collection=info["collection"], embed_model=info["embed_model"],
                              manifest=json.loads(record["documents"][0] or "{}"),
                              built_at=float(info.get("built_at", 0)), items=int(info.get("items", 0)))
        except (KeyError, ValueError, TypeError) as exc:
            raise IndexUnusable(f"the index at {self.describe()} has a foreign or damaged pointer ({exc}); {REBUILD_HINT}") from None

    def _meta(self):
        # The pointer is a plain record; no embedding function (chroma's default would download a model).
        return self.client.get_or_create_collection(META_COLLECTION, embedding_function=None)

    def publish(self, state: IndexState) -> None:
        """Atomically make ``state.collection`` the live generation."""
        self._meta().upsert(ids=[POINTER_ID], embeddings=[[1.0]], documents=[json.dumps(state.manifest, ensure_ascii=False)],
                    metadatas=[{"collection": state.collection, "embed_model": state.embed_model,
                                "built_at": state.built_at, "items": state.items, "schema": SCHEMA}])

    # -- generations ----------------------------------------------------------------------------
    def new_generation(self) -> str:
        name = f"items-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.client.create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        return name

    def drop_stale_generations(self, keep: str | set[str]) -> list[str]:
        """Delete every generation not in ``keep`` (left-overs of killed builds included)."""
        keep = {keep} if isinstance(keep, str) else set(keep)
        dropped = []
        for collection in self.client.list_collections():
            name = getattr(collection, "name", collection)
            if name.startswith("items-") and name not in keep:
                self.client.delete_collection(name)
                self._collections.pop(name, None)
                self._vector_stores.pop(name, None)
                dropped.append(name)
        return dropped

    def _collection(self, name: str):
        if name not in self._collections:
            self._collections[name] = self.client.get_collection(name, embedding_function=None)
        return self._collections[name]

    def vector_store(self, collection: str):
        """llama-index's view of one generation (cached: queries are on the hot path)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if collection not in self._vector_stores:
            self._vector_stores[collection] = ChromaVectorStore(
                chroma_collection=self._collection(collection))
        return self._vector_stores[collection]

    def add_items(self, collection: str, items: list[Item], vectors: np.ndarray) -> None:
        """Write items with their vectors as llama-index nodes."""
        from llama_index.core.schema import TextNode

        nodes = [TextNode(id_=item.key, text=item.text, metadata=item.to_metadata(), embedding=vector.tolist(),
                          excluded_embed_metadata_keys=list(item.to_metadata()),
                          excluded_llm_metadata_keys=list(item.to_metadata()))
                 for item, vector in zip(items, vectors)]
        if nodes:
            self.vector_store(collection).add(nodes)

    def copy_docs(self, source: str, target: str, docs: list[str]) -> int:
        """Carry the stored vectors of ``docs`` over to a new generation, without re-embedding.

        Paged (``PAGE`` records at a time), so that memory stays bounded at any corpus size: Chroma hands
        vectors to Python as lists of floats, ~9 KB per 384-dimension vector."""
        if not docs:
            return 0
        copied = 0
        source_collection, target_collection = self._collection(source), self._collection(target)
        for start in range(0, len(docs), 200):
            where = {"doc": {"$in": docs[start:start + 200]}}
            offset = 0
            while True:
                records = source_collection.get(where=where, limit=PAGE, offset=offset,
                                                include=["embeddings", "metadatas", "documents"])
                if not records["ids"]:
                    break
                target_collection.add(ids=records["ids"], embeddings=records["embeddings"],
                                      metadatas=records["metadatas"], documents=records["documents"])
                copied += len(records["ids"])
                offset += len(records["ids"])
                if len(records["ids"]) < PAGE:
                    break
        return copied

    # -- reading --------------------------------------------------------------------------------
    def items(self, collection: str) -> list[Item]:
        """Every item of a generation, in document order, without vectors (dense search stays in Chroma)."""
        items, _ = self._read(collection, with_vectors=False)
        return items

    def items_with_vectors(self, collection: str) -> tuple[list[Item], np.ndarray]:
        """Every item with its vector, in document order (the benchmark derives synthetic corpora from them)."""
        return self._read(collection, with_vectors=True)

    def _read(self, collection: str, with_vectors: bool) -> tuple[list[Item], np.ndarray]:
        include = ["metadatas", "documents"] + (["embeddings"] if with_vectors else [])
        items: list[Item] = []
        vectors: list = []
        try:
            chroma = self._collection(collection)
            offset = 0
            while True:
                records = chroma.get(include=include, limit=PAGE, offset=offset)
                items += [Item.from_metadata(meta, text) for meta, text in zip(records["metadatas"], records["documents"])]
                if with_vectors:
                    vectors.append(np.asarray(records["embeddings"], dtype=np.float32).reshape(len(records["ids"]), -1))
                offset += len(records["ids"])
                if len(records["ids"]) < PAGE:
                    break
        except Exception as exc:  # noqa: BLE001
            raise IndexUnusable(f"the index at {self.describe()} is damaged: {_first_line(exc)}; {REBUILD_HINT}") from exc
        order = sorted(range(len(items)), key=lambda i: (items[i].doc, items[i].order))
        matrix = np.concatenate(vectors) if with_vectors and items else np.zeros((0, 0), np.float32)
        return [items[i] for i in order], (matrix[order] if with_vectors and items else matrix)

    def items_of(self, collection: str, doc: str) -> list[Item]:
        """The items of one document, in document order (no vectors): what ``index show`` prints."""
        try:
            records = self._collection(collection).get(where={"doc": doc}, include=["metadatas", "documents"])
        except Exception as exc:  # noqa: BLE001
            raise IndexUnusable(f"the index at {self.describe()} is damaged: {_first_line(exc)}; {REBUILD_HINT}") from exc
        items = [Item.from_metadata(meta, text) for meta, text in zip(records["metadatas"], records["documents"])]
        return sorted(items, key=lambda item: item.order)

    def dense_search(self, collection: str, vector: np.ndarray, k: int, docs: list[str] | None = None) -> list[tuple[str, float]]:
        """Nearest items as (item key, cosine).

        Queries Chroma directly rather than through ``ChromaVectorStore.query``: importing
        ``llama_index.core`` costs ~1.4 s, more than half the cold-start budget, and the
        records are the very ones the llama-index store wrote (see ARCHITECTURE.md).
        """
        if k <= 0:
            return []
        where = {"doc": {"$in": list(docs)}} if docs else None
        try:
            result = self._collection(collection).query(query_embeddings=[vector.tolist()], n_results=k, where=where,
                                                         include=["distances"])
        except Exception as exc:  # noqa: BLE001
            raise IndexUnusable(f"the index at {self.describe()} cannot be searched: {_first_line(exc)}; {REBUILD_HINT}") from exc
        return [(key, 1.0 - float(distance)) for key, distance in zip(result["ids"][0], result["distances"][0])]


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
