"""Saved web pages (.html/.htm): the policy text without the site around it.

The charset comes from ``<meta>`` (else detection). trafilatura locates the main text;
the text itself is then taken from the smallest page region that holds trafilatura's
text, with nav/header/footer/script/style and chrome-classed blocks removed, because
trafilatura alone sometimes drops section headings ("一、…"), tables or whole blocks and
prefixes list items with "- ". If numbered lines of the page are still missing, the
region grows until they are in. Every block element (one ``<p>`` per paragraph) and
``<br>`` is a line, a table row one line with its cells tab-joined in source order.
Title: the page's ``<h1>``, else ``<meta name="ArticleTitle">``, else the detected
title line; office/date also from the info bar or ``PubDate``/``ContentSource`` metas.
"""
from __future__ import annotations

import re
from pathlib import Path

from policy_assistant.core.model import Document
from policy_assistant.index.cleaning import clean_text, finish_metadata, looks_numbered
from policy_assistant.index.loaders.common import _BOMS, bad_char_share, fail, quiet
from policy_assistant.index.loaders.load_text import _detect


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
        raise fail(path, "cannot decode the page (unknown character encoding)")
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
    """Text of an element with the page's line structure: one block or <br> per line; a table row
    one line with its cells tab-joined in source order (blocks inside a cell stay in the cell)."""
    from lxml import etree

    out: list[str] = []
    pre = 0
    cell = 0                             # inside <td>/<th>: paragraphs there do not break the row
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if event == "start":
            if tag == "br":
                out.append(" " if cell else "\n")
            elif tag in ("td", "th"):
                out.append("\t")
                cell += 1
            elif tag in _BLOCK_TAGS:
                out.append(" " if cell else "\n")
            if tag == "pre":
                pre += 1
            if node.text and tag:
                out.append(node.text if pre else _WS.sub(" ", node.text))
        else:
            if tag in ("td", "th"):
                cell -= 1
            elif tag in _BLOCK_TAGS:
                out.append(" " if cell else "\n")
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


def load_html(path: Path, data: bytes) -> Document:
    import lxml.html

    html = _XML_DECL.sub("", _decode_html(path, data))
    if bad_char_share(html) > 0.01:
        raise fail(path, "binary content, not an HTML page")
    try:
        root = lxml.html.document_fromstring(html)
    except Exception as exc:  # lxml raises ParserError/ValueError on empty or broken input
        raise fail(path, f"cannot parse the HTML ({exc})") from None

    meta_title, meta_date = _meta(root, "ArticleTitle"), _meta(root, "PubDate")
    meta_office = _meta(root, "ContentSource")
    h1 = _h1_title(root)
    import trafilatura

    try:
        with quiet("trafilatura", "htmldate", "courlan"):
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


def source_text(path: Path, data: bytes) -> str:
    """The page's text, one block per line, scripts/styles and chrome blocks removed."""
    import lxml.html

    root = lxml.html.document_fromstring(_XML_DECL.sub("", _decode_html(path, data)))
    body = root.find("body")
    body = root if body is None else body
    _strip_chrome(body)
    return _region_text(body)


load = load_html
