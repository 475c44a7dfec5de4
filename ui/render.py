"""Turn an answer record into the chat message the browser shows, safely.

Everything that comes from a document or a user (answer text, item text,
titles, sections, questions, warnings) is escaped here: Markdown punctuation is
backslash-escaped and ``& < > " '`` become entities, so the Chatbot's Markdown
renderer shows it as text and never as HTML. The only HTML in a message is the
fixed markup written by this module: each [第N条] marker becomes a
``<span class="pa-cite pa-c-KEY">`` and each cited item a ``<details
class="pa-source pa-c-KEY">`` block (section, document, the whole item) under
the answer; a page script opens the block whose ``pa-c-`` class a clicked
marker shares (classes, because the Chatbot's sanitizer drops data attributes). List lines
("- ", and "  - " nested under them) stay Markdown lists. Refusals and warnings
are set off by empty ``<span class="pa-icon-…">`` whose icon is an SVG in the
page's CSS (``ui.chat``), never an emoji, which most office PCs have no font for.
Labels follow the question's language (Chinese by default).

Pure functions of their inputs: no Gradio, no engine, no I/O.
"""
from __future__ import annotations

import html
import re

from policy_assistant.core.model import marker_label
from policy_assistant.ui.viewer import doc_link

MARKER = re.compile(r"\[(?:《[^》\[\]\n]{1,80}》)?[^\[\]\n]{1,24}\]")
_MD_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")          # every ASCII punctuation character
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
FINAL_MARK = '<span class="pa-final"></span>'   # an empty marker: this message is complete (tests wait for it)
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BULLET = re.compile(r"^( *)- ")                  # a list line, nested by its indent
REFUSAL_ICON = '<span class="pa-icon-refusal" aria-hidden="true"></span>'
WARNING_ICON = '<span class="pa-icon-warning" aria-hidden="true"></span>'

STATUS_BADGES = {   # a badge on each cited document: its status (index.validity)
    "zh": {"in_force": "现行有效", "not_yet_in_force": "尚未施行", "expired": "已失效", "repealed": "已废止",
           "superseded": "已被新版本取代"},
    "en": {"in_force": "in force", "not_yet_in_force": "not yet in force", "expired": "expired",
           "repealed": "repealed", "superseded": "superseded"},
}

LABELS = {
    "zh": {"sources": "引用条文（点击展开全文）", "nearby": "相近条目（点击展开全文）", "warning": "提示",
           "section": "位置", "document": "文件", "thinking": "正在检索文件……", "open": "在原文中查看"},
    "en": {"sources": "Cited items (click to read the whole item)", "nearby": "Nearby items (click to read)",
           "warning": "Note", "section": "Where", "document": "Document",
           "thinking": "Searching the documents…", "open": "Open in the document"},
}


def labels(language: str) -> dict[str, str]:
    return LABELS["zh" if language == "zh" else "en"]


# -- escaping ---------------------------------------------------------------------------------------
def md_text(text: str) -> str:
    """Text that Markdown renders verbatim: no emphasis, links, headings, HTML or entities."""
    return _MD_PUNCT.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), text)


def md_unescape(text: str) -> str:
    """The inverse of ``md_text`` (used to read questions back from the chat history)."""
    return html.unescape(_UNESCAPE.sub(r"\1", text))


def html_text(text: str) -> str:
    """Text for inside our HTML blocks: entities, line breaks as <br>, no blank lines (they end the block)."""
    return "<br>".join(html.escape(line, quote=True) for line in text.splitlines() if line.strip()) or "&nbsp;"


def user_message(question: str) -> str:
    return md_text(question)


# -- markers ------------------------------------------------------------------------------------------
def citation_markers(citations: list[dict]) -> dict[str, int]:
    """Marker text (both "[第12条]" and the multi-document "[《title》第12条]") -> citation index."""
    out: dict[str, int] = {}
    for index, citation in enumerate(citations):
        label = marker_label(citation["item"])
        out.setdefault(f"[{label}]", index)
        out[f"[《{citation.get('title') or citation['doc']}》{label}]"] = index
    return out


