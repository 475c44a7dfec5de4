"""The Gradio chat page (mounted at ``/`` by ``ui.server``).

A ``gr.Blocks`` page: a document selector (shown when more than one document
is indexed), the chat (with its own clear button), an input row, example questions. The
chat event ``/chat`` streams ``Assistant.ask_stream``: the user turns already
in the chat are the history, so follow-ups ("那高中呢") work. A final answer
shows every [第N条] marker as a clickable span that opens the matching
``<details>`` block under the answer (whole item, section, document);
refusals are set off and list the nearest items; warnings (e.g. from the LLM
generator) show in the message. 👍/👎 go to the conversation log
(``ui.conversations``): 👍 shows a short thanks in the page, 👎 opens an optional
one-line reason that is stored with the vote.

Errors are quiet: an empty question or one the engine turns down leaves the chat
as it was and shows a one-line hint under the input box (``pa-hint``), in the
interface language; no ``gr.Error`` badges or toasts. The interface language is
``Settings.ui_lang`` (Chinese by default) whatever the browser says: the page
script tells Gradio's own labels that language, and ``GRADIO_LABELS`` fills the
ones Gradio has no Chinese for ("Copy message"). Answers and their labels follow
the question's language. All text is escaped by ``ui.render``; the only script
on the page is ``PAGE_JS`` below, which sets the language and opens sources and
never reads message text. This module renders nothing itself and holds no state
beyond the per-session map of answer records used for feedback.
"""
from __future__ import annotations

import re
import sys
import traceback

import gradio as gr

from policy_assistant.core.errors import AssistantError, BadInput, IndexUnusable
from policy_assistant.language import detect_language
from policy_assistant.core.settings import Settings
from policy_assistant.ui import render
from policy_assistant.ui.conversations import ConversationLog

CHAT_CONCURRENCY = 8           # chat answers computed at once (the Gradio queue's limit)
CHAT_QUEUE_MAX = 256           # waiting chat events beyond this are turned away ("queue full")
MAX_HISTORY = 20
ALL_DOCS = ""

# The interface in each language (answers follow the question's language instead).
UI_TEXT = {
    "zh": {"title": "政策文件问答",
           "intro": "依据政策文件原文作答，标注条目编号；点击 **[第N条]** 展开全文，文件中没有的会明确告知，可继续追问。",
           "examples": ["学前教育今年有什么要求", "第五部分有哪些", "第12条是什么", "特殊教育有什么安排"],
           "examples_label": "示例问题", "placeholder": "输入问题，按回车发送", "send": "发送", "question": "问题",
           "chat_placeholder": "请在下方输入问题，或点击示例问题。", "doc": "文件 / 年度", "all_docs": "全部文件",
           "empty": "请先输入问题。", "too_long": "问题太长（{n} 字），请缩短到 {limit} 字以内。",
           "index": "文件索引暂时不可用，请稍后再试。", "failed": "暂时无法回答这个问题，请换个问法或稍后再试。",
           "login": "请登录后使用政策文件问答。", "html_lang": "zh-CN",
           "thanks": "谢谢您的反馈！", "thanks_down": "谢谢您的反馈！可以在下面写一句哪里不满意（可选）。",
           "reason": "哪里不满意？（可选，一句话）", "reason_send": "提交"},
    "en": {"title": "Policy documents Q&A",
           "intro": "Answers quote the policy documents and cite their items; click **[第N条]** to read the whole item. "
                    "What the documents do not say, you are told. Follow-up questions work.",
           "examples": ["What does the plan say about preschool education?", "第五部分有哪些", "第12条是什么",
                        "学前教育今年有什么要求"],
           "examples_label": "Examples", "placeholder": "Type a question and press Enter", "send": "Send",
           "question": "Question", "chat_placeholder": "Type a question below, or click an example.",
           "doc": "Document / year", "all_docs": "All documents", "empty": "Please type a question first.",
           "too_long": "The question is too long ({n} characters); please keep it under {limit}.",
           "index": "The document index is not available right now; please try again later.",
           "failed": "This question cannot be answered right now; please rephrase it or try again later.",
           "login": "Please log in to use the policy assistant.", "html_lang": "en",
           "thanks": "Thank you for your feedback!", "thanks_down": "Thank you! Tell us what was wrong (optional).",
           "reason": "What was wrong? (optional, one line)", "reason_send": "Send"},
}

