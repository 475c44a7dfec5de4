"""The public source viewer: ``GET /doc/<doc>`` shows one document as indexed.

The page lists every item of the document in order under its headings (each
heading line once, where it first encloses an item), with the title, issuer
and date on top. Each item is an element whose id is its path ("五/12"), so
``/doc/<doc>#五/12`` scrolls to it and the CSS ``:target`` rule highlights it;
``doc_link`` builds those addresses for the chat and the API answers. All
document text is escaped with ``html.escape``: the page holds no HTML from a
document and no script at all. It reads the served corpus and writes nothing.
"""
from __future__ import annotations

import html
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from policy_assistant.core.model import marker_label

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; margin: 0;
       color: #1f2328; background: #fafafa; line-height: 1.75; }}
main {{ max-width: 860px; margin: 0 auto; padding: 16px 20px 80px; background: #fff; min-height: 100vh; }}
h1 {{ font-size: 1.35rem; margin: .4rem 0; }}
.meta {{ color: #59636e; font-size: .9rem; margin-bottom: 1rem; }}
h2, h3, h4 {{ margin: 1.2rem 0 .4rem; }} h2 {{ font-size: 1.15rem; }} h3 {{ font-size: 1.05rem; }} h4 {{ font-size: 1rem; }}
.item {{ padding: .35rem .6rem; margin: .2rem 0; border-left: 3px solid transparent; scroll-margin-top: 30vh; }}
.label {{ color: #0a58ca; font-weight: 600; margin-right: .4em; text-decoration: none; }}
.item:target {{ background: #fff3bf; border-left-color: #f08c00; }}
nav a {{ color: #0a58ca; }}
</style></head>
<body><main>
<nav><a href="/">← 返回问答</a></nav>
<h1>{title}</h1>
<div class="meta">{meta}</div>
{body}
</main></body></html>"""


def doc_link(doc: str, path) -> str:
    """``/doc/<doc>#<item path>``: where a citation opens."""
    return f"/doc/{quote(doc, safe='')}#{quote('/'.join(path), safe='/')}"


def anchor(path) -> str:
    return html.escape("/".join(path), quote=True)


def render_document(items) -> str:
    """The whole page for one document's items (in document order)."""
    first = items[0]
    title = first.title or first.doc
    meta = " · ".join(html.escape(x) for x in (first.office, first.date, f"共 {len(items)} 条") if x)
    body, open_headings = [], []
    for item in items:
        headings = list(item.headings or ([item.section] if item.section else []))
        shared = 0
        while shared < min(len(headings), len(open_headings)) and headings[shared] == open_headings[shared]:
            shared += 1
        for depth, heading in enumerate(headings[shared:], start=shared):
            level = min(depth + 2, 4)
            body.append(f"<h{level}>{html.escape(heading)}</h{level}>")
        open_headings = headings
        body.append(f'<div class="item" id="{anchor(item.path)}"><a class="label" href="#{anchor(item.path)}">'
                    f'[{html.escape(marker_label(item.item))}]</a>'
                    + "<br>".join(html.escape(line) for line in item.text.splitlines()) + "</div>")
    return PAGE.format(title=html.escape(title), meta=meta, body="\n".join(body))


def build_viewer(assistant) -> APIRouter:
    router = APIRouter()

    @router.get("/doc/{doc}", response_class=HTMLResponse, tags=["viewer"],
                summary="One document as indexed (public); #<item path> highlights an item")
    def show(doc: str):
        items = [item for item in assistant.corpus().items if item.doc == doc]
        if not items:
            return HTMLResponse(PAGE.format(title="未找到文件", meta="",
                                            body=f"<p>索引中没有文件 {html.escape(doc)}。</p>"), status_code=404)
        return HTMLResponse(render_document(items))

    return router


def linked(citations: list[dict]) -> list[dict]:
    """Citations with ``url``: where each one opens in the source viewer."""
    return [{**citation, "url": doc_link(citation["doc"], citation["path"])} for citation in citations]
