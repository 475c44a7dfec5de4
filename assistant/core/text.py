"""Chinese-aware text utilities shared by retrieval, answering and the eval suite.

- ``tokens``: jieba words (and lower-cased Latin words), for BM25 and follow-ups;
- ``content_tokens``: tokens minus stop words (stopwords-iso, ``stopwords.txt``) and
  question-frame words (今年, 要求, 政策 …, ``question_words.txt``), used as evidence
  that the documents talk about what was asked;
- ``sentence_spans`` / ``split_sentences``: the one sentence splitter (。！？；, newlines,
  optionally English full stops), keeping the end punctuation, closing quotes and any
  trailing citation markers with their sentence; list bullets are dropped but never the
  digits of a number ("1.5亿元"), and nothing is width-folded: sentences are as written;
- ``bigrams``: character bigrams of the CJK/alphanumeric characters.

Pure functions; jieba's dictionary loads once, lazily.
"""
from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

_JIEBA_LOCK = threading.Lock()
_jieba = None

HERE = Path(__file__).resolve().parent


def _word_file(name: str) -> frozenset[str]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for line in lines if not line.startswith("#") for w in line.split() if w.strip())


# Function words (a standard stop-word list) and question-frame words, from data files; what remains of a
# question is weighed by IDF over the index where it matters (the answerability evidence).
GENERIC_WORDS = _word_file("stopwords.txt") | _word_file("question_words.txt")
EXTRA_WORDS = tuple(sorted(_word_file("jieba_words.txt")))
# The kinds of official document a title ends with (文种: 法, 条例, 通知 …): "劳动合同法第十条" names a document
# by its title, "孩子第十条" does not (民法典: 法典). Language, not corpus words.
DOCUMENT_KIND = re.compile(r"(?:法|典|条例|规定|办法|细则|解释|决定|规则|意见|通知|方案|规划|纲要|要点|计划|标准|准则|章程)$")
CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
SENTENCE_END = "。！？；!?;"        # clause ends too: a Chinese item's "；" closes a quotable unit
FULL_STOPS = "。！？!?"             # sentence ends proper (the LLM stream cutter: "；" shares the next markers)
CLOSERS = "”’」』）)\"'"
MARKER = r"(?:\[[^\[\]\n]{1,60}\]|【[^【】\n]{1,60}】)"
MARKER_AT = re.compile(rf"[ \t]*{MARKER}")
# A list bullet at the start of a line: "- ", "•", "1." "2、" "3)" "(4)". Never the integer part of a
# number: "1.5亿元", "3.5%的学校" and "1、2号线" keep their digits.
BULLET = re.compile(r"^\s*(?:[-*•·]|\d+[.、)](?![0-9０-９])|[（(]\d+[）)])\s*")
ABBREVIATIONS = frozenset({"no", "art", "vs", "etc", "mr", "ms", "dr", "st", "nos", "fig", "sec", "approx"})


