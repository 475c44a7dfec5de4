"""The support check: is each answer sentence backed by the items it cites?

Used by the assistant on every answer and by the eval suite on any system's
answers, so both judge alike. Deterministic and offline:

- sentences are split on 。！？；, newlines and list bullets (``assistant.text``); a
  clause that ends in ；/; with no marker of its own takes the markers of the next
  clause on its line (``A；B。[第12条]`` cites item 12 for A and B);
- citation markers are parsed in every form the assistant emits, plus [第十二条],
  [12], 【第12条】, [第12、13条], [第12-14条], [12, 13], [Item 12] and a 《title》
  prefix naming the document;
- a sentence is supported by the texts it cites when (1) the share of its character
  bigrams found in the cited text, taken for the whole sentence and for each of its
  clauses (split on ，、：), is at least ``SUPPORT_THRESHOLD`` (calibrated on
  ``eval/calibration/support_pairs.jsonl`` by ``python -m policy_assistant.eval.calibrate``); (2)
  every number, date and amount in it occurs in the cited text (Chinese numerals
  compare by value: 十所 == 10所), with the same bound (不少于, 以上 …), and so does
  every 《title》 it names; (3) its negation and modal words (不, 不得, 禁止,
  严禁, 应当, 必须, 可以, 鼓励 …) agree with the cited text's, in both directions: a
  sentence may not add one ("不鼓励…", 鼓励 -> 应当) nor drop one that governs
  what it repeats ("鼓励有条件的幼儿园开设托班" -> "有条件的幼儿园开设托班");
- several cited items support a sentence jointly when each of its clauses is
  supported by one of them (ALCE-style citation recall);
- frame sentences (an opening that ends in "：" or ":", a refusal, the fixed lines of the
  answer templates in ``prompts/``) make no claim and are not counted.

It does not judge English sentences against Chinese text (character bigrams cannot:
those come out unsupported with a reason saying so), does not retrieve and does not
rewrite answers; callers decide what to do with unsupported sentences.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable

from policy_assistant.core.model import Item, marker_label
from policy_assistant.core.numerals import cn_to_int
from policy_assistant.core.text import MARKER, bigrams, fold_width, split_sentences

# Calibrated by `python -m policy_assistant.eval.calibrate` on eval/calibration/support_pairs.jsonl (Chinese pairs):
# the middle of the widest threshold interval with the best agreement. Re-run it after changing this module.
SUPPORT_THRESHOLD = 0.42
MIN_CLAUSE_BIGRAMS = 3              # shorter clauses ("并", "同时") are judged only as part of their sentence

MARKER_RE = re.compile(MARKER)
CN_NUMERALS = "零〇一二两三四五六七八九十百千万亿"
_NUM = rf"[0-9{CN_NUMERALS}]+"
ARTICLE_SERIES = re.compile(rf"第\s*({_NUM}(?:\s*[、,，和及与]\s*第?\s*{_NUM})+)\s*条")
ARTICLE_RANGE = re.compile(rf"第?\s*({_NUM})\s*条?\s*(?:-|－|–|—|~|～|至|到)\s*第?\s*({_NUM})\s*(条?)")
LABEL_PREFIX = re.compile(r"^(?:(?:item|items|article|articles|art\.|no\.|§)\s*|(?:来源|出处|参见|见|依据|引自)\s*[:：]?\s*)",
                          re.IGNORECASE)
TITLE_PREFIX = re.compile(r"^《([^》]+)》\s*")
CLAUSE_SPLIT = re.compile(r"[，,、：:]")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")

# Negation and modality. Words of one group may stand for each other (应当 ~ 必须); any other change is flagged.
MODAL_GROUPS = (
    ("不得", "禁止", "严禁", "不准", "不许"),      # prohibition
    ("应当", "必须", "务必"),                      # obligation
    ("可以",),                                     # permission
    ("鼓励",),                                     # encouragement
    ("不再", "暂停", "取消", "不予"),              # withdrawal
    ("一律",),                                     # without exception
)
MODAL_WORDS = tuple(word for group in MODAL_GROUPS for word in group)
_GROUP_OF = {word: group for group in MODAL_GROUPS for word in group}
NEGATION = re.compile(r"(?:没有|不|未|无|非|勿)(?=[\u4e00-\u9fff])")
# Words that start with a negation character but negate nothing.
NOT_NEGATIONS = ("不断", "不仅", "不但", "不论", "不管", "无论", "非常", "未来", "不久", "不同", "无比")
DROP_WINDOW = 4                     # characters after a modal word of the cited text that tie it to a sentence

NUMBER_DIGITS = re.compile(r"\d+(?:\.\d+)?")
NUMBER_CN = re.compile(rf"[{CN_NUMERALS}]+")
# Words with numeral characters that count nothing.
NOT_NUMBERS = re.compile(rf"(?<![{CN_NUMERALS}])(?:十分(?!钟)|" + "|".join(sorted("""
统一 一体 一流 一步 一律 一起 一般 一定 一直 一致 一切 唯一 之一 一方面 一系列 一线 一道 一同 逐一 一贯 一度 一旦 一再
一举 万一 一样 一边 一下 一并 一点 一些 一时 一带一路 千方百计 万众 百姓 一心 一意 三心二意 一手 一站式 一网通办
一件事 一揽子 一对一 一环 一脉 一览 一番 一向 一概 千家万户 四面八方 五湖四海 一以贯之 一体化 统一的 万物 千万
""".split(), key=len, reverse=True)) + ")")
# Bounds on a number: a sentence may not turn "不少于四名" into "四名" or "至多四名".
BOUND_BEFORE = {"不低于": "min", "不少于": "min", "至少": "min", "最少": "min", "超过": "min", "高于": "min",
                "多于": "min", "不超过": "max", "不高于": "max", "至多": "max", "最多": "max", "低于": "max",
                "少于": "max", "不足": "max", "约": "about", "大约": "about"}
BOUND_AFTER = re.compile(r"^(?:个百分点|个工作日|个月|小时|分钟|课时|学时|万元|亿元|平方米|公里|"
                         r"[个名所人元次年天日月周时分秒节项条家批倍克米岁级%])?(以上|以下|以内|左右)")
BOUND_AFTER_KIND = {"以上": "min", "以下": "max", "以内": "max", "左右": "about"}
REFERENCE = re.compile(rf"第\s*{_NUM}\s*(?:条|款|项|章|节|部分)")
# Words that attribute or connect ("文件提出，", "根据第12条，", "此外，") and say nothing the cited text must hold.
DISCOURSE = re.compile(rf"第\s*{_NUM}\s*(?:条|款|项|章|节|部分)|(?:根据|依据|按照)《[^》]*》"
                       r"|《[^》]*》(?:中|里)?(?:提出|指出|要求|明确|强调|规定|提到)|(?:该|本|这份|此)(?:文件|要点|通知|方案|办法|条目|条)"
                       r"|(?:文件|要点)(?:中|里|里面)?|根据|依据|按照|提出|指出|强调|表示|提到|写道|此外|另外|同时|其中"
                       r"|具体来说|具体而言|总的来说|总之|首先|其次|再次|最后|方面|还有")
REFUSAL_FRAME = re.compile(r"^(?:该|本|这份)?(?:文件|要点|通知|方案|办法|文档|材料)(?:中|里|里面)?(?:并)?(?:没有|未|没)"
                           r"(?:提到|提及|涉及|找到|规定|说明|明确|写明|回答)|^(?:没有|未能?)找到|^(?:the|this) (?:document|plan|notice|text)s?"
                           r" (?:does|do|did) not|^i (?:could|can)(?:not|n't) find", re.IGNORECASE)
CONTRAST = re.compile(r"但|但是|不过|然而|而是|however|but", re.IGNORECASE)


@dataclass
class SentenceCheck:
    sentence: str
    cited: list[str]                      # the raw labels in its markers
    items: list[Item]                     # the items those resolve to
    supported: bool
    score: float                          # bigram containment (weakest clause) over its cited items
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


# -- markers ------------------------------------------------------------------------------------
def parse_markers(sentence: str) -> list[str]:
    """The labels cited by a sentence: '[第12、13条]' -> ['第12条', '第13条']; titles kept as '《t》label'."""
    labels: list[str] = []
    for raw in MARKER_RE.findall((sentence or "").translate(_BRACKETS)):
        inner = fold_width(raw[1:-1])
        title = ""
        if match := TITLE_PREFIX.match(inner):
            title, inner = match.group(0).strip(), inner[match.end():]
        inner = LABEL_PREFIX.sub("", inner).strip()
        if (series := ARTICLE_SERIES.fullmatch(inner)) is not None:   # [第12、13条] -> 第12条, 第13条
            labels += [f"{title}第{number}条" for number in re.split(r"\s*[、,，和及与]\s*第?\s*", series.group(1))]
            continue
        if (span := ARTICLE_RANGE.fullmatch(inner)) is not None and (expanded := _expand_range(span)):
            labels += [title + label for label in expanded]
            continue
        labels += [title + LABEL_PREFIX.sub("", part) for part in re.split(r"[、,，;；]\s*|\s+", inner)
                   if LABEL_PREFIX.sub("", part).strip()]
    return labels


def _expand_range(span: re.Match) -> list[str]:
    """'第12-14条' -> 第12条, 第13条, 第14条 (at most 20); [] when it is no range of numbers."""
    low, high = cn_to_int(span.group(1)), cn_to_int(span.group(2))
    if low is None or high is None or not 0 < high - low < 20:
        return []
    article = span.group(0).startswith("第") or bool(span.group(3))
    return [f"第{n}条" if article else str(n) for n in range(low, high + 1)]


def strip_markers(sentence: str) -> str:
    return MARKER_RE.sub("", (sentence or "").translate(_BRACKETS)).strip()


def resolve(label: str, items: Iterable[Item]) -> list[Item]:
    """The items a cited label names, among ``items``; empty when it names none."""
    title = ""
    label = _norm(label)
    if match := TITLE_PREFIX.match(label):
        title, label = match.group(1), label[match.end():]
    if not label:
        return []
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


def support_text(item: Item) -> str:
    """What a citation of ``item`` vouches for: the item's text under its document title and headings."""
    return "\n".join(part for part in (item.title, *item.headings, item.text) if part)


