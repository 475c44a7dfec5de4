"""The support check: is each answer sentence backed by the items it cites?

Used by the assistant on every answer and by the eval suite on any system's
answers, so both judge alike. Deterministic and offline:

- sentences are split on 。！？；, newlines and list bullets (``assistant.text``);
- citation markers are parsed in every form the assistant emits, plus
  [第十二条], [12], 【第12条】, [第12、13条] and a 《title》 prefix naming the document;
- a sentence is supported when its character bigrams are contained in the cited
  item's text above ``SUPPORT_THRESHOLD`` (calibrated on
  ``eval/calibration/support_pairs.jsonl``), every number in it occurs in the item,
  and its negation/modal words (不得, 禁止, 应当, 可以, 鼓励, 严禁, 不 …) agree with the item's;
- frame sentences (an opening that ends in "：" or ":", a refusal) make no claim and are not counted.

It does not retrieve and does not rewrite answers; callers decide what to do with
unsupported sentences.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable

from assistant.model import Item, marker_label
from assistant.query import cn_to_int
from assistant.text import MARKER, bigrams, fold_width, split_sentences

SUPPORT_THRESHOLD = 0.7
MARKER_RE = re.compile(MARKER)
ARTICLE_SERIES = re.compile(r"第\s*([0-9零一二两三四五六七八九十百]+(?:\s*[、,，和及]\s*第?\s*[0-9零一二两三四五六七八九十百]+)+)\s*条")
TITLE_PREFIX = re.compile(r"^《([^》]+)》\s*")
MODAL_WORDS = ("不得", "禁止", "严禁", "应当", "必须", "可以", "鼓励", "不再", "不予", "暂停", "取消")
NEGATED = re.compile(r"(?:不|未|无|非|没有|勿)(?=[\u4e00-\u9fff])")
NUMBER = re.compile(r"\d+(?:[.,．]\d+)*%?|[零〇一二两三四五六七八九十百千万亿]+(?=[所个项条名人元万亿%％倍年月日天次批类家])")


@dataclass
class SentenceCheck:
    sentence: str
    cited: list[str]                      # the raw labels in its markers
    items: list[Item]                     # the items those resolve to
    supported: bool
    score: float                          # best bigram containment over its cited items
    reason: str = ""                      # why not supported


@dataclass
class Grounding:
    checks: list[SentenceCheck] = field(default_factory=list)
    invalid_citations: list[str] = field(default_factory=list)    # markers that name no real item

    @property
    def sentences(self) -> int:
        return len(self.checks)

    @property
    def supported(self) -> int:
        return sum(1 for check in self.checks if check.supported)

    @property
    def score(self) -> float:
        return round(self.supported / self.sentences, 4) if self.checks else 1.0

    def to_json(self) -> dict:
        return {"sentences": self.sentences, "supported": self.supported, "score": self.score,
                "unsupported": [c.sentence for c in self.checks if not c.supported],
                "invalid_citations": list(self.invalid_citations)}


def parse_markers(sentence: str) -> list[str]:
    """The labels cited by a sentence: '[第12、13条]' -> ['第12条', '第13条']; titles kept as '《t》label'."""
    labels = []
    for raw in MARKER_RE.findall(sentence):
        inner = fold_width(raw[1:-1])
        title = ""
        if match := TITLE_PREFIX.match(inner):
            title, inner = match.group(0).strip(), inner[match.end():]
        if (series := ARTICLE_SERIES.fullmatch(inner)) is not None:   # [第12、13条] -> 第12条, 第13条
            labels += [f"{title}第{number}条" for number in re.split(r"[、,，和及]\s*第?", series.group(1))]
            continue
        labels += [title + part for part in re.split(r"[、,，;；]\s*|\s+", inner) if part.strip()]
    return labels


def strip_markers(sentence: str) -> str:
    return MARKER_RE.sub("", sentence).strip()


def resolve(label: str, items: Iterable[Item]) -> list[Item]:
    """The items a cited label names, among ``items``; empty when it names none."""
    title = ""
    label = _norm(label)
    if match := TITLE_PREFIX.match(label):
        title, label = match.group(1), label[match.end():]
    wanted_number = _number_of(label)
    found = []
    for item in items:
        if title and title not in (_norm(item.title), _norm(item.doc)):
            continue
        if label in (_norm(item.item), _norm(item.path_id), _norm(marker_label(item.item)), _norm("".join(item.path))):
            found.append(item)
        elif wanted_number is not None and _number_of(item.item) == wanted_number and _same_kind(label, item.item):
            found.append(item)
    return found


_norm = fold_width      # full-width and half-width forms compare equal: （一） == (一)


def _number_of(label: str) -> int | None:
    core = re.sub(r"^第|[条]$", "", label.strip())
    return cn_to_int(core)


def _same_kind(cited: str, label: str) -> bool:
    """'第12条' and '12' are one kind (numbered items); '（三）' is not '第三条'."""
    bare = lambda text: re.sub(r"^第|条$", "", text)  # noqa: E731
    return bare(cited) != cited or cited.isdigit() or bare(label) != label or label.isdigit()


def numbers(text: str) -> set[str]:
    out = set()
    for raw in NUMBER.findall(unicodedata.normalize("NFKC", text)):
        value = cn_to_int(raw) if not raw[0].isdigit() else None
        out.add(str(value) if value is not None else raw.replace(",", ""))
    return out


def support(sentence: str, item_texts: list[str]) -> tuple[bool, float, str]:
    """Whether ``sentence`` (markers stripped) is backed by one of ``item_texts``."""
    claim = strip_markers(sentence)
    grams = bigrams(claim)
    if not grams:
        return True, 1.0, ""
    best_score, best_reason = 0.0, "no cited item"
    for text in item_texts:
        score = len(grams & bigrams(text)) / len(grams)
        reason = ""
        if score < SUPPORT_THRESHOLD:
            reason = f"only {score:.0%} of it is in the cited text"
        elif missing := numbers(claim) - numbers(text):
            reason = f"number(s) {', '.join(sorted(missing))} not in the cited text"
        elif (modal := _modality_mismatch(claim, text)):
            reason = modal
        if not reason:
            return True, score, ""
        if score >= best_score:
            best_score, best_reason = score, reason
    return False, best_score, best_reason


def _modality_mismatch(claim: str, text: str) -> str:
    for word in MODAL_WORDS:
        if word in claim and word not in text:
            return f"'{word}' is not what the cited text says"
    for match in NEGATED.finditer(claim):
        phrase = claim[match.start():match.end() + 2]
        if phrase not in text:
            return f"'{phrase}' negates what the cited text says"
    return ""


def is_frame(sentence: str) -> bool:
    """Openings and refusals make no claim of their own."""
    bare = strip_markers(sentence)
    return not MARKER_RE.search(sentence) and (bare.endswith(("：", ":")) or bare.startswith(("文件中没有", "The document")))


def check(answer: str, items: list[Item], fallback: Callable[[], list[Item]] | None = None) -> Grounding:
    """Check every claim of ``answer`` against the items its markers cite.

    ``items`` are the citable items (the index, or one document's items). A
    sentence with no marker is checked against ``fallback()`` items (e.g. the
    retrieved ones) and is unsupported when that is empty.
    """
    grounding = Grounding()
    for sentence in split_sentences(answer):
        if is_frame(sentence):
            continue
        labels = parse_markers(sentence)
        cited: list[Item] = []
        for label in labels:
            found = resolve(label, items)
            if not found:
                grounding.invalid_citations.append(label)
            cited.extend(found)
        pool = cited if labels else (fallback() if fallback else [])
        if labels and not cited:
            grounding.checks.append(SentenceCheck(sentence, labels, [], False, 0.0, "cites no real item"))
            continue
        ok, score, reason = support(sentence, [item.text for item in pool])
        grounding.checks.append(SentenceCheck(sentence, labels, cited, ok, score, reason))
    return grounding
