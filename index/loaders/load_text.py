"""Plain text and markdown files: decode the bytes, nothing else.

UTF-8 (BOM or not) or GB18030/GBK/Big5, detected with charset-normalizer (a strict
UTF-8 decode is tried first; among equally clean detections the Chinese encodings win,
since short GBK texts are otherwise misread); binary content is refused. The text is
handed over as it is: markdown headings and all (the chunker reads "## 第一章").
"""
from __future__ import annotations

from pathlib import Path

from policy_assistant.core.model import Document
from policy_assistant.index.cleaning import clean_text
from policy_assistant.index.loaders.common import _BOMS, bad_char_share, fail


_PREFERRED = ("gb18030", "big5", "big5hkscs", "utf_8")   # among equally clean detections


def decode_text(path: Path, data: bytes) -> str:
    text = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise fail(path, f"cannot decode the text (starts with a {encoding} byte-order mark but is not {encoding})") from None
            break
    if text is None:
        if b"\x00" in data:
            raise fail(path, "binary content, not a text file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _detect(data)
            if text is None:
                raise fail(path, "cannot decode the text (not UTF-8, GB18030/GBK or another known encoding)") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise fail(path, "no text (only white space)")
    if bad_char_share(text) > 0.01:
        raise fail(path, "binary content, not a text file")
    return text


def _detect(data: bytes) -> str | None:
    """Decode with charset-normalizer; prefer the Chinese encodings among the least chaotic matches."""
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    if not matches:
        return None
    best_chaos = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= best_chaos + 1e-9]
    rank = {name: i for i, name in enumerate(_PREFERRED)}
    chosen = min(clean, key=lambda m: rank.get(m.encoding, len(rank)))
    try:
        return data.decode(chosen.encoding)
    except (UnicodeDecodeError, LookupError):
        return str(chosen)


def source_text(path: Path, data: bytes) -> str:
    """The file's text as decoded: what a quote from it must be found in."""
    return decode_text(path, data)


def load(path: Path, data: bytes) -> Document:
    return clean_text(decode_text(path, data), doc=path.stem, source=str(path))
