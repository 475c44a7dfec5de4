"""Per-question and aggregate metrics of the grounding eval. Deterministic and offline.

Inputs are ask records (the JSON contract) plus the dataset line; item texts come
from the index, never from the record being graded. Retrieval: hit@1/3/5 and
MRR on item ids. Citations: validity (every marker names a real item), gold
precision/recall, ALCE-style citation recall (each claim supported by the items
it cites) and leave-one-out citation precision. Answers: key-phrase recall,
negative rejection and false refusals, grounding. Latency: p50/p95 per stage.
This module does not run the assistant (``eval.runner`` does).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from assistant import grounding
from assistant.model import Item


def gold_matches(gold: str, ref: dict) -> bool:
    """Whether a dataset gold id ("12", "二/（一）", "第十二条") names a retrieved/cited item."""
    gold = gold.strip()
    path = "/".join(ref.get("path") or [])
    item = ref.get("item", "")
    if gold in (item, path):
        return True
    found = grounding.resolve(gold, [Item(doc=ref.get("doc", ""), item=item, path=list(ref.get("path") or []), text="")])
    return bool(found)


def question_metrics(line: dict, record: dict, items: list[Item]) -> dict:
    """Everything that can be said about one answer."""
    gold = list(line.get("gold_items") or [])
    answerable = bool(gold)
    retrieved = record.get("retrieved") or []
    ranks = [rank for rank, ref in enumerate(retrieved, 1) if any(gold_matches(g, ref) for g in gold)]
    first = ranks[0] if ranks else None
    cited = record.get("citations") or []
    answer = record.get("answer") or ""
    scope = [it for it in items if not line.get("doc") or it.doc == line["doc"]] or items
    checked = grounding.check(answer, scope)
    claims = [c for c in checked.checks if c.cited]
    keywords = list(line.get("answer_keywords") or [])
    found_keywords = [k for k in keywords if k in answer]
    gold_cited = [g for g in gold if any(gold_matches(g, c) for c in cited)]
    cited_gold = [c for c in cited if any(gold_matches(g, c) for g in gold)]
    return {
        "answerable": answerable,
        "refused": bool(record.get("refused")),
        "refusal_correct": bool(record.get("refused")) != answerable,
        "hit1": bool(first and first <= 1), "hit3": bool(first and first <= 3), "hit5": bool(first and first <= 5),
        "rr": 1.0 / first if first else 0.0,
        "gold_recall": len(gold_cited) / len(gold) if gold else None,
        "gold_precision": len(cited_gold) / len(cited) if cited and gold else None,
        "gold_cited": bool(gold_cited) if gold else None,
        "keyword_recall": len(found_keywords) / len(keywords) if keywords else None,
        "missing_keywords": [k for k in keywords if k not in found_keywords],
        "citations_valid": not checked.invalid_citations,
        "invalid_citations": checked.invalid_citations,
        "citation_recall": (sum(c.supported for c in claims) / len(claims)) if claims else None,
        "citation_precision": citation_precision(claims),
        "grounding": checked.to_json(),
        "verbatim": all(_verbatim(c, items) for c in cited),
    }


def citation_precision(claims) -> float | None:
    """Leave-one-out: a citation is irrelevant when it alone does not support its
    sentence while the other citations of that sentence do."""
    total = relevant = 0
    for claim in claims:
        for index, item in enumerate(claim.items):
            total += 1
            alone, _, _ = grounding.support(claim.sentence, [item.text])
            others = [other.text for j, other in enumerate(claim.items) if j != index]
            rest, _, _ = grounding.support(claim.sentence, others) if others else (False, 0, "")
            relevant += alone or not rest
    return relevant / total if total else None


def _verbatim(citation: dict, items: list[Item]) -> bool:
    """The citation's text is an item's text in the index (which is itself verbatim from its source)."""
    return any(it.doc == citation.get("doc") and it.text == citation.get("text") for it in items)


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
    """Dataset-level metrics from per-question rows (each has the keys of ``question_metrics`` and timing_ms)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def mean(values):
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 4) if values else None

    keyword_total = sum(len(r.get("keywords", [])) for r in rows)
    keyword_found = sum(len(r.get("keywords", [])) - len(r["missing_keywords"]) for r in rows)
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
        "grounding": mean([r["grounding"]["score"] for r in rows if not r["refused"]]),
        "verbatim": mean([r["verbatim"] for r in rows]),
        "negative_rejection": mean([r["refused"] for r in unanswerable]),
        "false_refusal": mean([r["refused"] for r in answerable]),
    }
    for stage in ("retrieve", "answer", "total"):
        values = sorted(r["timing_ms"][stage] for r in rows if stage in (r.get("timing_ms") or {}))
        if values:
            out[f"p50_{stage}_ms"] = round(statistics.median(values), 1)
            out[f"p95_{stage}_ms"] = round(values[min(len(values) - 1, int(0.95 * len(values)))], 1)
    return out
