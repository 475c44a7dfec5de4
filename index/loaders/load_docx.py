"""Word files (.docx): paragraphs and tables in document order, with Word's own numbering.

python-docx reads the paragraphs; Word automatic list numbering ("1." "一、" "（一）"
"第一条"), which python-docx leaves out of ``text``, is rendered in front of its
paragraph; a table row becomes one line (cells joined by a tab, in source order, merged
cells once), a one-cell layout table contributes its paragraphs as lines. Legacy binary
.doc files are refused with a hint.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from policy_assistant.core.model import Document
from policy_assistant.core.numerals import int_to_cn
from policy_assistant.index.cleaning import clean_text
from policy_assistant.index.loaders.common import fail


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _roman(n: int) -> str:
    out = ""
    for value, sym in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                       (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + sym, n - value
    return out


def _letters(n: int) -> str:
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting", "taiwaneseCounting",
               "koreanCounting", "chineseLegalSimplified"):
        return int_to_cn(n)
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(n))
    if fmt == "decimalFullWidth" or fmt == "decimalFullWidth2":
        return "".join(chr(0xFF10 + int(d)) for d in str(n))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return "甲乙丙丁戊己庚辛壬癸"[n - 1]
    if fmt == "upperLetter":
        return _letters(n)
    if fmt == "lowerLetter":
        return _letters(n).lower()
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


class _Numbering:
    """Renders Word's automatic list numbers ("1." "一、" "（一）"), which python-docx leaves out of ``text``."""

    def __init__(self, document):
        self.levels: dict[str, dict[int, dict]] = {}
        self.counters: dict[str, dict[int, int]] = {}
        try:
            root = document.part.numbering_part.element
        except (NotImplementedError, KeyError, AttributeError):
            root = None
        abstract: dict[str, dict[int, dict]] = {}
        if root is None:
            return
        for ab in root.iter(f"{_W}abstractNum"):
            abstract[ab.get(f"{_W}abstractNumId")] = {
                int(lvl.get(f"{_W}ilvl", "0")): self._level(lvl) for lvl in ab.iter(f"{_W}lvl")}
        for num in root.iter(f"{_W}num"):
            ref = num.find(f"{_W}abstractNumId")
            levels = {k: dict(v) for k, v in abstract.get(ref.get(f"{_W}val") if ref is not None else "", {}).items()}
            for override in num.iter(f"{_W}lvlOverride"):
                ilvl = int(override.get(f"{_W}ilvl", "0"))
                start = override.find(f"{_W}startOverride")
                if start is not None and ilvl in levels:
                    levels[ilvl]["start"] = int(start.get(f"{_W}val", "1"))
                lvl = override.find(f"{_W}lvl")
                if lvl is not None:
                    levels[ilvl] = self._level(lvl)
            self.levels[num.get(f"{_W}numId")] = levels

    @staticmethod
    def _level(lvl) -> dict:
        def val(tag: str, default: str) -> str:
            el = lvl.find(f"{_W}{tag}")
            return el.get(f"{_W}val", default) if el is not None else default
        return {"fmt": val("numFmt", "decimal"), "text": val("lvlText", ""), "start": int(val("start", "1") or 1),
                "suff": val("suff", "tab")}

    @staticmethod
    def _num_pr(paragraph):
        ppr = paragraph._p.pPr
        num_pr = ppr.find(f"{_W}numPr") if ppr is not None else None
        style = paragraph.style if num_pr is None else None
        while num_pr is None and style is not None:
            sppr = style.element.find(f"{_W}pPr")
            num_pr = sppr.find(f"{_W}numPr") if sppr is not None else None
            style = style.base_style
        if num_pr is None:
            return None
        num_id = num_pr.find(f"{_W}numId")
        ilvl = num_pr.find(f"{_W}ilvl")
        return (num_id.get(f"{_W}val") if num_id is not None else None,
                int(ilvl.get(f"{_W}val", "0")) if ilvl is not None else 0)

    def prefix(self, paragraph) -> str:
        try:
            found = self._num_pr(paragraph)
        except (AttributeError, ValueError, KeyError):
            return ""
        if not found or not found[0] or found[0] == "0" or found[0] not in self.levels:
            return ""
        num_id, ilvl = found
        levels = self.levels[num_id]
        level = levels.get(ilvl)
        if level is None or level["fmt"] in ("bullet", "none") or not level["text"]:
            return ""
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, level["start"] - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]

        def render(m: re.Match) -> str:
            k = int(m.group(1)) - 1
            lv = levels.get(k, level)
            return _format_number(counters.get(k, lv["start"]), lv["fmt"])
        label = re.sub(r"%(\d)", render, level["text"])
        if level["suff"] == "space":
            return label + " "
        if level["suff"] == "nothing" or re.search(r"[.．、)）:：]$", label):
            return label
        return label + " "


def docx_text(path: Path, data: bytes) -> str:
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise fail(path, "an old binary Word .doc file, not .docx; save it as .docx first")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise fail(path, "not a Word .docx file (not a zip package)")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # PackageNotFoundError, KeyError, BadZipFile, XML errors
        raise fail(path, f"not a readable Word .docx file ({type(exc).__name__}: {exc})") from None
    numbering = _Numbering(document)
    lines: list[str] = []
    try:
        _docx_blocks(document, numbering, lines)
    except Exception as exc:  # malformed XML inside a valid package
        raise fail(path, f"cannot read the Word content ({type(exc).__name__}: {exc})") from None
    if not any(line.strip() for line in lines):
        raise fail(path, "the Word file has no text")
    return "\n".join(lines)


def _docx_blocks(container, numbering: _Numbering, lines: list[str]) -> None:
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) in seen:     # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    inner: list[str] = []
                    _docx_blocks(cell, numbering, inner)
                    cells.append([x for x in inner if x.strip()])
                cells = [c for c in cells if c]
                if len(cells) == 1:
                    lines.extend(cells[0])       # a layout table: keep its paragraphs as lines
                elif cells:
                    lines.append("\t".join(" ".join(c) for c in cells))
        else:
            text = block.text
            if text.strip():
                lines.append(numbering.prefix(block) + text)
            lines.append("")


def source_text(path: Path, data: bytes) -> str:
    """The Word file's text as rendered above (numbering included), one paragraph or row per line."""
    return docx_text(path, data)


def load(path: Path, data: bytes) -> Document:
    return clean_text(docx_text(path, data), doc=path.stem, source=str(path))