# -- sentences ----------------------------------------------------------------------------------
def claims(answer: str) -> list[tuple[str, list[str]]]:
    """The answer's sentences that make a claim, each with the labels it cites (frames left out)."""
    out: list[tuple[str, list[str]]] = []
    for line in (answer or "").splitlines():
        sentences = [(sentence, parse_markers(sentence)) for sentence in _split_line(line)]
        carried: list[str] = []
        for index in range(len(sentences) - 1, -1, -1):          # a bare clause ending in ； takes the next markers
            sentence, labels = sentences[index]
            if labels:
                carried = labels
            elif carried and strip_markers(sentence).endswith(("；", ";")):
                sentences[index] = (sentence, list(carried))
            else:
                carried = []
        out += [(sentence, labels) for sentence, labels in sentences if not is_frame(sentence)]
    return out


def _split_line(line: str) -> list[str]:
    """``split_sentences`` of one line, with full-width brackets ［第12条］ read as markers too; the
    sentences are returned as written."""
    if "［" not in line:
        return split_sentences(line)
    folded = line.translate(_BRACKETS)                     # one character for one: positions are kept
    out, cursor = [], 0
    for sentence in split_sentences(folded):
        start = folded.find(sentence, cursor)
        if start < 0:                                      # bullets are dropped, nothing else is rewritten
            out.append(sentence)
            continue
        out.append(line[start:start + len(sentence)])
        cursor = start + len(sentence)
    return out


