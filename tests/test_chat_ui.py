"""The chat page: escaping and rendering (unit), the feedback log, the chat endpoint through
``gradio_client``, Gradio auth, and, in Debian's chromium through Playwright (slow tier):
the streamed answer with [第12条], opening the citation, follow-ups, 👍 feedback, refusals,
English labels, phone width, and no script injection from questions or policy files.
Screenshots go to artifacts/screenshots/."""
from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_assistant.ui import render
from policy_assistant.ui.conversations import ConversationLog

try:
    from tests.servers import ask_in_page, running
except ImportError:  # tests/ run as a rootdir-less folder
    from servers import ask_in_page, running

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "artifacts" / "screenshots"
EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
SCRIPT_Q = "应急预案<script>window.__pwned=1</script>有什么要求"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=1">'
EVIL_POLICY = f"""2025年校园安全工作通知
发布时间：2025-03-01
一、总体要求
1. 加强校园安全管理{IMG_PAYLOAD}，落实安全责任制度。
2. 完善应急预案<script>window.__pwned=1</script>，定期开展应急演练。
二、保障措施
3. 各校要配齐专职安全管理人员，保障安全经费投入。
"""
OTHER_POLICY = """2024年招生工作通知
发布时间：2024-04-01
一、招生安排
1. 公办初中按学区划片招生，不得举行任何形式的入学考试。
2. 民办学校招生纳入审批地统一管理。
"""


# ------------------------------------------------------------------------------------- rendering
CITATION = {"doc": "d", "title": "2025年教育工作要点", "year": 2025, "item": "12", "path": ["五", "12"],
            "section": "五、聚力推进公共服务优享", "text": f"加快建设公办幼儿园{IMG_PAYLOAD}。\n第二行 <b>粗</b>",
            "office": "市教育局", "date": "2025-03-26"}


def record(**changes) -> dict:
    base = {"question": "学前教育", "language": "zh", "refused": False, "generator": "extractive", "warnings": [],
            "answer": "根据《2025年教育工作要点》：\n- 加快建设公办幼儿园。[第12条]\n- 另见 [第99条] 与 *强调* <script>x</script>",
            "citations": [CITATION], "retrieved": []}
    return {**base, **changes}


def test_message_escapes_everything_but_its_own_markup():
    html = render.message(record(warnings=["LLM <i>timed out</i>"]), "m1")
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html      # shown as text in the item
    assert "&lt;script&gt;x&lt;\\/script&gt;" in html and "\\*强调\\*" in html      # and in the answer
    assert html.count('class="pa-cite pa-c-m1-0"') == 1                            # known marker: clickable
    assert "\\[第99条\\]" in html                                                  # unknown marker: plain text
    assert '<details class="pa-source pa-c-m1-0">' in html and "五、聚力推进公共服务优享" in html
    assert render.WARNING_ICON in html and "LLM &lt;i&gt;timed out&lt;\\/i&gt;" in html   # warnings are visible
    assert "\n- " in html                                                          # list lines stay a list


def test_refusal_is_set_off_and_lists_nearby_items():
    refused = record(refused=True, citations=[], answer="文件中没有找到相关规定。没有回答。\n您可以看看这些相近的条目：\n- 第12条：……")
    html = render.message(refused, "m3", nearby=[CITATION])
    assert html.startswith(render.REFUSAL_ICON + "**文件中没有找到相关规定。") and "相近条目" in html and "pa-source" in html
    assert not EMOJI.search(html), "icons come from the page's CSS, not from an emoji font"


def test_nested_list_lines_stay_nested_lists():
    text = "《要点》第五部分“优享”（共1条）：\n- 实施行动。[第12条]\n  - 扩大供给，加快建设。\n  - 全面提升。"
    html = render.answer_markdown(text, [CITATION], "m6")
    lines = html.split("\n")
    assert lines[1].startswith("- 实施行动。<span class=\"pa-cite pa-c-m6-0\"")
    assert lines[2].startswith("  - 扩大供给") and lines[3].startswith("  - 全面提升")
    assert html.count("pa-cite") == 1                                                # one marker for the item


