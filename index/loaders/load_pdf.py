"""PDF files: the text layer, without page furniture, wrapped lines joined.

pypdf extracts each page; page numbers ("- 3 -", "第 3 页", "3/12", bare numbers at the
top or bottom of a page) and running headers/footers (a line repeating at the edge of
most pages) are removed, then a line that fills the text width and does not end a
sentence (。！？；：” …) is joined with the next line unless that one opens a new
numbered unit ("13." "（二）" "第五条" "第一章" "一、"). No OCR: a PDF without a text
layer is refused.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from pathlib import Path

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Document
from policy_assistant.index.cleaning import clean_text, is_chrome_line, looks_like_title, looks_numbered
from policy_assistant.index.loaders.common import bad_char_share, fail, quiet


_PAGE_NUMBER = re.compile(
    r"^(?:[-－—–~·\s]*\d{1,4}[-－—–~·\s]*"                             # 3   - 3 -   — 3 —
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/／]?\s*共\s*\d{1,4}\s*页)?"          # 第 3 页  第3页 共12页
    r"|共\s*\d{1,4}\s*页\s*[,，]?\s*第\s*\d{1,4}\s*页"                  # 共12页 第3页
    r"|\d{1,4}\s*[/／]\s*\d{1,4}"                                      # 3/12
    r"|(?:page|p\.)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)$", re.I)       # Page 3 of 12
_EDGE = 3
_MAX_RUNNING = 50                    # running headers/footers are short; long edge lines are body text
_SENTENCE_END = tuple("。！？；：!?;:”’」』…") + ("……",)


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def strip_page_furniture(pages: list[list[str]]) -> tuple[list[list[str]], list[str]]:
    """Remove page numbers and running headers/footers from pages of lines.

    Only the first and last ``_EDGE`` lines of a page are candidates. A line is a
    running header/footer when (digits and spaces aside) it sits at the edge of more
    than half of the pages (at least two). Returns the pages (their lines as given,
    indentation kept) and the removed lines.
    """
    n = len(pages)
    bare_pages = [[x.strip(" \t\u3000\xa0") for x in lines] for lines in pages]
    seen: Counter[str] = Counter()
    for lines in bare_pages:
        edge = lines[:_EDGE] + lines[-_EDGE:] if len(lines) > 2 * _EDGE else lines
        seen.update({_edge_key(x) for x in edge if len(x) <= _MAX_RUNNING})
    need = max(2, n // 2 + 1)
    repeated = {k for k, c in seen.items() if c >= need and n >= 2}
    out, removed = [], []
    for page_index, (lines, bare) in enumerate(zip(pages, bare_pages)):
        drop: set[int] = set()
        edge_idx = list(range(min(_EDGE, len(lines)))) + list(range(max(_EDGE, len(lines) - _EDGE), len(lines)))
        used: set[str] = set()
        for i in edge_idx:
            key = _edge_key(bare[i])
            if _PAGE_NUMBER.match(bare[i]):
                drop.add(i)
            elif key in repeated and key not in used:
                if page_index == 0 and looks_like_title(bare[i]):
                    continue        # the document title that is also the running header of later pages
                used.add(key)
                drop.add(i)
        removed.extend(bare[i] for i in sorted(drop))
        out.append([x for i, x in enumerate(lines) if i not in drop])
    return out, removed


_INDENT = ("\u3000", "  ", "\t", "\xa0")
_PAD = " \t\u3000\xa0"


def join_wrapped_lines(lines: list[str]) -> list[str]:
    """Join a line that fills the text width and does not end a sentence with the next one,
    unless the next line opens a numbered unit or is page chrome.

    Where the text layer keeps paragraph indentation ("　　" at the start of a paragraph, as
    GB/T 9704 documents are set; at least a fifth of the lines), a line that is not indented
    continues the line above when that one fills the width, even if it ends with "。": the
    sentence end merely fell on the margin.
    """
    indented = [line.startswith(_INDENT) for line in lines]
    lines = [line.strip(_PAD) for line in lines]
    widths = sorted(_width(x) for x in lines if x)
    if not widths:
        return []
    full = widths[int(0.9 * (len(widths) - 1))]
    uses_indent = sum(indented) >= 0.2 * len(widths)
    out: list[str] = []
    last = ""                        # the previous physical line
    for line, indent in zip(lines, indented):
        if not line:
            continue
        if out:
            prev = out[-1]
            if uses_indent:
                filled = not indent and _width(last) >= 0.95 * full
            else:
                filled = _width(last) >= 0.8 * full and not last.endswith(_SENTENCE_END)
            wrapped = (filled and not looks_numbered(line) and not is_chrome_line(line) and not is_chrome_line(last))
            if wrapped:
                sep = " " if prev[-1].isascii() and prev[-1].isalpha() and line[0].isascii() and line[0].isalpha() else ""
                out[-1] = prev + sep + line
                last = line
                continue
        out.append(line)
        last = line
    return out


def load_pdf(path: Path, data: bytes) -> Document:
    pages, furniture = _pages(path, data)
    lines = join_wrapped_lines([x for p in pages for x in p])
    document = clean_text("\n".join(lines), doc=path.stem, source=str(path))
    document.dropped = furniture + document.dropped
    return document


def _pages(path: Path, data: bytes) -> tuple[list[list[str]], list[str]]:
    """The pages' stripped lines without page numbers and running headers, and what was removed."""
    if b"%PDF" not in data[:1024]:
        raise fail(path, "not a PDF file (no %PDF header)")
    try:
        import pypdf

        with quiet("pypdf"):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        raise fail(path, "the PDF is password-protected")
                except BadInput:
                    raise
                except Exception:
                    raise fail(path, "the PDF is encrypted and cannot be opened") from None
            raw_pages = [page.extract_text() or "" for page in reader.pages]
    except BadInput:
        raise
    except Exception as exc:  # PdfReadError, PdfStreamError, struct/zlib/Key errors on broken files
        raise fail(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    if not raw_pages:
        raise fail(path, "corrupt PDF (no pages)")
    if not any(p.strip() for p in raw_pages):
        raise fail(path, "the PDF has no text layer; OCR it first")
    joined = "".join(raw_pages)
    if bad_char_share(joined) > 0.05:
        raise fail(path, "the PDF text layer is unreadable (fonts without a Unicode map); OCR it first")
    pages = [[line.rstrip(_PAD) for line in p.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
             for p in raw_pages]
    pages = [[x for x in p if x.strip(_PAD)] for p in pages]   # the indentation stays: it marks paragraphs
    return strip_page_furniture(pages)


def source_text(path: Path, data: bytes) -> str:
    """The text layer line by line, page numbers and running headers removed (not document text)."""
    pages, _ = _pages(path, data)
    return "\n".join(x.strip(_PAD) for p in pages for x in p)


load = load_pdf