# Gradio's own labels that its Chinese translation lacks (it shows them in English otherwise).
GRADIO_LABELS = {"zh-CN": {"chatbot.copy_message": "复制消息", "chatbot.copied_message": "已复制",
                           "chatbot.like": "有帮助", "chatbot.dislike": "没帮助", "chatbot.clear": "清空对话",
                           "chatbot.edit": "编辑", "chatbot.retry": "重试", "chatbot.undo": "撤销",
                           "chatbot.submit": "提交", "chatbot.cancel": "取消", "chatbot.complete": "完成",
                           "common.error": "提示"}}


CSS = """ /* Gradio scopes these rules under its own container (page-level ones are in PAGE_HEAD) */
#pa-header h1 { font-size: 1.4rem; margin: 0 0 .2rem; }
#pa-header p { margin: 0; color: var(--body-text-color-subdued); font-size: .9rem; }
.pa-cite { color: var(--color-accent); cursor: pointer; text-decoration: underline dotted; text-underline-offset: 3px;
           white-space: nowrap; border-radius: 3px; }
.pa-cite:hover, .pa-cite:focus { background: var(--color-accent-soft); outline: none; }
.pa-sources-title { font-size: .85em; color: var(--body-text-color-subdued); margin: .6em 0 .2em; }
details.pa-source { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: .3em .6em;
                    margin: .3em 0; background: var(--background-fill-secondary); }
details.pa-source > summary { cursor: pointer; font-size: .9em; }
details.pa-source.pa-flash { outline: 2px solid var(--color-accent); }
.pa-marker { color: var(--color-accent); font-weight: 600; }
.pa-item-text { margin: .4em 0; line-height: 1.7; }
.pa-item-meta { font-size: .8em; color: var(--body-text-color-subdued); }
#pa-hint { color: var(--body-text-color-subdued); font-size: .9rem; min-height: 0; }
#pa-hint p { margin: 0; }
#pa-hint:empty, #pa-hint .prose:empty { display: none; }
.pa-icon-refusal, .pa-icon-warning { display: inline-block; width: 1.15em; height: 1.15em; margin-right: .35em;
  vertical-align: -.2em; background: no-repeat center / contain; }
.pa-icon-refusal { background-image: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='%23b45309' stroke-width='2.4' stroke-linecap='round'%3E%3Ccircle cx='10.5' cy='10.5' r='6.5'/%3E%3Cpath d='M15.5 15.5 21 21M8 8l5 5M13 8l-5 5'/%3E%3C/svg%3E"); }
.pa-icon-warning { background-image: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='%23b45309' stroke-width='2.2' stroke-linejoin='round' stroke-linecap='round'%3E%3Cpath d='M12 3 2 21h20z'/%3E%3Cpath d='M12 10v5M12 18v.5'/%3E%3C/svg%3E"); }
#pa-chat .message-wrap ul ul { margin-top: .2em; }
@media (max-width: 640px) {
  #pa-chat { height: calc(100dvh - 200px) !important; min-height: 300px !important; }
  #pa-chat .message-wrap { padding-top: 20px; }                   /* the chat's own buttons sit above, not on, the first message */
  #pa-chat .message-row { margin: 6px 0 !important; padding: 0 !important; }
  #pa-chat .message-row.bot-row { max-width: 100% !important; width: 100% !important; }
  #pa-chat .message-row .flex-wrap, #pa-chat .message-row .message, #pa-chat .message-row .message-content,
  #pa-chat .bubble-wrap .message { max-width: 100% !important; width: 100% !important; }
  #pa-chat .avatar-container { display: none !important; }
  #pa-header h1 { font-size: 1.05rem; margin: 0; }
  #pa-header p { display: none; }
  #pa-send { min-width: 56px !important; }
}
"""

