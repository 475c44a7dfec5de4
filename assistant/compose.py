"""The extractive generator: answers made only of the items' own sentences.

Every sentence of an answer is quoted verbatim from an item, so grounding is
1.0 by construction. Consecutive sentences from one item share one marker
([第12条] for "12." style items, the document's own label otherwise) at the end
of their run: one line per item ("A。B。[第12条]"), or, in a section listing, the
item's heading sentence with its marker and the item's other sentences as a
nested list under it. ``grounding.claims`` reads both layouts back as one cited
item per sentence. The answer opens with the document and year it draws on,
lists several items as a list, adds a secondary item only when it covers
question words the first one does not, and puts an English frame around the
quoted Chinese for English questions. An answer that draws on a document not in
force opens with a notice that says so, quotes the fact and names the document in
force (``with_validity_notice``, also applied by the engine to the LLM's answers);
"这个文件还有效吗" is answered from the status. All framing text comes from
``prompts/``. It does not retrieve and calls no model.
"""
from __future__ import annotations

from policy_assistant.core.model import Hit, Item, Validity
from policy_assistant.query import Query
from policy_assistant.seams import Answer, Retrieval
from policy_assistant.core.text import bigrams, content_tokens, split_sentences
from policy_assistant.prompts import render

MAX_SENTENCES_PER_ITEM = 6       # a short item is quoted whole; a long one by its most relevant sentences
MAX_SECONDARY = 2
SECTION_IN_FULL = 8              # "第五部分有哪些": up to this many items are quoted whole, more by their first sentence
SECONDARY_SCORE_GAP = 1.0        # fused-score distance from the best hit within which a secondary may join


class ExtractiveGenerator:
    name = "extractive"

    def run(self, query: Query, retrieval: Retrieval) -> Answer:
        return with_validity_notice(self._run(query, retrieval), query.language)

    def _run(self, query: Query, retrieval: Retrieval) -> Answer:
        lang = "zh" if query.language == "zh" else "en"
        if "validity question" in retrieval.notes and retrieval.hits:
            return self._validity_answer(retrieval.hits[0].item, lang)
        if not retrieval.answerable or not retrieval.hits:
            return refusal(query, retrieval, lang)
        if retrieval.lookup:
            return self._lookup_answer(query, retrieval.hits, lang)
        if retrieval.compare:
            return self._compare_answer(retrieval.hits[0].item, retrieval.hits[1].item, lang)
        return self._search_answer(query, retrieval.hits, lang)

    def stream(self, query: Query, retrieval: Retrieval):
        """Line by line: every line is verbatim quotation, so each is safe as soon as it exists."""
        answer = self.run(query, retrieval)
        lines = answer.text.split("\n")
        for index, line in enumerate(lines):
            yield line + ("\n" if index < len(lines) - 1 else "")
        yield answer

    def _validity_answer(self, item: Item, lang: str) -> Answer:
        """"这个文件还有效吗": the status, the sentence it rests on (quoted with its marker when an item holds it)."""
        validity = item.validity or Validity()
        title = item.title or item.doc
        stated = [s for s in _sentences(item) if _core(validity.fact) and _core(validity.fact) in s]
        if not validity.in_force:
            lines = status_lines(item, lang, quote=not stated)
        elif validity.basis == "assumed":
            lines = [render("validity_assumed", lang, title=title)]
        else:
            lines = [render("validity_in_force", lang, title=title, effective=_day(validity.effective_from, lang))
                     if validity.effective_from else render("validity_in_force_undated", lang, title=title)]
            if not stated and _quotable(validity.fact):
                lines.append(render("validity_source", lang, fact=_quotable(validity.fact)))
        if stated:
            lines += [render("validity_basis", lang), f"- {stated[0]}{item.marker}"]
        return Answer(text="\n".join(lines), cited=[item], generator=self.name)

    def _lookup_answer(self, query: Query, hits: list[Hit], lang: str) -> Answer:
        items = [hit.item for hit in hits]
        if query.section_number is not None:
            part, heading = section_parts(items[0], lang)
            lines = [render("section_intro", lang, title=items[0].title, part=part, heading=heading, count=len(items))]
            whole = len(items) <= SECTION_IN_FULL           # a short section is quoted whole, a long one by headings
            for item in items:
                first, *rest = _sentences(item)
                lines.append(f"- {first}{marker(item, items)}")             # one marker per item ...
                lines += [f"  - {sentence}" for sentence in rest] if whole else []   # ... its sentences nested
        else:
            lines = [intro(items, lang)]
            lines += [f"- {run(_sentences(item), item, items)}" for item in items]
        return Answer(text="\n".join(lines), cited=items, generator=self.name)

    def _compare_answer(self, newer: Item, older: Item, lang: str) -> Answer:
        """Two editions side by side: sentences added, removed and changed, each quoted with its marker."""
        items = [newer, older]
        new_sentences, old_sentences = _sentences(newer), _sentences(older)
        diff = diff_sentences(old_sentences, new_sentences)
        label = {"zh": ("新增", "删去", "改动"), "en": ("Added", "Removed", "Changed")}[lang]
        lines = [render("compare_intro", lang, newer=newer.title, older=older.title, same=len(diff.same),
                        newer_item=_plain_label(newer), older_item=_plain_label(older))]
        if diff.added:
            lines += [f"{label[0]}：" if lang == "zh" else f"{label[0]}:"] + [f"- {s}{marker(newer, items)}" for s in diff.added]
        if diff.removed:
            lines += [f"{label[1]}：" if lang == "zh" else f"{label[1]}:"] + [f"- {s}{marker(older, items)}" for s in diff.removed]
        if diff.changed:
            lines += [f"{label[2]}：" if lang == "zh" else f"{label[2]}:"]
            for old, new in diff.changed:
                lines += [f"- {new}{marker(newer, items)}", f"- {old}{marker(older, items)}"]
        return Answer(text="\n".join(lines), cited=items, generator=self.name)

    def _search_answer(self, query: Query, hits: list[Hit], lang: str) -> Answer:
        words = content_tokens(query.text)
        primary = hits[0].item
        chosen: list[tuple[Item, list[str]]] = [(primary, pick_sentences(primary, query.text, words))]
        covered = {word for word in words if word in primary.embedding_text()}
        for hit in hits[1:]:
            if len(chosen) > MAX_SECONDARY or hits[0].score - hit.score > SECONDARY_SCORE_GAP:
                break
            new_words = [w for w in words if w not in covered and w in hit.item.embedding_text()]
            if new_words:
                covered.update(new_words)
                chosen.append((hit.item, pick_sentences(hit.item, " ".join(new_words), new_words, limit=2)))
        items = [item for item, _ in chosen]
        points = [run(sentences, item, items) for item, sentences in chosen]
        head = intro(items, lang)
        text = "\n".join([head, points[0]] if len(points) == 1 else [head] + [f"- {p}" for p in points])
        return Answer(text=text, cited=items, generator=self.name)


