"""Calibrate the retriever on a dev set: fusion weights, and the refusal evidence.

    python -m eval.tune_retrieval [DATASET.jsonl ...] [--index-dir DIR]

Prints hit@1/hit@3 of dense-only, BM25-only, equal-weight RRF and weighted
standardised-score fusion over a grid of dense weights, then the refusal
outcome (unanswerable refused, answerable falsely refused) of the evidence rule
in ``assistant.retrieval.Evidence`` with its current thresholds. The constants
in ``assistant/retrieval.py`` were chosen from this table on
``eval/datasets/dev.jsonl``; ``holdout.jsonl`` is the check that they carry over.
It changes nothing; it only reports.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from policy_assistant.engine import Assistant
from policy_assistant.query import understand
from policy_assistant.retrieval import HybridRetriever, choose_docs, fuse
from policy_assistant.core.settings import Settings
from policy_assistant.eval.metrics import gold_matches
from policy_assistant.eval.runner import DEFAULT_DATASETS, load_dataset

RRF_K = 60


def rrf(dense: np.ndarray, bm25: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Plain reciprocal-rank fusion with equal weights (the usual default), for comparison."""
    fused = np.zeros(len(dense))
    for scores in (np.nan_to_num(dense, nan=-1.0), bm25):
        order = np.argsort(-np.where(mask, scores, -np.inf))
        fused[order] += 1.0 / (RRF_K + np.arange(1, len(order) + 1))
    return np.where(mask, fused, -np.inf)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", type=Path)
    parser.add_argument("--index-dir", type=Path)
    args = parser.parse_args(argv)
    settings = Settings.load({"index_dir": args.index_dir})
    assistant = Assistant(settings)
    corpus = assistant.corpus()
    retriever = HybridRetriever(corpus, assistant.store, assistant.embedder, settings.today)
    rows = []
    for path in args.datasets or DEFAULT_DATASETS:
        for line in load_dataset(path):
            query = understand(line["question"], line.get("history") or [], line.get("doc"))
            if query.lookup:
                continue
            docs = choose_docs(query, corpus, settings.today)
            rows.append((line, query, docs, *retriever.scores(query, docs)[:3]))

    def hits(score_of) -> tuple[float, float]:
        answerable = [(line, score_of(dense, bm25, mask)) for line, _, _, dense, bm25, mask in rows if line["gold_items"]]
        top = [[corpus.items[i] for i in np.argsort(-scores)[:3]] for _, scores in answerable]
        hit = [[any(gold_matches(g, it.citation()) for g in line["gold_items"]) for it in best]
               for (line, _), best in zip(answerable, top)]
        return np.mean([h[0] for h in hit]), np.mean([any(h) for h in hit])

    print(f"{len(rows)} searched questions ({sum(bool(r[0]['gold_items']) for r in rows)} answerable)")
    print(f"{'system':<28}{'hit@1':>7}{'hit@3':>7}")
    print(f"{'dense only':<28}{'%.3f' % hits(lambda d, b, m: np.where(m, np.nan_to_num(d, nan=-1), -np.inf))[0]:>7}"
          f"{'%.3f' % hits(lambda d, b, m: np.where(m, np.nan_to_num(d, nan=-1), -np.inf))[1]:>7}")
    print(f"{'bm25 only':<28}{'%.3f' % hits(lambda d, b, m: np.where(m, b, -np.inf))[0]:>7}"
          f"{'%.3f' % hits(lambda d, b, m: np.where(m, b, -np.inf))[1]:>7}")
    print(f"{'rrf, equal weights':<28}{'%.3f' % hits(rrf)[0]:>7}{'%.3f' % hits(rrf)[1]:>7}")
    for weight in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3):
        one, three = hits(lambda d, b, m, w=weight: fuse(d, b, m, w, 1 - w))
        print(f"{'fused, dense weight %.1f' % weight:<28}{one:>7.3f}{three:>7.3f}")

    refused = {True: 0, False: 0}
    totals = {True: 0, False: 0}
    for line, query, docs, dense, bm25, mask in rows:
        fused, features, mask = retriever.ranked(query, docs)
        order = [int(i) for i in np.argsort(-fused) if mask[i]]
        answerable = bool(line["gold_items"])
        totals[answerable] += 1
        refused[answerable] += not retriever.evidence(query, features, fused, order, mask).answerable
    print(f"refusal: unanswerable refused {refused[False]}/{totals[False]}, "
          f"answerable falsely refused {refused[True]}/{totals[True]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
