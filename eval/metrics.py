"""Per-question and aggregate metrics of the grounding eval. Deterministic and offline.

Inputs are answer records (the JSON contract, or any system's ``{"answer", …}``) plus
the dataset line; item texts always come from the index (``items``), never from the
record being graded. Definitions (per question; the aggregate is the mean over the
questions where the metric applies, except key-phrase recall, which is pooled):

- retrieval (answerable questions with a ranked ``retrieved`` list): hit@1/3/5 (a gold
  item within the first k) and reciprocal rank of the first gold item (MRR);
- citation validity (answers with markers): 1 when every marker names a real item of
  the question's scope, else 0 — one made-up item ([第99条]) scores the answer 0;
- citation recall, ALCE-style (answers that make claims): the share of claim sentences
  supported by the items they cite, jointly; a sentence citing nothing counts unsupported;
- citation precision, ALCE leave-one-out (answers with markers): a citation counts 0
  when its sentence is not supported by all its citations together, or when it alone
  does not support the sentence while the others do; a made-up item counts 0;
- gold citation recall/precision (answerable): gold items cited / gold items, cited
  items that are gold / cited items; ``gold_cited``: at least one gold item cited;
- key-phrase recall: ``answer_keywords`` found in the answer (none in a refusal);
- negative rejection (``gold_items: []``): refused and cites nothing; false refusal
  (answerable): refused;
- grounding (answers that make claims): the share of claim sentences supported by any
  of the retrieved items (by the question's scope of the index when the record has no
  ``retrieved``), the unsupported ones listed;
- verbatim (records that carry citation texts): every line of each citation's text, and each
  sentence of an extractive answer, occurs in the cited source file's own text with only
  whitespace and line breaks ignored (``index.loaders.source_text``: no width folding, no
  rewriting); where the source file cannot be read, the citation must be its index item's text;
- latency: p50 (median) and p95 (nearest rank) of each ``timing_ms`` stage.

Frame sentences (openings ending in "：", refusals, fixed template lines) are no claims.
This module does not run the assistant (``eval.runner`` does).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from policy_assistant import grounding
from policy_assistant.core.model import Item, norm_doc, norm_label  # noqa: F401 (norm_* re-exported for the eval)
from policy_assistant.core.stats import percentile
from policy_assistant.core.text import fold_width

RATIO_METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "gold_cited", "gold_recall", "gold_precision", "keyword_recall",
                 "citation_validity", "citation_recall", "citation_precision", "grounding", "verbatim",
                 "negative_rejection", "false_refusal")


# -- matching ids --------------------------------------------------------------------------------
def gold_matches(gold: str, ref: dict, doc: str | None = None) -> bool:
    """Whether a dataset gold id ("12", "二/（一）", "第十二条") names a retrieved/cited item ``ref``."""
    if doc and ref.get("doc") and ref["doc"] != doc:
        return False
    gold = fold_width(gold)
    path = list(ref.get("path") or [])
    item = ref.get("item", "")
    if gold in (fold_width(item), fold_width("/".join(path))):
        return True
    return bool(grounding.resolve(gold, [Item(doc=ref.get("doc", ""), item=item, path=path, text="")]))


def find_item(ref: dict, items: list[Item]) -> Item | None:
    """The index item a retrieved/cited reference {doc, item, path} names."""
    path = list(ref.get("path") or [])
    for item in items:
        if item.doc == ref.get("doc") and ((path and item.path == path) or (not path and item.item == ref.get("item"))):
            return item
    return None


def looks_refused(answer: str) -> bool:
    """For records that do not say: an answer with no markers that opens like a refusal."""
    text = fold_width(answer).lower()
    return not grounding.parse_markers(answer) and (not text or bool(grounding.REFUSAL.search(text)))


# -- one question --------------------------------------------------------------------------------
def question_metrics(line: dict, record: dict, items: list[Item]) -> dict:
    """Everything that can be said about one answer. ``items``: the whole index."""
    doc = line.get("doc")
    scope = [it for it in items if not doc or it.doc == doc] or items
    gold = line.get("gold_items")
    known = isinstance(gold, list)
    gold = list(gold or [])
    answerable = bool(gold) if known else None
    answer = record.get("answer") or ""
    refused = bool(record.get("refused")) if "refused" in record else looks_refused(answer)
    cited = list(record.get("citations") or [])
    retrieved = record.get("retrieved")
    claims = grounding.claims(answer)
    marked = any(labels for _, labels in claims)
    judged = bool(claims) and (not refused or marked)           # a refusal with no markers makes no claim

    out: dict = {"answerable": answerable, "refused": refused}
    # retrieval
    rank = None
    if answerable and retrieved is not None:
        ranks = [i for i, ref in enumerate(retrieved, 1) if any(gold_matches(g, ref, doc) for g in gold)]
        rank = ranks[0] if ranks else None
        out.update({"gold_rank": rank, "hit1": bool(rank and rank <= 1), "hit3": bool(rank and rank <= 3),
                    "hit5": bool(rank and rank <= 5), "rr": 1.0 / rank if rank else 0.0})
    else:
        out.update({"gold_rank": None, "hit1": None, "hit3": None, "hit5": None, "rr": None})

    # citations against the items they cite (the contract's grounding object, and ALCE recall/precision)
    checked = grounding.check(answer, scope) if judged else grounding.Grounding()
    sentences = [{"sentence": c.sentence, "cites": c.cited, "supported": c.supported, "score": c.score,
                  "reason": c.reason} for c in checked.checks]
    out["citations_valid"] = (not checked.invalid_citations) if marked else None
    out["invalid_citations"] = list(checked.invalid_citations)
    out["citation_recall"] = (checked.supported / checked.sentences) if checked.sentences else None
    out["citation_precision"] = citation_precision(claims, scope) if marked and judged else None
    out["citation_grounding"] = checked.to_json()

    # gold citations
    if answerable:
        gold_cited = [g for g in gold if any(gold_matches(g, c, doc) for c in cited)]
        cited_gold = [c for c in cited if any(gold_matches(g, c, doc) for g in gold)]
        out["gold_cited"] = bool(gold_cited)
        out["gold_recall"] = len(gold_cited) / len(gold)
        out["gold_precision"] = len(cited_gold) / len(cited) if cited else None
    else:
        out.update({"gold_cited": None, "gold_recall": None, "gold_precision": None})

    # key phrases
    keywords = [k for k in (line.get("answer_keywords") or []) if k]
    plain = _plain(answer) if not refused else ""
    found = [k for k in keywords if _plain(k) in plain]
    out["keywords"] = keywords
    out["missing_keywords"] = [k for k in keywords if k not in found]
    out["keyword_recall"] = len(found) / len(keywords) if keywords else None

    # refusals
    out["rejected"] = (refused and not cited and not marked) if answerable is False else None
    out["false_refusal"] = refused if answerable else None

    # grounding: supported by any retrieved item (or by the scope when nothing says what was retrieved)
    if retrieved is not None:
        pool = [it for ref in retrieved if (it := find_item(ref, items)) is not None]
        out["grounding_pool"] = "retrieved"
    else:
        pool = scope
        out["grounding_pool"] = "index"
    texts = [grounding.support_text(it) for it in pool]
    unsupported = []
    for row, (sentence, _) in zip(sentences, claims if judged else []):
        ok, _, reason = grounding.support(sentence, texts)
        row["grounded"] = ok
        if not ok:
            unsupported.append(sentence)
            row.setdefault("grounding_reason", reason)
    count = len(claims) if judged else 0
    out["grounding"] = {"sentences": count, "supported": count - len(unsupported),
                        "score": round((count - len(unsupported)) / count, 4) if count else None,
                        "unsupported": unsupported}
    out["sentences"] = sentences

    # citations (and an extractive answer's quotes) are the source file's own text
    with_text = [c for c in cited if "text" in c]
    quotes = [sentence for sentence, _ in claims] if record.get("generator") == "extractive" else []
    misquoted = [c.get("item", "") for c in with_text if not _verbatim(c, items)]
    misquoted += [q for q in quotes if not _quoted(q, [c for c in with_text], items)]
    out["misquoted"] = misquoted
    out["verbatim"] = not misquoted if with_text else None
    out["failures"] = failures(out)
    out["passed"] = not out["failures"]
    return out


def citation_precision(claims: list[tuple[str, list[str]]], scope: list[Item]) -> float | None:
    """ALCE leave-one-out precision over every citation of every claim sentence."""
    total = relevant = 0
    for sentence, labels in claims:
        citations = [[grounding.support_text(it) for it in grounding.resolve(label, scope)] for label in labels]
        if not citations:
            continue
        total += len(citations)
        texts = [text for texts in citations for text in texts]
        if not texts or not grounding.support(sentence, texts)[0]:
            continue                                          # unsupported together: no citation is right
        if len(citations) == 1:
            relevant += 1
            continue
        for index, own in enumerate(citations):
            if not own:
                continue                                      # a made-up item
            alone = grounding.support(sentence, own)[0]
            rest = [text for j, texts in enumerate(citations) if j != index for text in texts]
            relevant += alone or not (rest and grounding.support(sentence, rest)[0])
    return relevant / total if total else None


def failures(m: dict) -> list[str]:
    """Why a question counts as failed, in words (empty when it passed)."""
    out = []
    if m["answerable"] and m["refused"]:
        out.append("false refusal")
    if m["answerable"] is False and not m["rejected"]:
        out.append("answered a question the documents do not answer")
    if m["answerable"] and not m["refused"] and m["gold_cited"] is False:
        out.append("gold item not cited")
    if m["answerable"] and m["hit5"] is False:
        out.append("gold item not retrieved in the top 5")
    if m["invalid_citations"]:
        out.append("cites items that do not exist: " + ", ".join(m["invalid_citations"]))
    if m["citation_recall"] is not None and m["citation_recall"] < 1:
        bad = sum(not s["supported"] for s in m["sentences"])
        out.append(f"{bad} sentence(s) not supported by their citations")
    if m["grounding"]["score"] is not None and m["grounding"]["score"] < 1:
        out.append(f"{len(m['grounding']['unsupported'])} sentence(s) not supported by any retrieved item")
    if m["citation_precision"] is not None and m["citation_precision"] < 1:
        out.append("irrelevant citation(s)")
    if m["missing_keywords"] and not m["refused"]:
        out.append("missing key phrase(s): " + "、".join(m["missing_keywords"]))
    if m["verbatim"] is False:
        out.append("quoted text not found in the source file: " + "、".join(m["misquoted"])[:200])
    return out


def _plain(text: str) -> str:
    return "".join(fold_width(text).split()).lower()


def _squash(text: str) -> str:
    """Whitespace and line breaks removed, nothing else: no width folding, no case folding."""
    return "".join((text or "").split())


@lru_cache(maxsize=256)
def _source_text(source: str) -> str | None:
    """The source file's own text (``index.loaders.source_text``), squashed; None when it cannot be read."""
    from policy_assistant.core.errors import AssistantError
    from policy_assistant.index.loaders import source_text

    try:
        return _squash(source_text(Path(source)))
    except (AssistantError, OSError):
        return None