_BRACKETS = str.maketrans("［］", "[]")


def is_frame(sentence: str) -> bool:
    """Openings, refusals and the fixed lines of prompts/ make no claim of their own."""
    if MARKER_RE.search((sentence or "").translate(_BRACKETS)):
        return False
    bare = strip_markers(sentence)
    if bare.endswith(("：", ":")) or bare.startswith(("文件中没有", "The document")):
        return True
    if REFUSAL_FRAME.search(bare) and not CONTRAST.search(bare):
        return True
    return any(pattern.fullmatch(bare) for pattern in _template_frames())


# The templates of prompts/ whose lines frame an answer (openings, refusals, list headings); not the LLM
# prompts, whose example sentences are claims.
FRAME_TEMPLATES = ("answer_intro", "section_intro", "compare_intro", "lookup_missing", "refusal", "suggestions")


@lru_cache(maxsize=1)
def _template_frames() -> tuple[re.Pattern, ...]:
    """Each sentence of each prompts/ template, its $variables as wildcards."""
    from pathlib import Path

    from policy_assistant import prompts

    patterns = []
    for path in sorted(Path(prompts.HERE).glob("*.txt")):
        if path.name.split(".")[0] not in FRAME_TEMPLATES:
            continue
        for sentence in split_sentences(path.read_text(encoding="utf-8")):
            literal = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "\0", sentence.strip())
            if len(literal.replace("\0", "").strip()) < 4:      # nearly all variable: would match anything
                continue
            patterns.append(re.compile(".+?".join(re.escape(part) for part in literal.split("\0")), re.S))
    return tuple(patterns)