def test_english_labels_for_english_questions():
    html = render.message(record(language="en"), "m1")
    assert "Cited items" in html and "引用条文" not in html


def test_multi_document_markers_are_clickable():
    other = {**CITATION, "doc": "e", "title": "2024年要点", "item": "3"}
    text = "- a。[《2025年教育工作要点》第12条]\n- b。[《2024年要点》第3条]"
    html = render.answer_markdown(text, [CITATION, other], "m5")
    assert "pa-c-m5-0" in html and "pa-c-m5-1" in html


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_markdown_escaping_round_trips(text):
    escaped = render.md_text(text)
    assert render.md_unescape(escaped) == text
    assert "<" not in escaped and ">" not in escaped


# ------------------------------------------------------------------------------------- gradio_client
@pytest.fixture(scope="module")
def url(built_index, assistant):
    with running(built_index, assistant) as base:
        yield base


def _bot_text(messages) -> str:
    return "".join(part.get("text", "") for part in messages[-1]["content"])


@pytest.mark.network
def test_gradio_client_chat_with_follow_up(url):
    from gradio_client import Client

    client = Client(url + "/", verbose=False)
    try:
        messages, box, hint = client.predict("学前教育今年有什么要求", [], "", api_name="/chat")
        assert box == "" and hint == "" and "[第12条]" in _bot_text(messages) and "加快建设公办幼儿园" in _bot_text(messages)
        messages, _, _ = client.predict("那高中呢", messages, "", api_name="/chat")
        assert "[第13条]" in _bot_text(messages) and len(messages) == 4
        kept, box, hint = client.predict("   ", messages, "", api_name="/chat")   # a quiet hint; the chat stays
        assert hint == "请先输入问题。" and kept == messages
        kept, box, hint = client.predict("问" * 5000, messages, "", api_name="/chat")   # an engine error too
        assert "2000" in hint and "5000" in hint and kept == messages and box == "问" * 5000
        assert not LATIN_WORD.search(hint)
    finally:
        client.close()


@pytest.mark.network
def test_ui_users_put_the_chat_behind_a_login(built_index, assistant):
    with running(built_index.with_(ui_users="staff:pa55:word,second:x"), assistant) as base:
        assert httpx.get(f"{base}/config", timeout=10).status_code == 401
        with httpx.Client(base_url=base, timeout=10) as session:
            assert session.post("/login", data={"username": "staff", "password": "wrong"}).status_code >= 400
            assert session.post("/login", data={"username": "staff", "password": "pa55:word"}).status_code == 200
            assert session.get("/config").status_code == 200
        # the API is governed by the API key, not by the chat's users
        assert httpx.post(f"{base}/api/ask", json={"question": "学前教育"}, timeout=30).status_code == 200


# ------------------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def evil_url(tmp_path_factory, built_index):
    """A server whose index holds two small policies, one with HTML/script payloads in its items."""
    from policy_assistant.engine import Assistant
    from policy_assistant.index.builder import build_index

    folder = tmp_path_factory.mktemp("evil-policies")
    (folder / "evil-notice.txt").write_text(EVIL_POLICY, encoding="utf-8")
    (folder / "enrolment-2024.txt").write_text(OTHER_POLICY, encoding="utf-8")
    evil_settings = built_index.with_(index_dir=tmp_path_factory.mktemp("evil-index"))
    evil = Assistant(evil_settings, notify=lambda message: None)
    build_index([folder], evil_settings, evil.embedder, progress=False)
    with running(evil_settings, evil) as base:
        yield base


@pytest.fixture()
def contexts():
    """Browser contexts opened by a test, closed at its end (before any server stops)."""
    opened = []
    yield opened
    for context in opened:
        context.close()