_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Full-width ASCII forms to ASCII (（一） -> (一), １２ -> 12); circled numbers and CJK untouched."""
    return (text or "").translate(_FULL_WIDTH).strip()


def _get_jieba():
    global _jieba
    if _jieba is None:
        with _JIEBA_LOCK:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                for word in EXTRA_WORDS:
                    jieba.add_word(word)
                _jieba = jieba
    return _jieba


@lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[str, ...]:
    """Words in order (jieba segments Chinese), whitespace dropped, case kept."""
    return tuple(token.strip() for token in _get_jieba().lcut(text) if token.strip())


def search_tokens(text: str) -> list[str]:
    """Tokens for BM25: words plus the character bigrams of longer Chinese words (robust to segmentation)."""
    out = []
    for token in tokens(text):
        if not (CJK_RUN.match(token) or token[:1].isalnum()):
            continue
        token = token.lower()
        out.append(token)
        if len(token) >= 3 and CJK_RUN.match(token):
            out.extend(token[i:i + 2] for i in range(len(token) - 1))
    return out


def content_tokens(text: str) -> list[str]:
    """The words that carry what the question is about."""
    out = []
    for token in tokens(text):
        token = token.lower()
        if token in GENERIC_WORDS or not (CJK_RUN.match(token) or token[:1].isalpha()):
            continue
        if CJK_RUN.match(token) and len(token) == 1:
            continue
        out.append(token)
    return out


def sentence_spans(line: str, *, ends: str = SENTENCE_END, periods: bool = False) -> list[tuple[int, int, bool]]:
    """(start, end, ended) of each sentence of one line: the project's one sentence splitter.

    A sentence runs to a run of ``ends`` characters, then any closing quotes/brackets, then any
    citation markers ("[第12条]") that follow it. With ``periods`` an ASCII "." ends an English
    sentence too, when a space, a marker, a closer or the line's end follows and it does not end an
    abbreviation ("No. 12", "e.g.", a single initial); "1.5" never ends anything. The last span
    is ``ended=False`` when the line stops without end punctuation.
    """
    spans, start, i = [], 0, 0
    while i < len(line):
        ch = line[i]
        if ch in ends or (periods and ch == "." and _period_ends(line, i)):
            j = i + 1
            while j < len(line) and (line[j] in ends or line[j] in CLOSERS or (periods and line[j] == ".")):
                j += 1
            while match := MARKER_AT.match(line, j):
                j = match.end()
            spans.append((start, j, True))
            start = i = j
            continue
        i += 1
    if start < len(line):
        spans.append((start, len(line), False))
    return spans


def _period_ends(text: str, i: int) -> bool:
    after = text[i + 1:i + 2]
    if after and after not in " \t[【" + CLOSERS:
        return False
    word = re.search(r"([A-Za-z]+)\.?$", text[:i])
    if word and (word.group(1).lower() in ABBREVIATIONS or len(word.group(1)) == 1):
        return False
    return not re.search(r"\b(?:e\.g|i\.e)$", text[:i], re.I)


def sentence_pieces(text: str, *, ends: str = SENTENCE_END) -> list[str]:
    """``text`` cut into its sentences/clauses with nothing dropped: "".join(pieces) == text."""
    pieces = []
    for line in (text or "").splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans = sentence_spans(body, ends=ends) or [(0, 0, False)]
        pieces += [body[a:b] for a, b, _ in spans[:-1]]
        a, b, _ = spans[-1]
        pieces.append(body[a:] + line[len(body):])
    return [piece for piece in pieces if piece]


def split_sentences(text: str, *, ends: str = SENTENCE_END, periods: bool = False) -> list[str]:
    """Sentences with their end punctuation and trailing markers, as written; list bullets removed."""
    out = []
    for line in (text or "").splitlines():
        line = BULLET.sub("", line)
        for begin, end, _ in sentence_spans(line, ends=ends, periods=periods):
            sentence = line[begin:end].strip()
            if sentence and re.search(r"\w", re.sub(MARKER, "", sentence)):
                out.append(sentence)
    return out


def bigrams(text: str) -> set[str]:
    """Character bigrams over the word characters (CJK, letters, digits), punctuation removed."""
    chars = re.sub(r"[\W_]+", "", text or "").lower()
    if len(chars) == 1:
        return {chars}
    return {chars[i:i + 2] for i in range(len(chars) - 1)}


@lru_cache(maxsize=1)
def _glossary() -> list[tuple[re.Pattern, tuple[str, ...]]]:
    from pathlib import Path

    entries = []
    for line in (Path(__file__).with_name("glossary_en_zh.tsv")).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            english, chinese = line.split("\t", 1)
            entries.append((english.strip().lower(), tuple(chinese.split())))
    entries.sort(key=lambda entry: -len(entry[0]))
    return [(re.compile(rf"(?<![a-z]){re.escape(english)}(?![a-z])"), terms) for english, terms in entries]


def glossary_terms(text: str) -> list[str]:
    """Chinese policy terms for the English words and phrases of ``text`` (longest phrase first)."""
    lowered = (text or "").lower()
    if not re.search("[a-z]", lowered):
        return []
    found = []
    for pattern, terms in _glossary():
        if pattern.search(lowered):
            lowered = pattern.sub(" ", lowered)
            found.extend(terms)
    return list(dict.fromkeys(found))


def query_terms(text: str) -> list[str]:
    """What a question contributes to lexical matching: its content words, and Chinese terms for its English."""
    return list(dict.fromkeys(content_tokens(text) + glossary_terms(text)))