# -- support ------------------------------------------------------------------------------------
def support(sentence: str, texts: list[str]) -> tuple[bool, float, str]:
    """Whether ``sentence`` (markers stripped) is backed by ``texts``: by one of them, or jointly
    (each clause by one of them). Returns (supported, score, reason); score is the bigram
    containment of the weakest part (the whole sentence or a clause) in the best case."""
    claim = strip_markers(sentence)
    grams = _content_grams(claim)
    if not grams:
        return True, 1.0, ""
    texts = [text for text in texts if text]
    if not texts:
        return False, 0.0, "no cited item"
    parts = _clauses(claim)
    best = (False, -1.0, "")
    for text in texts:
        verdict = _judge(claim, grams, parts, text)
        if verdict[0]:
            return verdict
        if verdict[1] > best[1]:
            best = verdict
    if len(texts) > 1 and len(parts) > 1:
        joint = _judge_jointly(claim, grams, parts, texts)
        if joint[0]:
            return joint
    ok, score, reason = best
    if not CJK.search(claim) and LATIN_WORD.search(claim):
        reason = "not Chinese: character bigrams cannot judge it against the cited text"
    return ok, round(max(score, 0.0), 4), reason


def containment(claim: str, text: str) -> float:
    """The share of the claim's character bigrams found in the text."""
    grams = bigrams(claim)
    return len(grams & bigrams(text)) / len(grams) if grams else 1.0


def _content_grams(text: str) -> set[str]:
    """The bigrams of what ``text`` claims: attribution and connectives ("文件提出", "此外") left out,
    no bigram made across one."""
    grams: set[str] = set()
    for part in DISCOURSE.split(text):
        if len(re.sub(r"[\W_]+", "", part)) >= 2:
            grams |= bigrams(part)
    return grams


def _clauses(claim: str) -> list[str]:
    return [part for part in CLAUSE_SPLIT.split(claim) if len(_content_grams(part)) >= MIN_CLAUSE_BIGRAMS]


def assess(sentence: str, text: str) -> tuple[float, str]:
    """The two halves of the support check of ``sentence`` against one ``text``: the bigram containment
    of its weakest part (the whole sentence or a clause), and why the number or negation/modality rules
    reject it ('' when they do not). ``support`` is: score >= SUPPORT_THRESHOLD and no such reason."""
    claim = strip_markers(sentence)
    grams = _content_grams(claim)
    if not grams:
        return 1.0, ""
    score, _ = _weakest(grams, _clauses(claim), bigrams(text))
    return score, _rules(claim, text)


def _weakest(grams: set[str], parts: list[str], text_grams: set[str]) -> tuple[float, str]:
    weakest, weakest_part = len(grams & text_grams) / len(grams), ""
    if len(parts) > 1:
        for part in parts:
            part_grams = _content_grams(part)
            share = len(part_grams & text_grams) / len(part_grams)
            if share < weakest:
                weakest, weakest_part = share, part
    return round(weakest, 4), weakest_part


def _rules(claim: str, text: str) -> str:
    if missing := unbacked_numbers(claim, text):
        return f"number(s) {', '.join(missing)} not in the cited text"
    if titles := unbacked_titles(claim, text):
        return f"{'、'.join(titles)} is not in the cited text"
    return bound_mismatch(claim, text) or modality_mismatch(claim, text)


def _judge(claim: str, grams: set[str], parts: list[str], text: str) -> tuple[bool, float, str]:
    score, weakest_part = _weakest(grams, parts, bigrams(text))
    if score < SUPPORT_THRESHOLD:
        where = f"“{weakest_part}”: " if weakest_part else ""
        return False, score, f"{where}only {score:.0%} of it is in the cited text"
    if reason := _rules(claim, text):
        return False, score, reason
    return True, score, ""