def refusal(query: Query, retrieval: Retrieval, lang: str) -> Answer:
    hits = retrieval.hits
    scope = "、".join(f"《{t}》" for t in dict.fromkeys(hit.item.title for hit in hits[:3])) or (
        "《已索引的文件》" if lang == "zh" else "The indexed documents")
    if lang == "en":
        scope = ", ".join(f"“{t}”" for t in dict.fromkeys(hit.item.title for hit in hits[:3])) or scope
    if retrieval.lookup:
        what = (f"第{query.item_number}条" if query.item_number is not None else f"第{query.section_number}部分") \
            if lang == "zh" else (f"item {query.item_number}" if query.item_number is not None
                                  else f"section {query.section_number}")
        if retrieval.unknown_title:       # "劳动合同法第十条" over an index without that law
            lines = [render("lookup_unknown_document", lang, what=what, title=retrieval.unknown_title)]
        elif retrieval.choices:           # "第十条是什么" over many documents: ask which one
            titles = _document_titles(retrieval.choices, lang)
            lines = [render("lookup_which", lang, what=what, count=len(retrieval.choices), documents=titles)]
        else:
            lines = [render("lookup_missing", lang, what=what)]
    else:
        lines = [render("refusal", lang, scope=scope, question=query.question)]
    suggestions = [hit.item for hit in hits[:3]] if not retrieval.lookup else []
    if suggestions:
        lines.append(render("suggestions", lang))
        lines += [f"- {_plain_label(item)}：{_sentences(item)[0]}" for item in suggestions]
    return Answer(text="\n".join(lines), cited=[], generator="extractive", refused=True)


def with_validity_notice(answer: Answer, language: str) -> Answer:
    """Open the answer with a notice for each cited document not in force (once: idempotent)."""
    lang = "zh" if language == "zh" else "en"
    if answer.refused or not answer.cited:
        return answer
    lines = []
    for item in {item.doc: item for item in reversed(answer.cited)}.values():
        if item.validity is not None and not item.validity.in_force:
            lines += status_lines(item, lang)
    if not lines or answer.text.startswith(lines[0]):
        return answer
    answer.text = "\n".join(lines + [answer.text])
    return answer


def status_lines(item: Item, lang: str, quote: bool = True) -> list[str]:
    """The notice for a document not in force: what happened and when, the fact quoted, the successor."""
    validity = item.validity or Validity()
    title = item.title or item.doc
    since = _day(validity.since, lang)
    by = validity.successor_title if validity.successor and validity.successor in (
        validity.repealed_by, validity.superseded_by) else ""
    if validity.status == "expired":
        lines = [render("validity_expired", lang, title=title, expires=_day(validity.expires, lang))]
    elif validity.status == "repealed":
        lines = [render("validity_repealed", lang, title=title, by=by, since=since) if by and since
                 else render("validity_repealed_stated", lang, title=title)]
    elif validity.status == "superseded":
        lines = [render("validity_superseded", lang, title=title, by=by or validity.superseded_by or "")]
    elif validity.status == "not_yet_in_force":
        lines = [render("validity_not_yet", lang, title=title, since=since)]
    else:
        return []
    if quote and _quotable(validity.fact):
        lines.append(render("validity_source", lang, fact=_quotable(validity.fact)))
    if validity.successor_title and validity.status != "not_yet_in_force":
        lines.append(render("validity_successor", lang, title=validity.successor_title))
    return lines