def answer_markdown(text: str, citations: list[dict], key: str) -> str:
    """The answer text escaped, its list lines kept as (nested) Markdown lists, its known markers clickable."""
    markers = citation_markers(citations)
    lines = []
    for line in text.split("\n"):
        bullet = ""
        if match := _BULLET.match(line):
            bullet, line = match.group(0), line[match.end():]
        pieces, last = [], 0
        for match in MARKER.finditer(line):
            index = markers.get(match.group())
            if index is None:
                continue
            pieces.append(md_text(line[last:match.start()]))
            pieces.append(f'<span class="pa-cite pa-c-{key}-{index}" role="button" tabindex="0" '
                          f'title="{html.escape(match.group(), quote=True)}">{html.escape(match.group())}</span>')
            last = match.end()
        pieces.append(md_text(line[last:]))
        lines.append(bullet + "".join(pieces))
    return "\n".join(lines)


def source_block(citation: dict, cite_id: str, language: str) -> str:
    """One cited item as a closed ``<details>``: marker, section and document in the summary, the whole item inside."""
    words = labels(language)
    title = citation.get("title") or citation.get("doc", "")
    year = citation.get("year")
    where = f"《{title}》" + (f"（{year}）" if year and str(year) not in title else "")
    summary = (f'<span class="pa-marker">[{html.escape(marker_label(citation["item"]))}]</span> '
               f'{html.escape(citation.get("section") or "")} · {html.escape(where)}{status_badge(citation, language)}')
    meta = " · ".join(x for x in (citation.get("office", ""), citation.get("date", "")) if x)
    body = (f'<div class="pa-item-text">{html_text(citation.get("text", ""))}</div>'
            f'<div class="pa-item-meta">{html.escape(words["document"])}：{html.escape(where)}'
            f'{" · " + html.escape(meta) if meta else ""}<br>{html.escape(words["section"])}：'
            f'{html.escape(_where_in(citation))} · <a class="pa-doc-link" href="'
            f'{html.escape(doc_link(citation.get("doc", ""), citation.get("path") or []), quote=True)}" '
            f'target="_blank" rel="noopener">{html.escape(words["open"])}</a></div>')
    return (f'<details class="pa-source pa-c-{cite_id}"><summary>{summary}</summary>{body}</details>')


def status_badge(citation: dict, language: str) -> str:
    """' <span class="pa-status pa-status-expired">已失效</span>' (nothing when the citation has no status)."""
    status = citation.get("status")
    words = STATUS_BADGES["zh" if language == "zh" else "en"]
    if status not in words:
        return ""
    return f' <span class="pa-status pa-status-{status}">{html.escape(words[status])}</span>'


def _where_in(citation: dict) -> str:
    """'五、聚力推进公共服务优享 › 第12条' (section heading, the labels between, the item)."""
    path = list(citation.get("path") or [])
    top = citation.get("section") or (path[0] if path else "")
    return " › ".join([top, *path[1:-1], marker_label(citation["item"])] if top else [marker_label(citation["item"])])


def message(record: dict, key: str, nearby: list[dict] | None = None) -> str:
    """The whole chat message for a final answer record."""
    language = record.get("language", "zh")
    words = labels(language)
    citations = record.get("citations") or []
    answer = answer_markdown(record.get("answer", ""), citations, key)
    if record.get("refused"):           # the engine's refusal sentence opens the answer: make it stand out
        head, newline, rest = answer.partition("\n")
        answer = f"{REFUSAL_ICON}**{head}**{newline}{rest}"
    parts = [answer + FINAL_MARK]
    for warning in record.get("warnings") or []:
        parts.append(f"> {WARNING_ICON}**{md_text(words['warning'])}**：{md_text(warning)}")
    sources = citations if citations else (nearby or [])
    if sources:
        heading = words["sources"] if citations else words["nearby"]
        parts.append(f'<div class="pa-sources-title">{html.escape(heading)}</div>')
        parts += [source_block(citation, f"{key}-{index}", language) for index, citation in enumerate(sources)]
    return "\n\n".join(parts)


def partial_message(text: str, language: str) -> str:
    """What is shown while the answer streams in (markers plain, sources not yet)."""
    return answer_markdown(text, [], "partial") if text else f"*{md_text(labels(language)['thinking'])}*"
