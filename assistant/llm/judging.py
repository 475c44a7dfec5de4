"""Judging the LLM's reply sentence by sentence, and assembling what the user is shown.

``Judge(given, query, embed)(sentence)`` gives a ``Verdict``: a supported claim (its markers normalised
to the ones the model was given), a frame (an opening line "根据《…》：") or a partial refusal, held back
until a supported claim follows, or removed. Markers naming no item the model was given are dropped and
reported as invalid citations (never a crash); a sentence left with no real citation, an uncited claim
and a sentence its cited items do not support (``grounding.support``; English sentences:
``grounding.support_crosslingual``) are removed. When only a tail of a sentence is flagged ("…，并于2026年
底前全部完成") and what comes before stands alone, only the tail goes. Every removal is listed in the
answer's grounding and in its warnings with its kind (number, entity, negation, modality, unsupported
claim, invalid citation) and why. ``Output`` keeps the model's lines and bullets. It does not call the model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from policy_assistant import grounding
from policy_assistant.compose import marker as cite_marker
from policy_assistant.core.model import Item
from policy_assistant.core.text import MARKER, bigrams
from policy_assistant.grounding import (EN_NEGATION, Grounding, SentenceCheck, english_numbers, parse_markers, resolve,
                                        strip_markers, support_crosslingual)
from policy_assistant.query import Query

if TYPE_CHECKING:
    import numpy as np

MAX_FRAME_CHARS = 80             # an uncited opening line longer than this is treated as a claim
FRAME_COVERAGE = 0.6             # share of a Chinese opening's bigrams that must come from titles/items/question
MISCITE_MARGIN = 0.25            # bigram containment by which another given item may beat the cited one
MIN_KEPT_CHARS = 6               # a trimmed sentence keeps at least this many Chinese characters
MARKER_RE = re.compile(MARKER)
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
FRAME_WORDS = ("根据", "依据", "按照", "主要", "包括", "如下", "以下", "几点", "方面", "具体", "措施", "要求", "内容",
               "提出", "明确", "有关", "相关", "关于", "其中", "文件", "规定", "要点", "涉及", "哪些", "工作", "部署")
KINDS = ("number", "entity", "negation", "modality", "unsupported claim", "invalid citation")


def with_kind(reason: str) -> str:
    """``reason`` starting with its kind ("number: …"); '' stays ''."""
    if not reason or reason.startswith(tuple(k + ":" for k in KINDS)):
        return reason
    if "number" in reason:
        return "number: " + reason
    if "negat" in reason or "'not" in reason or "n't" in reason:
        return "negation: " + reason
    if "encouraged" in reason:
        return "modality: " + reason
    return "unsupported claim: " + reason


@dataclass
class Verdict:
    kind: str                                  # "claim" (supported), "frame", "refusal", "removed"
    text: str                                  # as shown (markers normalised), or as the model wrote it
    check: SentenceCheck | None = None
    invalid: list[str] = field(default_factory=list)
    trimmed: str = ""                          # "“clause” (kind: why)" when a flagged clause was cut from it


class Judge:
    """Checks one sentence against the items the model was given (instructions withheld)."""

    def __init__(self, given: list[Item], query: Query, embed: Callable[[list[str]], np.ndarray] | None):
        self.given = given
        self.embed = embed
        self.titles = " ".join(dict.fromkeys(item.title for item in given))
        self.known_numbers = grounding.numbers(self.titles) | {str(item.year) for item in given if item.year}
        frame_source = " ".join([self.titles, query.question, query.text, *FRAME_WORDS,
                                 *(item.section for item in given), *(item.text for item in given)])
        self.frame_grams = bigrams(frame_source)

    def __call__(self, sentence: str) -> Verdict:
        labels = parse_markers(sentence)
        if not labels:
            bare = sentence.strip()
            if grounding.REFUSAL.search(bare) and not grounding.CONTRAST.search(bare) and self._harmless(bare, frame_words=False):
                return Verdict("refusal", bare)
            if bare.endswith(("：", ":")) and self._harmless(bare):
                return Verdict("frame", bare)
            return Verdict("removed", bare, SentenceCheck(bare, [], [], False, 0.0, "unsupported claim: cites no item"))
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
        shown = re.sub(r"(?<=[。！？；])[ \t]+(?=\[)", "", shown)          # "…。 [第12条]" -> "…。[第12条]"
        if not cited:
            reason = f"invalid citation: cites no item the model was given ({', '.join(invalid)})"
            return Verdict("removed", sentence, SentenceCheck(sentence, labels, [], False, 0.0, reason), invalid)
        ok, score, reason = self._support(shown, cited)
        reason = with_kind(reason)
        if not ok and (trim := self._trim(shown, cited)):
            kept, kept_score, dropped, why = trim
            check = SentenceCheck(kept, labels, cited, True, kept_score, "")
            return Verdict("claim", kept, check, invalid, trimmed=f"“{dropped}” ({why})")
        check = SentenceCheck(shown if ok else sentence, labels, cited, ok, score, reason)
        return Verdict("claim" if ok else "removed", shown if ok else sentence, check, invalid)

    def _trim(self, shown: str, cited: list[Item]) -> tuple[str, float, str, str] | None:
        """The sentence without its flagged tail, when what comes before stands alone: the first clause
        (which carries the subject) and every clause up to the first flagged one are kept, and the kept part
        must pass on its own. (kept sentence, its score, the cut text, why it was cut); None otherwise."""
        markers = "".join(MARKER_RE.findall(shown))
        body = strip_markers(shown)
        end = body[-1] if body[-1:] in "。！？!?." else "。"
        body = body.rstrip("。！？!?. ")
        parts = re.split(r"(?<=[，；,;])", body)
        if len(parts) < 2 or not CJK.search(body):
            return None
        for index in range(1, len(parts)):
            ok, _, why = self._support(parts[index].rstrip("，；,;") + end + markers, cited)
            if ok:
                continue
            kept = "".join(parts[:index]).rstrip("，；,; ")
            if len(CJK.findall(kept)) < MIN_KEPT_CHARS:
                return None
            kept_sentence = kept + end + markers
            kept_ok, kept_score, _ = self._support(kept_sentence, cited)
            if not kept_ok:
                return None
            return kept_sentence, kept_score, "".join(parts[index:]).strip("，；,; "), with_kind(why)
        return None

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


class Output:
    """The answer as shown: checked sentences in the model's lines and bullets, frames held back
    until a claim follows them, plus the record of what was removed and why."""

    def __init__(self, lang: str, originals: dict[str, Item]):
        self.lang = lang
        self.originals = originals
        self.parts: list[str] = []
        self.pending: list[tuple[Verdict, int, bool]] = []
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

    def add(self, verdict: Verdict, line: int, bullet: bool) -> Iterator[str]:
        self.sentences += 1
        for label in verdict.invalid:
            if label not in self.grounding.invalid_citations:
                self.grounding.invalid_citations.append(label)
                self.warnings.append(f"removed a citation of an item the LLM was not given: [{label}] "
                                     f"(invalid citation)")
        if verdict.kind == "removed":
            self.grounding.checks.append(verdict.check)
            self.warnings.append(f"removed an unsupported sentence: “{verdict.text}” ({verdict.check.reason})")
            return
        if verdict.trimmed:
            self.warnings.append(f"removed an unsupported clause {verdict.trimmed} from “{verdict.text}”")
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
