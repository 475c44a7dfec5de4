"""Load one policy file (.txt .md .html .htm .docx .pdf) into a cleaned ``Document``.

``load_document(path)`` reads the file, lets the loader of its format turn it into
plain text with one paragraph per line (``load_text``, ``load_html``, ``load_docx``,
``load_pdf``: each module's docstring says how), and hands that to
``index.cleaning.clean_text`` for the shared chrome removal and metadata.
``source_text(path)`` is the file's own text as its format gives it, before any line is
dropped or joined: what a verbatim quote must be found in (the eval's ``verbatim``).

Every unusable file raises ``BadInput`` with a one-line message naming the file
(unsupported suffix, missing, a directory, unreadable, empty, binary, undecodable,
corrupt, no text, PDF without a text layer). This package does not chunk, embed,
OCR scanned PDFs, read legacy .doc files, or fetch URLs.
"""
from __future__ import annotations

from pathlib import Path

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Document
from policy_assistant.index.cleaning import clean_text  # noqa: F401 - re-exported
from policy_assistant.index.loaders import load_docx, load_html, load_pdf, load_text
from policy_assistant.index.loaders.common import read_bytes
from policy_assistant.index.loaders.load_pdf import join_wrapped_lines, strip_page_furniture

__all__ = ["SUPPORTED_SUFFIXES", "load_document", "source_text", "clean_text", "join_wrapped_lines",
           "strip_page_furniture"]

_FORMATS = {".txt": load_text, ".md": load_text, ".html": load_html, ".htm": load_html,
            ".docx": load_docx, ".pdf": load_pdf}     # each: load(path, data), source_text(path, data)
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)


def _checked_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".doc":
        raise BadInput(f"{path}: old binary Word .doc files are not supported; save it as .docx")
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "no suffix"
        raise BadInput(f"{path}: unsupported file type ({shown}); supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    return suffix


def load_document(path: Path) -> Document:
    """Read, extract and clean one policy file; ``BadInput`` naming the file if it is unusable."""
    path = Path(path)
    fmt = _FORMATS[_checked_suffix(path)]
    document = fmt.load(path, read_bytes(path))
    if not document.text.strip():
        raise BadInput(f"{path}: no document text left after removing page chrome")
    return document


def source_text(path: Path) -> str:
    """The file's own text (see the package docstring); ``BadInput`` if it cannot be read."""
    path = Path(path)
    fmt = _FORMATS[_checked_suffix(path)]
    return fmt.source_text(path, read_bytes(path))