# Page-level: outside the container that Gradio scopes CSS to.
PAGE_STYLE = """
<style>@media (max-width: 640px) { .gradio-container .main.app { padding: 6px 4px !important; }
  .gradio-container .main.app .column { gap: 6px !important; } }</style>
"""

# Gradio picks its labels' language from navigator.language as its first script starts: this runs before it
# (put at the top of the page's <head> by ``page_language``), so the interface language is ours, not the browser's.
LANGUAGE_JS = """<script>(function () { var lang = '$html_lang'; try {
  Object.defineProperty(Navigator.prototype, 'language', {get: function () { return lang; }, configurable: true});
  Object.defineProperty(Navigator.prototype, 'languages', {get: function () { return [lang]; }, configurable: true});
} catch (e) {} document.documentElement.lang = lang; })();</script>"""

# Opens the <details> a clicked marker points to (they share a pa-c-… class). Reads only class names.
PAGE_JS = """
<script>
(function () {
  function openCite(el) {
    var key = Array.prototype.filter.call(el.classList, function (c) { return c.indexOf('pa-c-') === 0; })[0];
    var scope = el.parentElement, target = null;
    while (key && scope && !target) {
      target = scope.querySelector('details.pa-source.' + CSS.escape(key));
      scope = scope.parentElement;
    }
    if (!target) return;
    target.open = true;
    target.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    target.classList.add('pa-flash');
    setTimeout(function () { target.classList.remove('pa-flash'); }, 1500);
  }
  document.addEventListener('click', function (e) {
    var el = e.target && e.target.closest && e.target.closest('.pa-cite');
    if (el) { e.preventDefault(); openCite(el); }
  }, true);
  document.addEventListener('keydown', function (e) {
    var el = e.target;
    if ((e.key === 'Enter' || e.key === ' ') && el && el.classList && el.classList.contains('pa-cite')) {
      e.preventDefault(); openCite(el);
    }
  }, true);
})();
</script>
"""

THEME_FONTS = ["system-ui", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC",
               "WenQuanYi Micro Hei", "sans-serif"]


