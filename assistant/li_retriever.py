"""The hybrid retriever as a llama-index ``BaseRetriever``, for ordinary llama-index pipelines.

``PolicyRetriever(retriever)`` wraps a ``HybridRetriever`` (dense + BM25 with the learned ranker,
direct 第N条 lookups, edition choice) and returns ``NodeWithScore``s: one ``TextNode`` per item, its
text the item's verbatim text, its metadata the item's citation fields (doc, item, path, title …) plus
``marker`` ("[第12条]") and ``answerable`` (the retriever's evidence verdict). So a
``RetrieverQueryEngine`` or ``CitationQueryEngine`` runs over exactly what the assistant retrieves.

This module imports ``llama_index.core`` (about 1.4 s), so nothing on the CLI's cold ``ask`` path
imports it; import it only where a llama-index pipeline is wanted. It does not answer questions.
"""
from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from policy_assistant.query import understand
from policy_assistant.retrieval import MAX_HITS


class PolicyRetriever(BaseRetriever):
    """``HybridRetriever`` behind llama-index's retriever interface."""

    def __init__(self, retriever, top_k: int = MAX_HITS, doc: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self._hybrid = retriever
        self._top_k = top_k
        self._doc = doc

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = understand(query_bundle.query_str, doc=self._doc)
        retrieval = self._hybrid.run(query, self._top_k)
        nodes = []
        for hit in retrieval.hits[:self._top_k]:
            item = hit.item
            metadata = {k: v for k, v in item.citation().items() if k != "text"}
            metadata.update({"marker": item.marker, "answerable": retrieval.answerable})
            node = TextNode(id_=item.key, text=item.text, metadata=metadata,
                            excluded_embed_metadata_keys=list(metadata), excluded_llm_metadata_keys=
                            [k for k in metadata if k not in ("title", "marker")])
            nodes.append(NodeWithScore(node=node, score=float(hit.score)))
        return nodes
