"""Understand a question before retrieval: validate, detect its language, rewrite
follow-ups from the history, spot direct item/section lookups and year words.

"第12条是什么" and "第五部分有哪些" become lookups that the retriever answers from the
item index, without vector search. "那高中呢？" after "学前教育今年有什么要求" becomes
"高中今年有什么要求". Year words (今年/去年/2024年, "this year") are kept as
``YearRef`` values; which document edition they mean is decided by the retriever,
which knows the index. This module loads no models and does no retrieval.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from policy_assistant.core.errors import BadInput
from policy_assistant.language import detect_language
from policy_assistant.core.numerals import cn_to_int
from policy_assistant.core.text import DOCUMENT_KIND, GENERIC_WORDS, content_tokens, tokens

NUMBER = r"[0-9０-９零〇一二两三四五六七八九十百千]+"
ITEM_LOOKUP = re.compile(rf"第\s*({NUMBER})\s*[条項项]|(?:item|article|point|no\.?)\s*#?\s*(\d+)", re.I)
SECTION_LOOKUP = re.compile(rf"第\s*({NUMBER})\s*(?:部分|章|节|大项|方面|板块|块)|(?:section|part|chapter)\s+(\d+|[ivx]+)\b", re.I)
YEAR = re.compile(r"(?<!\d)(20\d{2})\s*(?:年|年度)?(?!\d)")
THIS_YEAR = re.compile(r"今年|本年度|this year|current year", re.I)
LAST_YEAR = re.compile(r"去年|上一年|上年度|last year|previous year", re.I)
COMPARE = re.compile(r"相比|对比|比较|变化|区别|不同|有何变|有什么变|changed?|differen|compare", re.I)
FOLLOW_UP_START = re.compile(r"^(?:那么?|那如果|还有|另外|再问一下|and\s+|what about\s+|how about\s+|and what about\s+)", re.I)
FOLLOW_UP_END = re.compile(r"(?:呢|的呢|怎么样|如何)?\s*[？?。.!！]*$")
CJK_ONLY = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
QUOTED_TITLE = re.compile(r"《([^《》]{2,60})》\s*(?:的)?\s*$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


@dataclass(frozen=True)
class YearRef:
    kind: str            # "this" (今年 or no year), "last" (去年), "exact"
    year: int | None = None


@dataclass
class Query:
    question: str                       # as asked (cleaned)
    text: str                           # what retrieval uses: the follow-up rewritten in full
    language: str
    doc: str | None = None              # restrict to one document
    item_number: int | None = None      # "第12条" -> 12
    named_title: str | None = None      # the title the lookup names: "劳动合同法第十条" -> 劳动合同法
    section_number: int | None = None   # "第五部分" -> 5
    years: list[YearRef] = field(default_factory=list)
    compare: bool = False               # "今年和去年相比…": two editions side by side
    rewritten: bool = False

    @property
    def lookup(self) -> bool:
        return self.item_number is not None or self.section_number is not None


def clean_question(question: str, max_chars: int) -> str:
    if question is None:
        raise BadInput("the question is empty")
    text = CONTROL.sub(" ", unicodedata.normalize("NFC", str(question)))
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise BadInput("the question is empty")
    if len(text) > max_chars:
        raise BadInput(f"the question is {len(text)} characters long; the limit is {max_chars}. "
                       f"Ask about one point at a time")
    return text


def understand(question: str, history: list[str] | tuple = (), doc: str | None = None,
               max_chars: int = 2000) -> Query:
    text = clean_question(question, max_chars)
    previous = None
    for earlier in history or ():
        try:
            earlier_text = clean_question(earlier, max_chars)
        except BadInput:
            continue
        previous = _rewrite(earlier_text, previous) if previous else earlier_text
    retrieval_text = _rewrite(text, previous) if previous else text
    query = Query(question=text, text=retrieval_text, language=detect_language(text), doc=doc,
                  rewritten=retrieval_text != text)
    _read_lookups(query)
    _read_years(query)
    return query


def _read_lookups(query: Query) -> None:
    own = query.question
    if match := ITEM_LOOKUP.search(own):
        query.item_number = cn_to_int(match.group(1) or match.group(2))
    elif match := SECTION_LOOKUP.search(own):
        raw = match.group(1) or match.group(2)
        query.section_number = ROMAN.get(raw.lower()) or cn_to_int(raw)
    if match:
        query.named_title = named_title(own[:match.start()])


def named_title(before: str) -> str | None:
    """The document title right before a lookup ("请问劳动合同法第十条" -> 劳动合同法, "《某某通知》第三条" -> 某某通知):
    the words back to the first function or question-frame word, when they end with a kind of document."""
    if match := QUOTED_TITLE.search(before):
        return match.group(1).strip()
    words: list[str] = []
    for token in reversed(tokens(before.rstrip(" 的"))):
        if not CJK_ONLY.fullmatch(token) or token in GENERIC_WORDS:
            break
        words.insert(0, token)
    name = "".join(words)
    return name if len(name) >= 3 and DOCUMENT_KIND.search(name) else None


def _read_years(query: Query) -> None:
    text = query.text
    refs = [YearRef("exact", int(y)) for y in YEAR.findall(text)]
    if THIS_YEAR.search(text):
        refs.append(YearRef("this"))
    if LAST_YEAR.search(text):
        refs.append(YearRef("last"))
    query.years = list(dict.fromkeys(refs))
    query.compare = len(query.years) >= 2 and bool(COMPARE.search(text))


def is_follow_up(text: str) -> bool:
    core = _topic_of(text)
    return bool(FOLLOW_UP_START.search(text)) or (text.rstrip("？?。. ").endswith("呢") and len(core) <= 12) \
        or (bool(ITEM_LOOKUP.search(text) is None) and len(content_tokens(text)) <= 1 and len(text) <= 8)


def _topic_of(text: str) -> str:
    core = FOLLOW_UP_START.sub("", text.strip())
    return FOLLOW_UP_END.sub("", core).strip(" ，,")


def _rewrite(text: str, previous: str) -> str:
    """Carry an elliptical follow-up over the previous question: swap in the new topic."""
    if not is_follow_up(text):
        return text
    topic = _topic_of(text)
    if not topic or ITEM_LOOKUP.search(topic) or SECTION_LOOKUP.search(topic):
        return topic or text
    pieces, replaced = [], False
    topical = set(content_tokens(previous))
    for token in tokens(previous):
        if token.lower() in topical and not THIS_YEAR.fullmatch(token) and not LAST_YEAR.fullmatch(token):
            if not replaced:
                pieces.append(topic)
                replaced = True
            continue
        pieces.append(token)
    rewritten = re.sub(r"[，,、；;\s]+(?=[？?。.!！]|$)", "", "".join(_join(pieces)))
    return rewritten if replaced else f"{topic} {previous}"


def _join(pieces: list[str]):
    for index, piece in enumerate(pieces):
        if index and piece[:1].isascii() and piece[:1].isalnum() and pieces[index - 1][-1:].isalnum():
            yield " "
        yield piece