def build_chat(assistant, settings: Settings, log: ConversationLog) -> gr.Blocks:
    """The chat page as a Blocks app (queue configured; not yet mounted)."""

    ui = UI_TEXT[settings.ui_lang]

    def doc_choices():
        docs = sorted(assistant.corpus().docs.values(), key=lambda d: (-(d.year or 0), d.title))
        choices = [(ui["all_docs"], ALL_DOCS)] + [(f"{d.title or d.doc}" + (f"（{d.year}）" if d.year and str(d.year)
                                                                          not in (d.title or "") else ""), d.doc)
                                            for d in docs]
        return choices

    def refresh_docs(current):
        try:
            choices = doc_choices()
        except AssistantError:
            return gr.update()
        value = current if current in {value for _, value in choices} else ALL_DOCS
        return gr.update(choices=choices, value=value, visible=len(choices) > 2)

    def respond(question, messages, answers, doc):
        """Stream one answer into the chat: yields (chat messages, input box, answer records, hint)."""
        question = question if isinstance(question, str) else ""
        messages = list(messages or [])
        answers = dict(answers or {})
        history = [render.md_unescape(_text(m)) for m in messages if m.get("role") == "user"][-MAX_HISTORY:]
        language = detect_language(question)
        if not question.strip():            # the chat stays as it is; a short hint says why nothing happened
            yield messages, question, answers, ui["empty"]
            return
        try:
            events = assistant.ask_stream(question, history, doc or None)
            first = next(events)
        except AssistantError as exc:
            yield messages, question, answers, hint_for(exc, question, settings)
            return
        shown = messages + [{"role": "user", "content": render.user_message(question)},
                            {"role": "assistant", "content": render.partial_message("", language)}]
        index = len(shown) - 1
        yield shown, "", answers, ""
        text = ""
        try:
            for event in _chain(first, events):
                if event["type"] == "delta":
                    text += event["text"]
                    shown[index] = {"role": "assistant", "content": render.partial_message(text, language)}
                    yield shown, "", answers, ""
                else:
                    record = event["record"]
                    nearby = nearby_items(assistant, record) if record["refused"] else None
                    shown[index] = {"role": "assistant", "content": render.message(record, f"m{index}", nearby)}
                    answers[index] = {"record": record, "history": history, "doc": doc or None}
                    yield shown, "", answers, ""
        except AssistantError as exc:          # take the unanswered turn back out, keep the question
            yield messages, question, answers, hint_for(exc, question, settings)

    def vote(data: gr.LikeData, answers):
        """👍: a short thanks in the page; 👎: the same, and the optional one-line reason box."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        entry = (answers or {}).get(index)
        if entry is None:
            return gr.update(), gr.update(), None
        liked = {True: "up", False: "down"}.get(data.liked, str(data.liked))
        log_id = entry["record"].get("log_id")
        if log_id is not None and liked in ("up", "down"):
            log.vote(log_id, liked)
        if liked == "down":
            return gr.update(value=ui["thanks_down"], visible=True), gr.update(visible=log_id is not None), log_id
        return gr.update(value=ui["thanks"], visible=True), gr.update(visible=False), None

    def save_reason(reason, log_id):
        if log_id is not None and (reason or "").strip():
            log.vote(log_id, "down", reason)
        return gr.update(value=ui["thanks"], visible=True), gr.update(visible=False), "", None

    choices = _safe_choices(doc_choices, ui)
    with gr.Blocks(title=ui["title"], analytics_enabled=False) as demo:
        gr.Markdown(f"# {ui['title']}\n{ui['intro']}", elem_id="pa-header")
        doc = gr.Dropdown(choices=choices, value=ALL_DOCS, label=ui["doc"], visible=len(choices) > 2,
                          interactive=True, elem_id="pa-doc")
        chatbot = gr.Chatbot(label=ui["title"], show_label=False, elem_id="pa-chat", height="60vh", min_height=320,
                             latex_delimiters=[], sanitize_html=True, render_markdown=True, line_breaks=True,
                             allow_tags=False, feedback_options=("Like", "Dislike"), buttons=["copy"],
                             placeholder=ui["chat_placeholder"])
        thanks = gr.Markdown(visible=False, elem_id="pa-thanks")
        with gr.Row(visible=False, elem_id="pa-reason-row") as reason_row:
            reason = gr.Textbox(show_label=False, placeholder=ui["reason"], max_length=500, lines=1,
                                scale=5, elem_id="pa-reason")
            reason_send = gr.Button(ui["reason_send"], scale=1, min_width=64, elem_id="pa-reason-send")
        with gr.Row(equal_height=True, elem_id="pa-input"):
            box = gr.Textbox(label=ui["question"], show_label=False, placeholder=ui["placeholder"], scale=5,
                             lines=1, max_lines=4, autofocus=True, elem_id="pa-question")
            send = gr.Button(ui["send"], variant="primary", scale=1, min_width=56, elem_id="pa-send")
        hint = gr.Markdown("", elem_id="pa-hint")
        examples = gr.Dataset(components=[box], samples=[[q] for q in ui["examples"]], label=ui["examples_label"],
                              elem_id="pa-examples")
        answers, disliked = gr.State({}), gr.State(None)

        inputs, outputs = [box, chatbot, answers, doc], [chatbot, box, answers, hint]
        box.submit(respond, inputs, outputs, api_name="chat")
        send.click(respond, inputs, outputs, api_visibility="private")
        examples.click(lambda sample: sample[0], examples, box, queue=False, api_visibility="private").then(
            respond, inputs, outputs, api_visibility="private")
        chatbot.clear(lambda: {}, None, answers, queue=False, api_visibility="private")   # the chat's 🗑 button
        chatbot.like(vote, answers, [thanks, reason_row, disliked], queue=False, api_visibility="private")
        for event in (reason.submit, reason_send.click):
            event(save_reason, [reason, disliked], [thanks, reason_row, reason, disliked], queue=False,
                  api_visibility="private")
        demo.load(refresh_docs, doc, doc, queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY, max_size=CHAT_QUEUE_MAX)
    return demo


def mount_chat(app, assistant, settings: Settings, log: ConversationLog | None = None):
    """Mount the chat page at ``/`` of the FastAPI ``app`` (with Gradio auth when ``ui_users`` is set)."""
    demo = build_chat(assistant, settings, log or ConversationLog(settings))
    users = parse_users(settings.ui_users)
    ui = UI_TEXT[settings.ui_lang]
    page_language(app, ui["html_lang"])
    return gr.mount_gradio_app(      # no footer links: parents need no developer page (/docs is for integrators)
        app, demo, path="/", auth=users or None, auth_message=ui["login"] if users else None,
        ssr_mode=False, mcp_server=False, run_history=False, pwa=False, footer_links=[], show_error=False,
        i18n=gr.I18n(**GRADIO_LABELS),
        theme=gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "monospace"]), css=CSS,
        head=PAGE_STYLE + PAGE_JS)


def page_language(app, html_lang: str) -> None:
    """Put ``LANGUAGE_JS`` first in the chat page's <head> (Gradio's ``head=`` comes too late for it)."""
    app.add_middleware(PageLanguage, script=LANGUAGE_JS.replace("$html_lang", html_lang).encode(),
                       html_lang=html_lang)


HTML_LANG = re.compile(rb'<html(\s+)lang="[^"]*"')


class PageLanguage:
    """ASGI middleware: rewrites only the HTML of ``GET /``; every other request passes through untouched."""

    def __init__(self, app, script: bytes, html_lang: str):
        self.app, self.script, self.html_lang = app, script, html_lang.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            return await self.app(scope, receive, send)
        start: dict = {}
        body: list[bytes] = []

        async def rewrite(message):
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    start["pass"] = True
                    return await send(message)
                start.update(message)
                return None
            if start.get("pass") or message["type"] != "http.response.body":
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            page = HTML_LANG.sub(b'<html\\1lang="' + self.html_lang + b'"', b"".join(body), count=1)
            page = page.replace(b"<head>", b"<head>" + self.script, 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, rewrite)


def parse_users(spec: str) -> list[tuple[str, str]]:
    """ "user:pass,user2:pass2" -> [("user", "pass"), ("user2", "pass2")] (a password may contain ':')."""
    users = []
    for entry in (spec or "").split(","):
        if not entry.strip():
            continue
        name, sep, password = entry.strip().partition(":")
        if not sep or not name or not password:
            raise BadInput("ui_users must look like 'user:password,user2:password2'")
        users.append((name, password))
    return users


def nearby_items(assistant, record: dict, limit: int = 3) -> list[dict]:
    """The whole items behind a refusal's suggestions (the nearest retrieved items)."""
    corpus = assistant.corpus()
    out = []
    for hit in record.get("retrieved", [])[:limit]:
        position = corpus.by_key.get(f"{hit['doc']}::{'/'.join(hit['path'])}")
        if position is not None:
            out.append(corpus.items[position].citation())
    return out


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
    return content if isinstance(content, str) else ""


def _chain(first, events):
    yield first
    yield from events


def _safe_choices(doc_choices, ui: dict):
    try:
        return doc_choices()
    except AssistantError:
        return [(ui["all_docs"], ALL_DOCS)]


def hint_for(exc: AssistantError, question: str, settings: Settings) -> str:
    """The one-line hint for an error, in the interface language (the engine's own message goes to the log)."""
    ui = UI_TEXT[settings.ui_lang]
    print(f"policy-assistant: chat: {exc.message}", file=sys.stderr, flush=True)
    if settings.debug:
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, BadInput) and len(question) > settings.max_question_chars:
        return ui["too_long"].format(n=len(question), limit=settings.max_question_chars)
    if isinstance(exc, BadInput) and not question.strip():
        return ui["empty"]
    return ui["index"] if isinstance(exc, IndexUnusable) else ui["failed"]