def _core(fact: str) -> str:
    return (fact or "").strip().rstrip("。；;！!？?")


def _quotable(fact: str) -> str:
    """The fact without its end punctuation, or '' when it holds several sentences (a quote must stay one)."""
    core = _core(fact)
    return "" if not core or any(mark in core for mark in "。；;！!？?\n") else core


def _day(iso: str | None, lang: str) -> str:
    if not iso:
        return ""
    year, month, day = (int(part) for part in iso.split("-"))
    return f"{year}年{month}月{day}日" if lang == "zh" else iso


def _document_titles(docs: list[str], lang: str, shown: int = 8) -> str:
    """'《劳动合同法》、《民法典》等 12 部' style list of document ids for a which-document question."""
    names = [f"《{doc}》" if lang == "zh" else f"“{doc}”" for doc in docs[:shown]]
    text = ("、" if lang == "zh" else ", ").join(names)
    if len(docs) > shown:
        text += f"等 {len(docs)} 部文件" if lang == "zh" else f" and {len(docs) - shown} more"
    return text


def intro(items: list[Item], lang: str) -> str:
    """'根据《2025年教育工作要点》（市教育局，2025-03-26）：' for the documents cited."""
    docs = list(dict.fromkeys((item.title or item.doc, item.office, item.date, item.year) for item in items))
    title = "》《".join(d[0] for d in docs)
    first = docs[0]
    if lang == "zh":
        source = "，".join(x for x in (first[1], first[2] or (f"{first[3]}年" if first[3] else "")) if x) or "原文"
    else:
        source = ", ".join(x for x in (first[1] and "issued by " + first[1], first[2] or str(first[3] or "")) if x) \
            or "the original text"
    return render("answer_intro", lang, title=title, source=source)


def run(sentences: list[str], item: Item, cited: list[Item]) -> str:
    """Consecutive sentences of one item on one line, its marker once at the end."""
    return "".join(sentences) + marker(item, cited)


def section_parts(item: Item, lang: str = "zh") -> tuple[str, str]:
    """("第五部分", "聚力推进公共服务优享") for an item under "五、聚力推进公共服务优享" (in English the
    label alone, "五"); a label that already says what it is ("第三章") is kept as printed."""
    label = item.path[0] if item.path else ""
    section = item.section or label
    heading = section[len(label):].lstrip("、.．:：　 ") if label and section.startswith(label) else section
    part = label if label.startswith("第") or lang != "zh" else f"第{label}部分"
    return part, heading or section


def marker(item: Item, cited: list[Item]) -> str:
    """The item's marker; prefixed with 《title》 when the answer cites several documents."""
    if len({other.doc for other in cited}) > 1:
        return f"[《{item.title or item.doc}》{item.marker[1:-1]}]"
    return item.marker


def pick_sentences(item: Item, question: str, words: list[str], limit: int = MAX_SENTENCES_PER_ITEM) -> list[str]:
    """The item's heading sentence plus its sentences most relevant to the question, in document order."""
    sentences = _sentences(item)
    if len(sentences) <= limit:
        return sentences
    question_grams = bigrams(question)

    def relevance(index: int) -> float:
        sentence = sentences[index]
        word_hits = sum(1 for word in words if word in sentence)
        return word_hits + len(bigrams(sentence) & question_grams) / (len(question_grams) or 1)

    ranked = sorted(range(1, len(sentences)), key=lambda i: (-relevance(i), i))
    keep = sorted([0] + ranked[:limit - 1])
    return [sentences[i] for i in keep]


def _sentences(item: Item) -> list[str]:
    return split_sentences(item.text) or [item.text]


def _plain_label(item: Item) -> str:
    return item.marker[1:-1]


class SentenceDiff:
    """Sentences of two editions matched up: same, changed (similar but not equal), added, removed."""

    CHANGED = 0.5        # bigram overlap (Dice) above which two different sentences count as one changed sentence

    def __init__(self):
        self.same: list[str] = []
        self.changed: list[tuple[str, str]] = []
        self.added: list[str] = []
        self.removed: list[str] = []


def diff_sentences(old: list[str], new: list[str]) -> SentenceDiff:
    diff = SentenceDiff()
    unmatched_old = list(old)
    for sentence in new:
        if sentence in unmatched_old:
            unmatched_old.remove(sentence)
            diff.same.append(sentence)
            continue
        grams = bigrams(sentence)
        scored = [(2 * len(grams & bigrams(o)) / ((len(grams) + len(bigrams(o))) or 1), o) for o in unmatched_old]
        best = max(scored, default=(0.0, ""))
        if best[0] >= SentenceDiff.CHANGED:
            unmatched_old.remove(best[1])
            diff.changed.append((best[1], sentence))
        else:
            diff.added.append(sentence)
    diff.removed = unmatched_old
    return diff
