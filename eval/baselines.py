"""The systems the benchmark compares ours against, as ranked retrieval units.

- ``BM25Only``: jieba tokens + bm25s over the same items (the very BM25 side our
  ``Corpus`` derives from Chroma), the question tokenised as it comes.
- ``DenseOnly``: the same embedder and the same Chroma generation, nearest items.
- ``LlamaIndexDefault``: LlamaIndex's default pipeline: ``SentenceSplitter`` chunks
  (default size and overlap) of each raw cleaned document, an in-memory
  ``VectorStoreIndex`` with the same embedder (``index.embedders.llama_index_embedding``),
  its default retriever. A chunk is mapped back to every item whose text it overlaps,
  so a chunk spanning several items counts as retrieving (and citing) all of them.

Each baseline has ``rank(question) -> Ranked``: units best first, each unit the
list of item references (``{"doc", "item", "path"}``) it covers, plus stage
timings in ms. None of them rewrites follow-ups or does direct lookups ("第12条"):
they see the question text only, as their default pipelines do. Scoring is
``eval.bench``'s job; this module does not grade.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policy_assistant.core.model import Item
from policy_assistant.core.text import search_tokens

DEPTH = 8                 # ranked units kept per question (ours returns at most 8 hits too)


@dataclass
class Ranked:
    units: list[list[dict]]                       # per rank: the item refs that unit covers
    timing_ms: dict[str, float] = field(default_factory=dict)


def item_ref(item: Item) -> dict:
    return {"doc": item.doc, "item": item.item, "path": list(item.path)}


def _ms(start: float, end: float) -> float:
    return (end - start) * 1000


class BM25Only:
    name = "bm25-only"

    def __init__(self, corpus):
        self.corpus = corpus

    def rank(self, question: str) -> Ranked:
        started = time.perf_counter()
        terms = search_tokens(question)
        tokenised = time.perf_counter()
        scores = self.corpus.bm25.get_scores(terms) if terms else np.zeros(len(self.corpus.items))
        order = [int(i) for i in np.argsort(-scores, kind="stable")[:DEPTH] if scores[i] > 0]
        done = time.perf_counter()
        return Ranked([[item_ref(self.corpus.items[i])] for i in order],
                      {"tokenise": _ms(started, tokenised), "search": _ms(tokenised, done), "total": _ms(started, done)})


class DenseOnly:
    name = "dense-only"

    def __init__(self, corpus, store, embedder):
        self.corpus, self.store, self.embedder = corpus, store, embedder

    def rank(self, question: str) -> Ranked:
        started = time.perf_counter()
        vector = self.embedder.embed_queries([question])[0]
        embedded = time.perf_counter()
        found = self.store.dense_search(self.corpus.collection, vector, min(DEPTH, len(self.corpus.items)))
        done = time.perf_counter()
        units = [[item_ref(self.corpus.items[self.corpus.by_key[key]])] for key, _ in found if key in self.corpus.by_key]
        return Ranked(units, {"embed": _ms(started, embedded), "search": _ms(embedded, done), "total": _ms(started, done)})


class LlamaIndexDefault:
    """SentenceSplitter + VectorStoreIndex (in memory) + the default retriever, same embedder."""

    name = "llamaindex-default"

    def __init__(self, corpus, embedder, top_k: int = DEPTH, files: dict[str, str] | None = None):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        from policy_assistant.index.embedders import llama_index_embedding
        from policy_assistant.index.loaders import load_document

        started = time.perf_counter()
        self.spans: dict[str, list[tuple[int, int, Item]]] = {}     # doc -> item spans in its cleaned text
        self.texts: dict[str, str] = {}
        self.unmapped: list[str] = []
        documents = []
        for doc in corpus.docs:
            items = [item for item in corpus.items if item.doc == doc]
            text = load_document(Path((files or {}).get(doc) or items[0].source)).text   # files: doc -> path read
            self.texts[doc] = text
            self.spans[doc] = self._item_spans(text, items)
            documents.append(Document(text=text, id_=doc))
        self.splitter = SentenceSplitter()             # the defaults: chunk_size=1024, chunk_overlap=200 tokens
        self.index = VectorStoreIndex.from_documents(documents, embed_model=llama_index_embedding(embedder),
                                                     transformations=[self.splitter], show_progress=True)
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)
        nodes = list(self.index.docstore.docs.values())
        self.chunks = len(nodes)
        self.items_per_chunk = round(float(np.mean([len(self._covered(n)) for n in nodes])) if nodes else 0.0, 2)
        self.chunk_chars = round(float(np.mean([len(n.get_content()) for n in nodes])) if nodes else 0.0, 1)
        self.build_s = time.perf_counter() - started

    def _item_spans(self, text: str, items: list[Item]) -> list[tuple[int, int, Item]]:
        spans, cursor = [], 0
        squeezed, positions = _squeeze(text)
        for item in items:
            start = text.find(item.text, cursor)
            if start < 0:
                start = text.find(item.text)
            if start >= 0:
                spans.append((start, start + len(item.text), item))
                cursor = start + len(item.text)
                continue
            needle, _ = _squeeze(item.text)             # wrapped lines joined: match without whitespace
            at = squeezed.find(needle) if needle else -1
            if at < 0:
                self.unmapped.append(item.key)
                continue
            spans.append((positions[at], positions[at + len(needle) - 1] + 1, item))
        return spans

    def _covered(self, node) -> list[Item]:
        doc = node.ref_doc_id
        text = self.texts.get(doc, "")
        start, end = node.start_char_idx, node.end_char_idx
        if start is None or end is None:
            start = text.find(node.get_content())
            end = start + len(node.get_content()) if start >= 0 else -1
        return [item for s, e, item in self.spans.get(doc, []) if start < e and s < end]

    def rank(self, question: str) -> Ranked:
        started = time.perf_counter()
        nodes = self.retriever.retrieve(question)
        done = time.perf_counter()
        units = [[item_ref(item) for item in self._covered(hit.node)] for hit in nodes]
        return Ranked(units, {"search": _ms(started, done), "total": _ms(started, done)})


def _squeeze(text: str) -> tuple[str, list[int]]:
    """The text without whitespace, and for each kept character its position in the original."""
    kept = [(char, index) for index, char in enumerate(text) if not char.isspace()]
    return "".join(c for c, _ in kept), [i for _, i in kept]
