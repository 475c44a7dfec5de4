"""Synthetic corpora for the benchmark's scale test, and query latency on them.

``synthetic_corpus(items, vectors, n)`` derives ``n`` items from the bundled
ones: each copies a real item's hierarchy and recombines its sentences (a seeded
permutation, sometimes one sentence of another item added), under one of many
synthetic documents of 30 items each (distinct doc ids and titles, so that every
document is its own series and retrieval searches them all). Vectors are not
computed: each is the real item's stored vector plus small Gaussian noise,
renormalised (cosine to its source ~0.93), so no 10k embedding pass is needed.

``write_generation`` writes them into a real Chroma generation through
``ItemStore.add_items`` (llama-index nodes, as a build does); ``query_latency``
then times the real retrieval path on it, ``HybridRetriever.run`` (dense Chroma
query, BM25, fusion, evidence), with each question embedded once beforehand by
the real embedder (``primed_queries``: the embedding costs the same at any corpus
size, and its p50 is added back as ``query_p50_ms``). It does not publish a
pointer and never touches the user's index.
"""
from __future__ import annotations

import random
import time
from dataclasses import replace

import numpy as np

from policy_assistant.core.model import Item
from policy_assistant.core.stats import percentile
from policy_assistant.core.text import split_sentences

ITEMS_PER_DOC = 30
NOISE = 0.02              # per-dimension standard deviation of the vector perturbation
WRITE_BATCH = 1000


def synthetic_corpus(items: list[Item], vectors: np.ndarray, n: int, seed: int = 7) -> tuple[list[Item], np.ndarray]:
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    out, sources = [], []
    for index in range(n):
        base_index = index % len(items)
        base = items[base_index]
        sentences = split_sentences(base.text) or [base.text]
        rng.shuffle(sentences)
        if rng.random() < 0.5:
            other = items[rng.randrange(len(items))]
            sentences.append(rng.choice(split_sentences(other.text) or [other.text]))
        number = index // ITEMS_PER_DOC
        doc = f"synthetic-{n}-{number:05d}"
        out.append(replace(base, doc=doc, text="".join(sentences), title=f"合成政策文件第{number}号",
                           year=2025, source=f"synthetic://{doc}", order=index % ITEMS_PER_DOC))
        sources.append(base_index)
    perturbed = vectors[sources] + noise.normal(0.0, NOISE, size=(n, vectors.shape[1])).astype(np.float32)
    perturbed /= np.linalg.norm(perturbed, axis=1, keepdims=True)
    return out, perturbed.astype(np.float32)


def write_generation(store, items: list[Item], vectors: np.ndarray) -> tuple[str, float]:
    """A new generation holding ``items``; returns its name and the seconds the writes took."""
    started = time.perf_counter()
    collection = store.new_generation()
    for start in range(0, len(items), WRITE_BATCH):
        store.add_items(collection, items[start:start + WRITE_BATCH], vectors[start:start + WRITE_BATCH])
    return collection, time.perf_counter() - started


def primed_queries(embedder, questions: list[str]):
    """The engine's ``CachedQueries`` holding every question's vector, computed once by the real embedder,
    so that the timed loop measures what depends on corpus size; its ``embed_ms`` is what embedding cost."""
    from policy_assistant.index.embedders import CachedQueries

    cached = CachedQueries(getattr(embedder, "embedder", embedder), size=max(1, len(set(questions))))
    cached.prime(questions)
    return cached


def query_latency(corpus, store, embedder, queries, today, repeats: int = 1) -> dict:
    """p50/p95 ms of ``HybridRetriever.run`` (dense Chroma query, BM25, fusion, evidence) over
    understood queries whose vectors ``embedder`` already holds, and per-part p50s. Only this call's
    own instances are wrapped, and unwrapped after."""
    from policy_assistant.retrieval import HybridRetriever

    clock = {"dense": 0.0, "bm25": 0.0}
    parts: dict[str, list[float]] = {name: [] for name in clock}
    timings = []
    wrapped = [(corpus.bm25, "get_scores", "bm25"), (store, "dense_search", "dense")]
    for owner, attribute, part in wrapped:
        setattr(owner, attribute, _timed(getattr(owner, attribute), clock, part))
    try:
        for _ in range(repeats):
            for query in queries:
                retriever = HybridRetriever(corpus, store, embedder, today)
                clock.update(dense=0.0, bm25=0.0)
                started = time.perf_counter()
                retriever.run(query)
                timings.append((time.perf_counter() - started) * 1000)
                for part in parts:
                    parts[part].append(clock[part] * 1000)
    finally:
        for owner, attribute, _ in wrapped:
            delattr(owner, attribute)                        # back to the class's method
    other = [t - d - b for t, d, b in zip(timings, parts["dense"], parts["bm25"])]
    embed = _p(embedder.embed_ms, 50)
    return {"p50_ms": _p(timings, 50), "p95_ms": _p(timings, 95), "query_p50_ms": round(_p(timings, 50) + embed, 2),
            "parts_p50_ms": {"dense": _p(parts["dense"], 50), "bm25": _p(parts["bm25"], 50), "other": _p(other, 50)}}


def _timed(function, clock: dict, part: str):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            clock[part] += time.perf_counter() - started
    return timed


def _p(values: list[float], q: int) -> float:
    return round(percentile(values, q), 2)
