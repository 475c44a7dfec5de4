"""The Gradio chat page (mounted at ``/`` by ``ui.server``).

A ``gr.Blocks`` page: a document selector (shown when more than one document
is indexed), the chat (with its own clear button), an input row, example questions. The
chat event ``/chat`` streams ``Assistant.ask_stream``: the user turns already
in the chat are the history, so follow-ups ("那高中呢") work. A final answer
shows every [第N条] marker as a clickable span that opens the matching
``<details>`` block under the answer (whole item, section, document);
refusals are set off and list the nearest items; warnings (e.g. from the LLM
generator) show in the message and as a toast. 👍/👎 go to the conversation log
(``ui.conversations``): 👍 shows a short thanks in the page, 👎 opens an optional
one-line reason that is stored with the vote.
Engine errors become ``gr.Error``. All text is escaped by ``ui.render``; the
only script on the page is ``CLICK_JS`` below, which opens sources and never
reads message text. Interface text is Chinese; message labels follow the
question's language. This module renders nothing itself and holds no state
beyond the per-session map of answer records used for feedback.
"""
from __future__ import annotations

import html
import sys
import traceback

import gradio as gr

from policy_assistant.core.errors import AssistantError, BadInput
from policy_assistant.language import detect_language
from policy_assistant.core.settings import Settings
from policy_assistant.ui import render
from policy_assistant.ui.conversations import ConversationLog

