"""One document as the index holds it: the record behind ``policy-assistant index show DOC``.

Reads the live generation through the store (the manifest for the document's metadata,
set-aside frame lines and warnings; the item records for its items). It never re-reads
or re-parses the source file, so what it shows is what answers are drawn from.
"""
from __future__ import annotations

from policy_assistant.core.errors import BadInput, IndexUnusable
from policy_assistant.core.settings import Settings
from policy_assistant.index.store import ItemStore


def show_document(settings: Settings, doc: str, store: ItemStore | None = None) -> dict:
    """{"doc","title","metadata","set_aside","attachments","items":[{"item","path","section","text"}],"warnings"}."""
    store = store or ItemStore(settings)
    state = store.state()
    if state is None:
        raise IndexUnusable(f"no index at {store.describe()}; build one with `policy-assistant index build`")
    found = [(source, entry) for source, entry in state.manifest.items() if entry.get("doc") == doc]
    if not found:
        raise BadInput(f"no document {doc!r} in the index; `policy-assistant index list` shows the ids")
    source, entry = found[0]
    items = store.items_of(state.collection, doc)
    attachments = list(dict.fromkeys(it.path[0] for it in items if it.path and it.path[0].startswith("附件")))
    return {
        "doc": doc, "title": entry.get("title", ""), "source": items[0].source if items else source,
        "metadata": entry.get("metadata", {}), "set_aside": entry.get("set_aside", []),
        "attachments": attachments,
        "items": [{"item": it.item, "path": list(it.path), "section": it.section, "text": it.text} for it in items],
        "warnings": entry.get("warnings", []),
    }