def _judge_jointly(claim: str, grams: set[str], parts: list[str], texts: list[str]) -> tuple[bool, float, str]:
    """Each clause backed by one text, and the sentence by all of them together."""
    weakest = 1.0
    for part in parts:
        verdicts = [_judge(part, _content_grams(part), [part], text) for text in texts]
        good = [verdict[1] for verdict in verdicts if verdict[0]]
        if not good:
            return False, max(verdict[1] for verdict in verdicts), f"“{part}” is not in any cited text"
        weakest = min(weakest, max(good))
    ok, score, reason = _judge(claim, grams, [claim], "\n".join(texts))
    return ok, round(min(score, weakest), 4), reason


def unbacked_titles(claim: str, text: str) -> list[str]:
    """The 《titles》 named in ``claim`` that ``text`` does not name: a document's name is exact, like a number."""
    plain = _bare(fold_width(text))
    return [f"《{title}》" for title in re.findall(r"《([^》]{1,80})》", claim) if _bare(fold_width(title)) not in plain]


# -- numbers ------------------------------------------------------------------------------------
def numbers(text: str) -> set[str]:
    """The values of the numbers in ``text``: digits ('10', '2025', '0.5') and Chinese numerals ('十' -> '10')."""
    return {value for value, _, _ in _number_mentions(text)}


def unbacked_numbers(claim: str, text: str) -> list[str]:
    """The numbers of ``claim`` that ``text`` does not have. Digits must occur in the text as a value
    (10 == 十 == 10); a Chinese numeral must occur with the word it counts (十所 matches 10所 and
    十所, 三级 does not match 四级), so that 一批 or “十五五” need not be numbers of the text elsewhere."""
    normal = _normalise_numbers(claim)
    normal = REFERENCE.sub(" ", normal)                     # "第12条" in a sentence refers, it does not count
    text_norm = _normalise_numbers(text)
    mentions = _number_mentions(text)
    values = {value for value, _, _ in mentions}
    counted = {(value, unit) for value, _, unit in mentions}
    missing = []
    for value, raw, unit in _number_mentions(normal, normalised=True):
        if raw[0].isdigit():
            ok = value in values
        elif unit:
            ok = raw + unit in text_norm or (value, unit) in counted
        else:
            ok = raw in text_norm or value in values
        if not ok and raw not in missing:
            missing.append(raw + (unit if not raw[0].isdigit() else ""))
    return missing


def bound_mismatch(claim: str, text: str) -> str:
    """Why a number's bound (不少于, 以上, 约 …) in ``claim`` differs from every occurrence of that
    number in ``text``; '' when one agrees (or the number is not in the text: that is another rule)."""
    claim_norm, text_norm = _normalise_numbers(claim), _normalise_numbers(text)
    in_text: dict[str, set] = {}
    for value, start, end in _number_spans(text_norm):
        in_text.setdefault(value, set()).add(_bound(text_norm, start, end))
    for value, start, end in _number_spans(REFERENCE.sub(lambda m: " " * len(m.group(0)), claim_norm)):
        if value in in_text and (bound := _bound(claim_norm, start, end)) not in in_text[value]:
            said = " or ".join(sorted(b or "exactly" for b in in_text[value]))
            return f"the cited text bounds {claim_norm[start:end]} as {said}, not {bound or 'exactly'}"
    return ""


def _bound(text: str, start: int, end: int) -> str:
    before = text[max(0, start - 3):start]
    for word, kind in sorted(BOUND_BEFORE.items(), key=lambda kv: -len(kv[0])):
        if before.endswith(word):
            return kind
    if match := BOUND_AFTER.match(text[end:end + 8]):
        return BOUND_AFTER_KIND[match.group(1)]
    return ""


def _number_spans(text: str) -> list[tuple[str, int, int]]:
    """(value, start, end) of each number of an already normalised text."""
    out = [(_digit_value(m.group(0)), m.start(), m.end()) for m in NUMBER_DIGITS.finditer(text)]
    masked = NOT_NUMBERS.sub(lambda m: "□" * len(m.group(0)), text)
    for match in NUMBER_CN.finditer(masked):
        value = _cn_value(match.group(0))
        if value is not None:
            out.append((value, match.start(), match.end()))
    return out


def _normalise_numbers(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)      # 1,500 -> 1500