def _occurs(quote: str, source: str) -> bool:
    """``quote`` is in ``source`` and does not begin or end inside a number there: "5万名" cut from
    "1.5万名", or "12" from "2012", is a misquote, not a quote."""
    start = source.find(quote)
    while start >= 0:
        before = source[max(0, start - 2):start]
        after = source[start + len(quote):start + len(quote) + 2]
        cut_before = quote[:1].isdigit() and (before[-1:].isdigit() or (before[-1:] in ".．" and before[:1].isdigit()))
        cut_after = quote[-1:].isdigit() and (after[:1].isdigit() or (after[:1] in ".．" and after[1:2].isdigit()))
        if not (cut_before or cut_after):
            return True
        start = source.find(quote, start + 1)
    return False


def _source_of(citation: dict, items: list[Item]) -> str | None:
    item = find_item(citation, items)
    source = (item.source if item else "") or citation.get("source") or ""
    return _source_text(source) if source else None


def _verbatim(citation: dict, items: list[Item]) -> bool:
    """Every line of the citation's text occurs in its source file (whitespace aside). Without a
    readable source file, the citation must at least be its index item's text."""
    source = _source_of(citation, items)
    if source is None:
        return any(it.doc == citation.get("doc") and it.text == citation.get("text") for it in items)
    return all(_occurs(_squash(line), source) for line in (citation.get("text") or "").split("\n") if line.strip())


