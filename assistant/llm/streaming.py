"""Cutting a growing LLM reply into finished sentences, as the stream arrives.

``ThinkFilter`` drops ``<think>…</think>`` (reasoning models served through Ollama put it in the content);
``Cutter`` turns text pieces into (sentence, line number, is-a-list-item) once each sentence's end
punctuation, closing quotes and trailing citation markers are followed by something else (so markers
written after the full stop stay with their sentence). Markdown headings and bold are removed; bullets and
numbered list items are remembered per line. It does not judge, call the model or know any prompt.
"""
from __future__ import annotations

import re

from policy_assistant.core.text import BULLET, FULL_STOPS, sentence_spans
from policy_assistant.grounding import strip_markers

SENTENCE_END = FULL_STOPS        # not ；: a clause ending in ； shares the next clause's markers
FULL_WIDTH_BRACKETS = str.maketrans("［］", "[]")


class ThinkFilter:
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


class Cutter:
    """Cuts a growing reply into finished sentences, each with its line number and whether that line
    is a list item. A sentence is finished once its end punctuation and trailing markers are followed
    by something else; until then more markers may still come."""

    def __init__(self):
        self.buf = ""
        self.line = 0
        self.bullet: bool | None = None     # None: the current line's start has not been seen yet

    def feed(self, text: str) -> list[tuple[str, int, bool]]:
        self.buf += text.translate(FULL_WIDTH_BRACKETS)      # ［第12条］ is a marker like [第12条]
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
        """The finished sentences of one line's text, and the unfinished rest. A markdown table row is read
        once its line is complete, its cells joined by ：("| 托班 | 鼓励… |" -> "托班：鼓励…")."""
        if text.lstrip().startswith("|"):
            if not final:
                return [], text
            text = "：".join(cell.strip() for cell in text.strip().strip("|").split("|") if cell.strip())
        if self.bullet is None:
            if not final and len(text.strip()) < 4:
                return [], text
            text = re.sub(r"^\s*#{1,6}\s+", "", text)
            text = re.sub(r"^(\s*)(?:\*\*|__)(?=\S)", r"\1", text)      # a bold start is no bullet
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


# the names the tests and older callers use
_ThinkFilter, _Cutter = ThinkFilter, Cutter