def open_page(browser, contexts, base: str, **options):
    context = browser.new_context(**options)
    contexts.append(context)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((base, "data:", "blob:")) else None)
    page.on("dialog", lambda dialog: outside.append(f"dialog: {dialog.message}"))       # alert() etc.
    page.goto(base + "/")
    page.wait_for_selector("#pa-question textarea")
    return page, outside


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


@pytest.mark.slow
def test_browser_answer_citation_follow_up_feedback(browser, contexts, url, built_index):
    page, outside = open_page(browser, contexts, url, viewport={"width": 1280, "height": 900})
    answer = ask_in_page(page, "学前教育今年有什么要求", 1)
    assert "[第12条]" in answer.inner_text()
    source = answer.locator("details.pa-source").first
    assert not source.evaluate("d => d.open")
    answer.locator(".pa-cite").first.click()                              # the marker opens its item
    page.wait_for_function("() => document.querySelector('#pa-chat details.pa-source').open")
    item = source.locator(".pa-item-text")
    assert item.is_visible() and "加快建设公办幼儿园" in item.inner_text()
    assert "五、聚力推进公共服务优享" in source.inner_text() and "2025年教育工作要点" in source.inner_text()
    shoot(page, "chat-desktop.png")

    follow = ask_in_page(page, "那高中呢", 2)
    assert "[第13条]" in follow.inner_text()
    log = ConversationLog(built_index)
    page.locator('#pa-chat button[aria-label="有帮助"]').nth(1).click()     # one per answer, in order
    page.wait_for_selector("#pa-thanks:has-text('谢谢您的反馈')")            # the thanks shows in the page
    deadline = time.monotonic() + 10
    while not [row for row in log.rows() if row["question"] == "那高中呢" and row["vote"] == "up"]:
        assert time.monotonic() < deadline, "no vote was stored"
        time.sleep(0.1)
    vote = [row for row in log.rows() if row["question"] == "那高中呢" and row["vote"] == "up"][-1]
    assert [c["item"] for c in vote["citations"]] == ["13"] and "[第13条]" in vote["answer"]

    refusal = ask_in_page(page, "火星移民政策是什么", 3)
    assert "文件中没有找到相关规定" in refusal.inner_text() and "相近条目" in refusal.inner_text()
    english = ask_in_page(page, "What does the plan say about preschool education?", 4)
    assert "Cited items" in english.inner_text() and "[第12条]" in english.inner_text()
    shoot(page, "chat-desktop-conversation.png")
    page.focus("#pa-question textarea")
    page.keyboard.press("Enter")                                          # an empty question: a clear message
    page.get_by_text("请先输入问题").first.wait_for(timeout=10_000)
    assert page.locator("#pa-chat .bot-row").count() == 4                 # and no new turn
    assert outside == [], f"the page fetched from outside this server: {outside}"


@pytest.mark.slow
def test_browser_phone_width(browser, contexts, url):
    page, outside = open_page(browser, contexts, url, viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True, device_scale_factor=2)
    answer = ask_in_page(page, "学前教育今年有什么要求", 1)
    answer.locator(".pa-cite").first.tap()
    page.wait_for_function("() => document.querySelector('#pa-chat details.pa-source').open")
    assert "加快建设公办幼儿园" in answer.locator(".pa-item-text").first.inner_text()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
    shoot(page, "chat-phone-390.png")                                     # the opened item, at phone width
    page.locator("#pa-examples").get_by_text("第五部分有哪些").tap()          # an example question runs
    listing = page.locator("#pa-chat .bot-row").nth(1)
    listing.locator(".pa-final").wait_for(state="attached", timeout=30_000)
    assert "[第11条]" in listing.inner_text() and "[第14条]" in listing.inner_text()
    send = page.locator("#pa-send").bounding_box()
    assert send["x"] + send["width"] <= 390
    assert outside == []


