"""The item chunker as a llama-index ``NodeParser``, for pipelines built with llama-index.

What it does
    ``ItemNodeParser().get_nodes_from_documents(docs)`` cuts each llama-index
    ``Document`` at its own numbering, exactly as the index builder does
    (``index.cleaning.clean_text`` for site chrome, then ``index.chunking.split_document``),
    and returns one ``TextNode`` per citable item: the item's verbatim text, the id
    ``doc::path`` and the metadata ``doc``, ``item``, ``path`` (labels top down),
    ``section``, ``headings``, ``title``, ``year``, ``office``, ``date``. Only title and
    headings go into the embedded text (as the builder embeds them); the LLM sees title,
    item and section. The letterhead, signature and other frame lines are not nodes.

    A document's id is its ``metadata["doc"]``, else the stem of ``metadata["file_name"]``
    / ``metadata["file_path"]`` (what ``SimpleDirectoryReader`` sets), else its ``doc_id``;
    its title is ``metadata["title"]`` when given, else the one the chunker recognises.

What it does not do
    It is not on the ``ask`` path: importing ``llama_index.core`` costs ~1.4 s, so only this
    module imports it, and nothing the CLI or server loads at start-up imports this module.
    It does not read files (use ``SimpleDirectoryReader`` or ``index.loaders``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Sequence

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship, TextNode

from policy_assistant.index.chunking import split_document
from policy_assistant.index.cleaning import clean_text, finish_metadata

__all__ = ["ItemNodeParser"]

_EMBEDDED = ("title", "headings")
_FOR_LLM = ("title", "item", "section")


class ItemNodeParser(NodeParser):
    """One node per citable item (article 第N条, or the innermost numbered unit with text)."""

    @classmethod
    def class_name(cls) -> str:
        return "ItemNodeParser"

    def _parse_nodes(self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any) -> List[BaseNode]:
        out: List[BaseNode] = []
        for node in nodes:
            out.extend(self._items_of(node))
        return out

    def _items_of(self, node: BaseNode) -> List[TextNode]:
        meta = dict(node.metadata or {})
        named = meta.get("file_name") or meta.get("file_path") or ""
        doc = str(meta.get("doc") or (Path(named).stem if named else "") or node.node_id)
        document = clean_text(node.get_content(metadata_mode=MetadataMode.NONE), doc=doc,
                              source=str(meta.get("file_path") or meta.get("source") or named or doc))
        finish_metadata(document, title=str(meta.get("title") or ""))
        nodes = []
        for item in split_document(document).items:
            metadata = {"doc": item.doc, "item": item.item, "path": list(item.path), "section": item.section,
                        "headings": " / ".join(item.headings), "title": item.title, "year": item.year or 0,
                        "office": item.office, "date": item.date}
            text_node = TextNode(
                id_=item.key, text=item.text, metadata=metadata,
                excluded_embed_metadata_keys=[k for k in metadata if k not in _EMBEDDED],
                excluded_llm_metadata_keys=[k for k in metadata if k not in _FOR_LLM])
            text_node.relationships[NodeRelationship.SOURCE] = node.as_related_node_info()
            nodes.append(text_node)
        return nodes