def _quoted(sentence: str, cited: list[dict], items: list[Item]) -> bool:
    """An extractive answer's sentence (markers removed) occurs in the source file of a cited item."""
    bare = _squash(grounding.strip_markers(sentence))
    if not bare:
        return True
    sources = [s for c in cited if (s := _source_of(c, items)) is not None]
    return not sources or any(_occurs(bare, source) for source in sources)


# -- gates and the aggregate ---------------------------------------------------------------------
@dataclass
class Gate:
    metric: str
    op: str
    threshold: float

    def passes(self, value: float | None) -> bool:
        if value is None:
            return True
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


def aggregate(rows: list[dict]) -> dict:
    """Dataset-level metrics from per-question rows (the keys of ``question_metrics`` plus timing_ms)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if r["answerable"] is False]

    def mean(values):
        values = [float(v) for v in values if v is not None]
        return round(sum(values) / len(values), 4) if values else None

    keyword_total = sum(len(r["keywords"]) for r in answerable)
    keyword_found = sum(len(r["keywords"]) - len(r["missing_keywords"]) for r in answerable)
    out = {
        "questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "hit@1": mean([r["hit1"] for r in answerable]), "hit@3": mean([r["hit3"] for r in answerable]),
        "hit@5": mean([r["hit5"] for r in answerable]), "mrr": mean([r["rr"] for r in answerable]),
        "gold_cited": mean([r["gold_cited"] for r in answerable]),
        "gold_recall": mean([r["gold_recall"] for r in answerable]),
        "gold_precision": mean([r["gold_precision"] for r in answerable]),
        "keyword_recall": round(keyword_found / keyword_total, 4) if keyword_total else None,
        "citation_validity": mean([r["citations_valid"] for r in rows]),
        "citation_recall": mean([r["citation_recall"] for r in rows]),
        "citation_precision": mean([r["citation_precision"] for r in rows]),
        "grounding": mean([r["grounding"]["score"] for r in rows]),
        "verbatim": mean([r["verbatim"] for r in rows]),
        "negative_rejection": mean([r["rejected"] for r in unanswerable]),
        "false_refusal": mean([r["false_refusal"] for r in answerable]),
        "unsupported_sentences": sum(len(r["grounding"]["unsupported"]) for r in rows),
        "failed_questions": sum(not r["passed"] for r in rows),
    }
    stages = sorted({stage for r in rows for stage in (r.get("timing_ms") or {})},
                    key=lambda s: ({"retrieve": 0, "answer": 1, "total": 9}.get(s, 5), s))
    for stage in stages:
        values = sorted(float(r["timing_ms"][stage]) for r in rows if stage in (r.get("timing_ms") or {}))
        out[f"p50_{stage}_ms"] = round(percentile(values, 50), 1)
        out[f"p95_{stage}_ms"] = round(percentile(values, 95), 1)
    return out

# -- STARD-style retrieval over (doc, item) pairs ------------------------------------------------
RECALL_KS = (1, 3, 5, 10, 100)
def pair_recall(gold: list[dict], retrieved: list[dict], ks: tuple[int, ...] = RECALL_KS) -> dict:
    """Recall@k (the share of the gold (doc, article) pairs in the top k) and MRR@10 for one question.

    Repeated pairs in ``retrieved`` count once, at their first rank (as STARD's scorer does)."""
    wanted = {(norm_doc(g["doc"]), norm_label(g["item"])) for g in gold}
    ranked, seen = [], set()
    for ref in retrieved:
        pair = (norm_doc(ref.get("doc", "")), norm_label(ref.get("item", "")))
        if pair not in seen:
            seen.add(pair)
            ranked.append(pair)
    out = {f"R@{k}": (len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0) for k in ks}
    first = next((rank for rank, pair in enumerate(ranked[:10], 1) if pair in wanted), None)
    out["MRR@10"] = 1.0 / first if first else 0.0
    return out


def mean_pair_recall(rows: list[dict]) -> dict:
    """The mean of ``pair_recall`` rows (questions with no row count as 0 only if given as zeros)."""
    if not rows:
        return {}
    return {key: round(sum(r[key] for r in rows) / len(rows), 4) for key in rows[0]}