@pytest.mark.slow
def test_browser_never_runs_script_from_questions_or_documents(browser, contexts, evil_url):
    page, _ = open_page(browser, contexts, evil_url, viewport={"width": 1280, "height": 900})
    options = page.locator("#pa-doc")
    assert options.is_visible(), "two documents are indexed: the selector must show"

    first = ask_in_page(page, SCRIPT_Q, 1)
    user_bubble = page.locator("#pa-chat .user-row").first
    assert "<script>window.__pwned=1</script>" in user_bubble.inner_text()          # shown, as text
    assert "<script>window.__pwned=1</script>" in first.inner_text()
    second = ask_in_page(page, "校园安全管理有什么要求", 2)
    for details in second.locator("details.pa-source").all():
        details.locator("summary").click()
    assert IMG_PAYLOAD in second.inner_text()
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#pa-chat img[src='x'], #pa-chat script").count() == 0
    shoot(page, "chat-injection.png")


# ------------------------------------------------------------------------------------- issue 18: the page as a parent meets it
def visible_english(page) -> list[str]:
    """Latin words a reader sees or hears on the page (text, and the labels of buttons), the chat's own
    answers to English questions aside."""
    text = page.evaluate("() => document.body.innerText")
    labels = page.evaluate("() => Array.from(document.querySelectorAll('button, [role=button], textarea, input'))"
                           ".map(e => [e.getAttribute('aria-label'), e.getAttribute('title'), e.getAttribute('placeholder')]"
                           ".filter(Boolean).join(' ')).join(' ')")
    return LATIN_WORD.findall(text + " " + labels)


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_browser_blank_submit_keeps_the_chat_and_shows_no_english(browser, contexts, url, width, height):
    page, outside = open_page(browser, contexts, url, viewport={"width": width, "height": height},
                              locale="en-US")                     # an English browser: the interface stays Chinese
    answer = ask_in_page(page, "学前教育今年有什么要求", 1)
    before = page.locator("#pa-chat").inner_text()
    page.focus("#pa-question textarea")
    page.keyboard.press("Enter")                                  # empty
    page.get_by_text("请先输入问题").first.wait_for(timeout=10_000)
    page.fill("#pa-question textarea", "   ")
    page.locator("#pa-send").click()                              # blank, with the button
    page.wait_for_timeout(800)
    assert page.locator("#pa-chat .bot-row").count() == 1 and page.locator("#pa-chat").inner_text() == before
    assert "[第12条]" in answer.inner_text()
    assert page.locator(".toast-wrap .toast-body, #pa-chat .error, .error-badge").count() == 0   # no red badges, no toast
    assert visible_english(page) == [], "English on the Chinese page"
    shoot(page, f"blank-submit-{width}.png")
    assert outside == [], f"the page fetched from outside this server: {outside}"


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_browser_section_listing_is_a_headed_nested_list(browser, contexts, url, width, height):
    page, outside = open_page(browser, contexts, url, viewport={"width": width, "height": height})
    listing = ask_in_page(page, "第五部分有哪些", 1)
    text = listing.inner_text()
    assert "第五部分“聚力推进公共服务优享”（共4条）" in text
    answer = listing.locator(".message-content, .md").first
    assert answer.locator("ul > li").count() == 4 + 12            # 4 items, each with its sentences nested
    assert answer.locator("ul ul > li").count() == 12
    assert [m.inner_text() for m in answer.locator("ul > li > .pa-cite, ul > li > p > .pa-cite").all()] == \
        ["[第11条]", "[第12条]", "[第13条]", "[第14条]"]           # one marker per item
    assert answer.locator("ul ul .pa-cite").count() == 0
    assert not any(line.lstrip().startswith("- ") for line in text.splitlines()), "a literal '- ' is shown"
    page.set_viewport_size({"width": width, "height": 2000})           # a tall screen: the whole answer, heading too
    page.wait_for_timeout(500)
    page.evaluate("() => document.querySelectorAll('#pa-chat *').forEach(e => {"
                  " if (e.scrollHeight > e.clientHeight + 4) e.scrollTop = 0; })")
    page.wait_for_timeout(300)
    shoot(page, f"section-listing-{width}.png")
    assert outside == []


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_browser_refusal_icon_needs_no_emoji_font(browser, contexts, url, width, height):
    from io import BytesIO

    import numpy as np
    from PIL import Image

    page, outside = open_page(browser, contexts, url, viewport={"width": width, "height": height})
    refusal = ask_in_page(page, "火星移民政策是什么", 1)
    assert "文件中没有找到相关规定" in refusal.inner_text() and not EMOJI.search(refusal.inner_text())
    icon = refusal.locator(".pa-icon-refusal")
    box = icon.bounding_box()
    assert box and box["width"] >= 10 and box["height"] >= 10
    assert icon.evaluate("e => getComputedStyle(e).backgroundImage").startswith('url("data:image/svg+xml')
    pixels = np.asarray(Image.open(BytesIO(icon.screenshot())).convert("RGB")).astype(int)
    inked = int(((pixels[..., 0] - pixels[..., 2]) > 60).sum())         # the amber strokes of the SVG are drawn
    assert inked > 10, "the icon did not render"
    shoot(page, f"refusal-{width}.png")
    assert outside == []


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_browser_docs_render_offline(browser, contexts, url, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    contexts.append(context)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url + "/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert {"/api/ask", "/v1/chat/completions", "/v1/models", "/healthz"} <= {p.replace("\u200b", "") for p in paths}
    shoot(page, f"docs-{width}.png")
    assert [r for r in requests if not r.startswith((url, "data:"))] == [], "the docs page fetched from outside"


@pytest.mark.slow
@pytest.mark.parametrize("width", [360, 390, 768])
def test_browser_phone_layout(browser, contexts, url, width):
    height = 800
    page, outside = open_page(browser, contexts, url, viewport={"width": width, "height": height}, is_mobile=width < 700,
                              has_touch=True)
    page.locator("#pa-examples").get_by_text("第五部分有哪些").wait_for()
    examples = page.locator("#pa-examples").inner_text()
    assert "那高中呢" not in examples and "第五部分有哪些" in examples  # examples that make sense in an empty chat
    answer = ask_in_page(page, "学前教育今年有什么要求", 1)
    chat, header = page.locator("#pa-chat").bounding_box(), page.locator("#pa-header").bounding_box()
    question = page.locator("#pa-question").bounding_box()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    assert question["y"] + question["height"] <= height, "the input is below the fold"
    if width < 640:
        assert header["height"] <= 40, "the header takes more than one line"
        assert chat["height"] >= 0.6 * height, "the chat does not fill the screen"
        bubble = answer.locator(".message").first.bounding_box()
        assert bubble["width"] >= chat["width"] - 16, "the answer bubble leaves the screen's width unused"
    clear = page.locator("#pa-chat button[aria-label='清空对话']").bounding_box()
    first = page.locator("#pa-chat .user-row").first.bounding_box()
    overlap = not (clear["y"] + clear["height"] <= first["y"] or first["y"] + first["height"] <= clear["y"]
                   or clear["x"] + clear["width"] <= first["x"] or first["x"] + first["width"] <= clear["x"])
    assert not overlap, "the chat's clear button overlaps the first message"
    shoot(page, f"phone-{width}.png")
    assert outside == []


@pytest.mark.network
def test_policy_ui_lang_switches_the_interface(built_index, assistant):
    with running(built_index.with_(ui_lang="en"), assistant) as base:
        page = httpx.get(f"{base}/", timeout=10).text
        assert re.search(r'<html\s+lang="en"', page)
        assert "var lang = 'en'" in page.split("</head>")[0]
        config = httpx.get(f"{base}/config", timeout=10).json()
        assert config["title"] == "Policy documents Q&A"
    with running(built_index, assistant) as base:                 # the default: Chinese, set before Gradio starts
        head = httpx.get(f"{base}/", timeout=10).text.split("</head>")[0]
        assert re.search(r'<html\s+lang="zh-CN"', head) and head.index("var lang = 'zh-CN'") < head.index("<script type=\"module\"")
