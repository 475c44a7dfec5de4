"""Load one policy file (.txt .md .html .htm .docx .pdf) into a cleaned ``Document``.

``load_document(path)`` reads the file, turns it into plain text with one paragraph
(or wrapped-line-joined PDF paragraph) per line, and hands that to
``index.cleaning.clean_text`` for the shared chrome removal and metadata.

- .txt/.md: UTF-8 (BOM or not) or GB18030/GBK/Big5, detected with charset-normalizer
  (a strict UTF-8 decode is tried first; among equally clean detections the Chinese
  encodings win, since short GBK texts are otherwise misread); binary content is
  refused.
- .html/.htm: charset from ``<meta>`` (else detection). trafilatura locates the main
  text; the text itself is then taken from the smallest page region that holds
  trafilatura's text, with nav/header/footer/script/style and chrome-classed blocks
  removed, because trafilatura alone sometimes drops section headings ("一、…"),
  tables or whole blocks and prefixes list items with "- ". If numbered lines of
  the page are still missing, the region grows until they are in. Title: the
  page's ``<h1>``, else ``<meta name="ArticleTitle">``, else the detected title
  line; office/date also from the info bar or ``PubDate``/``ContentSource`` metas.
- .docx: python-docx; paragraphs and tables in document order, Word automatic
  list numbering ("1." "一、" "（一）" "第一条") rendered in front of its
  paragraph; a table row becomes one line (cells joined by a tab), a one-cell
  layout table contributes its paragraphs as lines.
- .pdf: pypdf; page numbers ("- 3 -", "第 3 页", "3/12", bare numbers at the top
  or bottom of a page) and running headers/footers (a line repeating at the
  edge of most pages) are removed, then a line that fills the text width and
  does not end a sentence (。！？；：” …) is joined with the next line unless that
  one opens a new numbered unit ("13." "（二）" "第五条" "一、").

Every unusable file raises ``BadInput`` with a one-line message naming the file
(unsupported suffix, missing, a directory, unreadable, empty, binary, undecodable,
corrupt, no text, PDF without a text layer). This module does not chunk, embed,
OCR scanned PDFs, read legacy .doc files, or fetch URLs.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from pathlib import Path

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Document
from policy_assistant.index.cleaning import clean_text, finish_metadata, is_chrome_line, looks_like_title, looks_numbered

__all__ = ["SUPPORTED_SUFFIXES", "load_document", "clean_text"]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".html", ".htm", ".docx", ".pdf"})

_MAX_BYTES = 200 * 1024 * 1024


def load_document(path: Path) -> Document:
    """Read, extract and clean one policy file; ``BadInput`` naming the file if it is unusable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".doc":
        raise BadInput(f"{path}: old binary Word .doc files are not supported; save it as .docx")
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "no suffix"
        raise BadInput(f"{path}: unsupported file type ({shown}); supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
    data = _read_bytes(path)
    if suffix in (".txt", ".md"):
        document = clean_text(_decode_text(path, data), doc=path.stem, source=str(path))
    elif suffix in (".html", ".htm"):
        document = _load_html(path, data)
    elif suffix == ".docx":
        document = clean_text(_docx_text(path, data), doc=path.stem, source=str(path))
    else:
        document = _load_pdf(path, data)
    if not document.text.strip():
        raise BadInput(f"{path}: no document text left after removing page chrome")
    return document


# --------------------------------------------------------------------------- common

def _fail(path: Path, reason: object) -> BadInput:
    return BadInput(f"{path}: {' '.join(str(reason).split())}")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise _fail(path, "is a directory, not a file")
        if not path.exists():
            raise _fail(path, "no such file")
        if path.stat().st_size > _MAX_BYTES:
            raise _fail(path, f"file is larger than {_MAX_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except PermissionError:
        raise _fail(path, "cannot read the file (permission denied)") from None
    except OSError as exc:
        raise _fail(path, f"cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise _fail(path, "empty file (0 bytes)")
    return data


@contextlib.contextmanager
def _quiet(*loggers: str):
    """Silence library warnings (they would print stray lines to stderr)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _bad_char_share(text: str) -> float:
    """Share of characters that never occur in real text: controls, private use, U+FFFD."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text
              if (unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / len(text)


# --------------------------------------------------------------------------- text

_BOMS = [(b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")]
_PREFERRED = ("gb18030", "big5", "big5hkscs", "utf_8")   # among equally clean detections


def _decode_text(path: Path, data: bytes) -> str:
    text = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise _fail(path, f"cannot decode the text (starts with a {encoding} byte-order mark but is not {encoding})") from None
            break
    if text is None:
        if b"\x00" in data:
            raise _fail(path, "binary content, not a text file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _detect(data)
            if text is None:
                raise _fail(path, "cannot decode the text (not UTF-8, GB18030/GBK or another known encoding)") from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise _fail(path, "no text (only white space)")
    if _bad_char_share(text) > 0.01:
        raise _fail(path, "binary content, not a text file")
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


# --------------------------------------------------------------------------- html

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_GB_ALIASES = {"gb2312", "gbk", "gb_2312", "gb-2312", "x-gbk", "gb18030", "cp936", "euc-cn", "hz-gb-2312"}

_DROP_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
              "iframe", "object", "embed", "svg", "canvas", "button", "select", "textarea", "input", "head", "title")
_CHROME_WORDS = {"nav", "navbar", "menu", "submenu", "footer", "foot", "header", "topbar", "breadcrumb", "breadcrumbs",
                 "crumb", "crumbs", "location", "position", "weizhi", "dqwz", "sidebar", "side", "aside",
                 "share", "bdshare", "related", "relate", "xglj", "links", "friendlink", "copyright", "banquan",
                 "print", "tools", "toolbar", "pagination", "pager", "prevnext", "search", "login", "banner", "ad", "ads"}
_BLOCK_TAGS = {"address", "article", "blockquote", "body", "caption", "center", "dd", "div", "dl", "dt",
               "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "html", "li", "main", "ol",
               "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul", "details", "summary"}
_WS = re.compile(r"[ \t\n\r\f]+")


def _decode_html(path: Path, data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").lstrip("\ufeff")
    m = _META_CHARSET.search(data[:8192])
    if m:
        name = m.group(1).decode("ascii", "ignore").lower()
        encoding = "gb18030" if name in _GB_ALIASES else name
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            pass                     # a wrong <meta>: detect instead
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = _detect(data)
    if text is None:
        raise _fail(path, "cannot decode the page (unknown character encoding)")
    return text


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _classes(el) -> set[str]:
    words = f"{el.get('class', '')} {el.get('id', '')}".lower()
    return {part for token in words.split() for part in re.split(r"[-_]", token) if part}


def _strip_chrome(root) -> None:
    """Remove navigation, scripts, footers and chrome-classed blocks (never a block holding most text)."""
    from lxml import etree

    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    total = max(1, len(_norm(root.text_content())))
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        tag = el.tag.lower()
        chrome = tag in _DROP_TAGS or bool(_classes(el) & _CHROME_WORDS)
        if not chrome:
            continue
        if tag not in ("script", "style", "noscript", "template", "head", "title") \
                and len(_norm(el.text_content())) > 0.5 * total:
            continue                 # a "header"/"print" class on the article itself
        el.drop_tree()


def _region_text(el) -> str:
    """Text of an element with the page's line structure: one block or <br> per line, cells tab-joined."""
    from lxml import etree

    out: list[str] = []
    pre = 0
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if event == "start":
            if tag == "br":
                out.append("\n")
            elif tag in _BLOCK_TAGS:
                out.append("\n")
            elif tag in ("td", "th"):
                out.append("\t")
            if tag == "pre":
                pre += 1
            if node.text and tag:
                out.append(node.text if pre else _WS.sub(" ", node.text))
        else:
            if tag in _BLOCK_TAGS:
                out.append("\n")
            if tag == "pre":
                pre -= 1
            if node.tail and node is not el:
                out.append(node.tail if pre else _WS.sub(" ", node.tail))
    lines = [re.sub(r"[ ]*\t[ \t]*", "\t", line).strip(" \t") for line in "".join(out).split("\n")]
    return "\n".join(line for line in lines if line.strip())


def _traf_lines(traf: str) -> list[str]:
    lines = []
    for line in traf.splitlines():
        line = line.strip()
        if not line or line.startswith("|"):
            continue
        lines.append(_norm(re.sub(r"^[-*•]\s+", "", line)))
    return [x for x in lines if x]


def _locate_region(body, traf: str):
    """The deepest element whose text holds >= 90 % of trafilatura's text, or None."""
    lines = _traf_lines(traf)
    total = sum(len(x) for x in lines)
    if not total:
        return None
    best, best_depth = None, -1
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        text = _norm(el.text_content())
        if len(text) < 0.9 * total:
            continue
        covered = sum(len(x) for x in lines if x in text)
        if covered >= 0.9 * total:
            depth = sum(1 for _ in el.iterancestors())
            if depth > best_depth:
                best, best_depth = el, depth
    return best


def _label(line: str) -> str:
    m = re.match(r"^\s*(\S{1,8}?)[、.．)）]", line)
    return m.group(1) if m else line[:4]


def _missing_numbered(page_lines: list[str], region_text: str) -> list[str]:
    """Numbered lines of the page that are not in the region and do not repeat one of its labels."""
    region_norm = _norm(region_text)
    region_labels = {_label(x) for x in region_text.splitlines() if looks_numbered(x)}
    return [x for x in page_lines
            if looks_numbered(x) and len(x) >= 6 and _norm(x) not in region_norm and _label(x) not in region_labels]


def _h1_title(root) -> str:
    for el in root.iter("h1", "H1"):
        if any(isinstance(a.tag, str) and (a.tag.lower() in ("header", "nav", "footer") or _classes(a) & {"logo"})
               for a in [el, *el.iterancestors()]):
            continue
        text = " ".join(el.text_content().split())
        if 2 <= len(text) <= 120:
            return text
    return ""


def _meta(root, name: str) -> str:
    for el in root.iter("meta"):
        if (el.get("name") or "").lower() == name.lower() and (el.get("content") or "").strip():
            return " ".join(el.get("content").split())
    return ""


def _load_html(path: Path, data: bytes) -> Document:
    import lxml.html

    html = _XML_DECL.sub("", _decode_html(path, data))
    if _bad_char_share(html) > 0.01:
        raise _fail(path, "binary content, not an HTML page")
    try:
        root = lxml.html.document_fromstring(html)
    except Exception as exc:  # lxml raises ParserError/ValueError on empty or broken input
        raise _fail(path, f"cannot parse the HTML ({exc})") from None

    meta_title, meta_date = _meta(root, "ArticleTitle"), _meta(root, "PubDate")
    meta_office = _meta(root, "ContentSource")
    h1 = _h1_title(root)
    import trafilatura

    try:
        with _quiet("trafilatura", "htmldate", "courlan"):
            traf = trafilatura.extract(html, favor_recall=True, include_tables=True, include_comments=False,
                                       include_images=False, include_links=False, deduplicate=False) or ""
    except Exception:                # trafilatura failing on an odd page: the body-text fallback still works
        traf = ""

    body = root.find("body")
    if body is None:
        body = root
    _strip_chrome(body)
    page_text = _region_text(body)
    page = clean_text(page_text, doc=path.stem, source=str(path))
    region = _locate_region(body, traf) if traf else None
    if region is not None:
        text = _region_text(region)
        while _missing_numbered(page.text.splitlines(), text) and region is not body and region.getparent() is not None:
            region = region.getparent()
            text = _region_text(region)
    else:
        text = page_text

    title = h1 or meta_title or page.title
    if title and title not in {line.strip() for line in text.splitlines()}:
        text = f"{title}\n{text}"
    document = clean_text(text, doc=path.stem, source=str(path))
    return finish_metadata(document, title=title or document.title,
                           office=page.office or meta_office, date=page.date or meta_date)


# --------------------------------------------------------------------------- docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_ZH_DIGITS = "零一二三四五六七八九"


def _zh_number(n: int) -> str:
    if n <= 0:
        return str(n)
    if n < 10:
        return _ZH_DIGITS[n]
    if n < 20:
        return "十" + (_ZH_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _ZH_DIGITS[n // 10] + "十" + (_ZH_DIGITS[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if not rest else ("零" + _zh_number(rest) if rest < 10 else
                                    ("一" + _zh_number(rest) if rest < 20 else _zh_number(rest)))
        return _ZH_DIGITS[n // 100] + "百" + tail
    return str(n)


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
        return _zh_number(n)
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


def _docx_text(path: Path, data: bytes) -> str:
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise _fail(path, "an old binary Word .doc file, not .docx; save it as .docx first")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _fail(path, "not a Word .docx file (not a zip package)")
    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # PackageNotFoundError, KeyError, BadZipFile, XML errors
        raise _fail(path, f"not a readable Word .docx file ({type(exc).__name__}: {exc})") from None
    numbering = _Numbering(document)
    lines: list[str] = []
    try:
        _docx_blocks(document, numbering, lines)
    except Exception as exc:  # malformed XML inside a valid package
        raise _fail(path, f"cannot read the Word content ({type(exc).__name__}: {exc})") from None
    if not any(line.strip() for line in lines):
        raise _fail(path, "the Word file has no text")
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


# --------------------------------------------------------------------------- pdf

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
    """Remove page numbers and running headers/footers from pages of stripped lines.

    Only the first and last ``_EDGE`` lines of a page are candidates. A line is a
    running header/footer when (digits aside) it sits at the edge of more than half
    of the pages (at least two). Returns the pages and the removed lines.
    """
    n = len(pages)
    seen: Counter[str] = Counter()
    for lines in pages:
        edge = lines[:_EDGE] + lines[-_EDGE:] if len(lines) > 2 * _EDGE else lines
        seen.update({_edge_key(x) for x in edge if len(x) <= _MAX_RUNNING})
    need = max(2, n // 2 + 1)
    repeated = {k for k, c in seen.items() if c >= need and n >= 2}
    out, removed = [], []
    for page_index, lines in enumerate(pages):
        drop: set[int] = set()
        edge_idx = list(range(min(_EDGE, len(lines)))) + list(range(max(_EDGE, len(lines) - _EDGE), len(lines)))
        used: set[str] = set()
        for i in edge_idx:
            key = _edge_key(lines[i])
            if _PAGE_NUMBER.match(lines[i]):
                drop.add(i)
            elif key in repeated and key not in used:
                if page_index == 0 and looks_like_title(lines[i]):
                    continue        # the document title that is also the running header of later pages
                used.add(key)
                drop.add(i)
        removed.extend(lines[i] for i in sorted(drop))
        out.append([x for i, x in enumerate(lines) if i not in drop])
    return out, removed


def join_wrapped_lines(lines: list[str]) -> list[str]:
    """Join a line that fills the text width and does not end a sentence with the next one,
    unless the next line opens a numbered unit or is page chrome."""
    widths = sorted(_width(x) for x in lines if x)
    if not widths:
        return []
    full = widths[int(0.9 * (len(widths) - 1))]
    out: list[str] = []
    last = ""                        # the previous physical line
    for line in lines:
        if not line:
            continue
        if out:
            prev = out[-1]
            wrapped = (_width(last) >= 0.8 * full and not last.endswith(_SENTENCE_END)
                       and not looks_numbered(line) and not is_chrome_line(line) and not is_chrome_line(last))
            if wrapped:
                sep = " " if prev[-1].isascii() and prev[-1].isalpha() and line[0].isascii() and line[0].isalpha() else ""
                out[-1] = prev + sep + line
                last = line
                continue
        out.append(line)
        last = line
    return out


def _load_pdf(path: Path, data: bytes) -> Document:
    if b"%PDF" not in data[:1024]:
        raise _fail(path, "not a PDF file (no %PDF header)")
    try:
        import pypdf

        with _quiet("pypdf"):
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        raise _fail(path, "the PDF is password-protected")
                except BadInput:
                    raise
                except Exception:
                    raise _fail(path, "the PDF is encrypted and cannot be opened") from None
            raw_pages = [page.extract_text() or "" for page in reader.pages]
    except BadInput:
        raise
    except Exception as exc:  # PdfReadError, PdfStreamError, struct/zlib/Key errors on broken files
        raise _fail(path, f"corrupt or unreadable PDF ({type(exc).__name__}: {exc})") from None
    if not raw_pages:
        raise _fail(path, "corrupt PDF (no pages)")
    if not any(p.strip() for p in raw_pages):
        raise _fail(path, "the PDF has no text layer; OCR it first")
    joined = "".join(raw_pages)
    if _bad_char_share(joined) > 0.05:
        raise _fail(path, "the PDF text layer is unreadable (fonts without a Unicode map); OCR it first")
    pages = [[line.strip(" \t\u3000\xa0") for line in p.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
             for p in raw_pages]
    pages = [[x for x in p if x] for p in pages]
    pages, furniture = strip_page_furniture(pages)
    lines = join_wrapped_lines([x for p in pages for x in p])
    document = clean_text("\n".join(lines), doc=path.stem, source=str(path))
    document.dropped = furniture + document.dropped
    return document