def _number_mentions(text: str, normalised: bool = False) -> list[tuple[str, str, str]]:
    """(value, raw, the CJK character after it or '') for every number of ``text``."""
    text = text if normalised else _normalise_numbers(text)
    out = []
    for match in NUMBER_DIGITS.finditer(text):
        raw = match.group(0)
        out.append((_digit_value(raw), raw, _unit_after(text, match.end())))
    masked = NOT_NUMBERS.sub(lambda m: "□" * len(m.group(0)), text)
    for match in NUMBER_CN.finditer(masked):
        raw = match.group(0)
        value = _cn_value(raw)
        out.append((value if value is not None else raw, raw, _unit_after(text, match.end())))
    return out


def _unit_after(text: str, end: int) -> str:
    following = text[end:end + 1]
    return following if following and (CJK.match(following) or following == "%") else ""


def _digit_value(raw: str) -> str:
    if "." in raw:
        return format(float(raw), "g")
    return str(int(raw))


def _cn_value(raw: str) -> str | None:
    """'十' -> '10', '两万' -> '20000', '二〇二五' -> '2025'; None for runs that are names, not values ('十五五')."""
    value = cn_to_int(raw, positional=len(raw) == 4)
    return None if value is None else str(value)


# -- negation and modality ----------------------------------------------------------------------
def modality_mismatch(claim: str, text: str) -> str:
    """Why the negation/modal words of ``claim`` and ``text`` disagree; '' when they agree."""
    for word in MODAL_WORDS:                                  # added (or changed) by the sentence
        if word in claim and not any(other in text for other in _GROUP_OF[word]):
            return f"'{word}' is not what the cited text says"
    for match in _negations(claim):
        phrase = claim[match.start():match.end() + 2]
        if phrase not in text:
            return f"'{phrase}' negates what the cited text says"
    for word in MODAL_WORDS:                                  # dropped by the sentence
        if word in claim or any(other in claim for other in _GROUP_OF[word]):
            continue
        for start in _find_all(text, word):
            if _governs(text, word, start + len(word), claim):
                return f"drops '{word}' of the cited text"
    for match in _negations(text):
        if claim.find(text[match.start():match.end() + 1]) >= 0:
            continue
        if _governs(text, match.group(0), match.end(), claim):
            return f"drops '{match.group(0)}' of the cited text"
    return ""


def _negations(text: str) -> list[re.Match]:
    out = []
    for match in NEGATION.finditer(text):
        word = text[match.start():match.start() + 2]
        if word in NOT_NEGATIONS:
            continue
        if any(text.startswith(modal, match.start()) for modal in MODAL_WORDS):
            continue                                          # 不得, 不再 …: judged as modal words
        out.append(match)
    return out


def _governs(text: str, word: str, end: int, claim: str) -> bool:
    """Whether the words right after ``word`` in ``text`` (what it negates or qualifies) are repeated in
    ``claim``, and nowhere else in ``text`` do those words stand without ``word``."""
    window = _bare(text[end:end + DROP_WINDOW + 4])[:DROP_WINDOW]
    if len(window) < DROP_WINDOW or window not in _bare(claim):
        return False
    bare_text = _bare(text)
    return bare_text.count(window) == bare_text.count(_bare(word) + window)


def _bare(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _find_all(text: str, word: str) -> list[int]:
    return [match.start() for match in re.finditer(re.escape(word), text)]


# -- the check ----------------------------------------------------------------------------------
def check(answer: str, items: list[Item], fallback: Callable[[], list[Item]] | None = None) -> Grounding:
    """Check every claim of ``answer`` against the items its markers cite.

    ``items`` are the citable items (the index, or one document's items). A
    sentence with no marker is checked against ``fallback()`` items (e.g. the
    retrieved ones) and is unsupported when that is empty.
    """
    grounding = Grounding()
    fallback_items: list[Item] | None = None
    for sentence, labels in claims(answer):
        cited: list[Item] = []
        for label in labels:
            found = resolve(label, items)
            if not found and label not in grounding.invalid_citations:
                grounding.invalid_citations.append(label)
            cited.extend(item for item in found if item not in cited)
        if labels and not cited:
            grounding.checks.append(SentenceCheck(sentence, labels, [], False, 0.0, "cites no real item"))
            continue
        if labels:
            pool = cited
        else:
            if fallback_items is None:
                fallback_items = list(fallback()) if fallback else []
            pool = fallback_items
        ok, score, reason = support(sentence, [support_text(item) for item in pool])
        if not labels and not pool:
            reason = "cites no item"
        grounding.checks.append(SentenceCheck(sentence, labels, cited, ok, score, reason))
    return grounding