CHAT_CONCURRENCY = 8           # chat answers computed at once (the Gradio queue's limit)
CHAT_QUEUE_MAX = 256           # waiting chat events beyond this are turned away ("queue full")
MAX_HISTORY = 20
ALL_DOCS = ""
EXAMPLES = ["学前教育今年有什么要求", "那高中呢", "第五部分有哪些", "What does the plan say about preschool education?"]
TITLE = "政策文件问答"
THANKS, THANKS_EN = "谢谢您的反馈！", "Thank you for your feedback!"
THANKS_DOWN, THANKS_DOWN_EN = "谢谢您的反馈！可以在下面写一句哪里不满意（可选）。", "Thank you! Tell us what was wrong (optional)."
INTRO = ("依据已发布的政策文件原文作答，每句都标注条目编号。点击 **[第N条]** 可展开该条全文；"
         "文件中没有的内容会明确告知。可继续追问，例如先问“学前教育今年有什么要求”，再问“那高中呢”。")

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
@media (max-width: 640px) {
  #pa-chat .message-row { margin: 10px 4px 6px !important; }
  #pa-chat .bot-row .flex-wrap, #pa-chat .bot-row .message { max-width: 100% !important; }
  #pa-header h1 { font-size: 1.15rem; }
  #pa-header p { font-size: .8rem; }
  #pa-send { min-width: 64px !important; }
}
"""

# Page-level: outside the container that Gradio scopes CSS to.
PAGE_STYLE = """
<style>@media (max-width: 640px) { .gradio-container .main.app { padding: 8px 6px !important; } }</style>
"""

# Opens the <details> a clicked marker points to (they share a pa-c-… class). Reads only class names.
CLICK_JS = """
<script>
(function () {
  document.documentElement.lang = 'zh-CN';
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

    def doc_choices():
        docs = sorted(assistant.corpus().docs.values(), key=lambda d: (-(d.year or 0), d.title))
        choices = [("全部文件", ALL_DOCS)] + [(f"{d.title or d.doc}" + (f"（{d.year}）" if d.year and str(d.year)
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
        """Stream one answer into the chat: yields (chat messages, input box, answer records)."""
        question = question if isinstance(question, str) else ""
        messages = list(messages or [])
        answers = dict(answers or {})
        history = [render.md_unescape(_text(m)) for m in messages if m.get("role") == "user"][-MAX_HISTORY:]
        language = detect_language(question)
        if not question.strip():            # the engine would refuse it too; say it in the page's language
            raise gr.Error("请输入问题。 Please type a question.", title="提示", print_exception=False)
        try:
            events = assistant.ask_stream(question, history, doc or None)
            first = next(events)
        except AssistantError as exc:
            _raise(exc, settings)
        shown = messages + [{"role": "user", "content": render.user_message(question)},
                            {"role": "assistant", "content": render.partial_message("", language)}]
        index = len(shown) - 1
        yield shown, "", answers
        text = ""
        try:
            for event in _chain(first, events):
                if event["type"] == "delta":
                    text += event["text"]
                    shown[index] = {"role": "assistant", "content": render.partial_message(text, language)}
                    yield shown, "", answers
                else:
                    record = event["record"]
                    nearby = nearby_items(assistant, record) if record["refused"] else None
                    shown[index] = {"role": "assistant", "content": render.message(record, f"m{index}", nearby)}
                    answers[index] = {"record": record, "history": history, "doc": doc or None}
                    for warning in record["warnings"]:
                        gr.Warning(html.escape(warning), title="提示" if language == "zh" else "Note")
                    yield shown, "", answers
        except AssistantError as exc:
            yield messages, question, answers          # take the unanswered turn back out, keep the question
            _raise(exc, settings)

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
        zh = entry["record"].get("language") == "zh"
        if liked == "down":
            return (gr.update(value=THANKS_DOWN if zh else THANKS_DOWN_EN, visible=True),
                    gr.update(visible=log_id is not None), log_id)
        return gr.update(value=THANKS if zh else THANKS_EN, visible=True), gr.update(visible=False), None

    def save_reason(reason, log_id):
        if log_id is not None and (reason or "").strip():
            log.vote(log_id, "down", reason)
        return gr.update(value=THANKS, visible=True), gr.update(visible=False), "", None

    choices = _safe_choices(doc_choices)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\n{INTRO}", elem_id="pa-header")
        doc = gr.Dropdown(choices=choices, value=ALL_DOCS, label="文件 / 年度", visible=len(choices) > 2,
                          interactive=True, elem_id="pa-doc")
        chatbot = gr.Chatbot(label="对话", show_label=False, elem_id="pa-chat", height="60vh", min_height=320,
                             latex_delimiters=[], sanitize_html=True, render_markdown=True, line_breaks=True,
                             allow_tags=False, feedback_options=("Like", "Dislike"), buttons=["copy"],
                             placeholder="请在下方输入问题，或点击示例问题。")
        thanks = gr.Markdown(visible=False, elem_id="pa-thanks")
        with gr.Row(visible=False, elem_id="pa-reason-row") as reason_row:
            reason = gr.Textbox(show_label=False, placeholder="哪里不满意？（可选，一句话）", max_length=500, lines=1,
                                scale=5, elem_id="pa-reason")
            reason_send = gr.Button("提交", scale=1, min_width=64, elem_id="pa-reason-send")
        with gr.Row(equal_height=True, elem_id="pa-input"):
            box = gr.Textbox(label="问题", show_label=False, placeholder="输入问题，按回车发送", scale=5,
                             lines=1, max_lines=4, autofocus=True, elem_id="pa-question")
            send = gr.Button("发送", variant="primary", scale=1, min_width=72, elem_id="pa-send")
        examples = gr.Dataset(components=[box], samples=[[q] for q in EXAMPLES], label="示例问题",
                              elem_id="pa-examples")
        answers, disliked = gr.State({}), gr.State(None)

        inputs, outputs = [box, chatbot, answers, doc], [chatbot, box, answers]
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
    return gr.mount_gradio_app(
        app, demo, path="/", auth=users or None, auth_message="请登录后使用政策文件问答。" if users else None,
        ssr_mode=False, mcp_server=False, run_history=False, pwa=False, footer_links=["api"], show_error=True,
        theme=gr.themes.Default(font=THEME_FONTS, font_mono=["ui-monospace", "monospace"]), css=CSS, head=PAGE_STYLE + CLICK_JS)


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


def _safe_choices(doc_choices):
    try:
        return doc_choices()
    except AssistantError:
        return [("全部文件", ALL_DOCS)]


def _raise(exc: AssistantError, settings: Settings):
    if settings.debug:
        traceback.print_exception(exc, file=sys.stderr)
    raise gr.Error(html.escape(exc.message), title="无法回答 / Cannot answer", print_exception=False) from None
