"""Fit the retriever's ranking model on STARD's train split (``make fit-ranker``).

What it does
    Over the law index (``eval.stard``), for the fit part of the train split only: every question's
    features (``retrieval.item_features``: dense, BM25, pseudo-relevance feedback, document-level and
    neighbour evidence, a named title) for its best candidates, a logistic regression of "is a gold
    article" on them, for a small grid of feedback settings. The setting with the best Recall@10 on the
    validation part wins; its weights (the intercept does not change a ranking) are written to
    ``assistant/data/ranker.json`` with the fit and validation figures, so the retriever ships them.

What it does not do
    It never reads STARD's dev split. It does not check the bundled corpus: run ``make eval`` after a
    re-fit (the fitted model must not make it worse).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from policy_assistant.core.errors import AssistantError
from policy_assistant.core.settings import Settings
from policy_assistant.eval import stard
from policy_assistant.eval.metrics import norm_doc, norm_label

POOL = 300                      # candidates per question the regression sees (by the plain 0.8/0.2 sum)
PRF_GRID = [(0.0, 5), (0.5, 3), (0.5, 5), (1.0, 5), (1.0, 10)]
FEATURE_SETS = {
    "dense+bm25": ("dense", "bm25"),
    "+prf": ("dense", "bm25", "prf_dense"),
    "+doc": ("dense", "bm25", "prf_dense", "doc_dense", "doc_bm25"),
    "all": ("dense", "bm25", "prf_dense", "doc_dense", "doc_bm25", "neighbour_dense", "title_named"),
}


def gold_mask(prepared: stard.Prepared, row: dict) -> np.ndarray:
    wanted = {(norm_doc(g["doc"]), norm_label(g["item"])) for g in row["gold"]}
    return np.array([(norm_doc(it.doc), norm_label(it.item)) in wanted for it in prepared.corpus.items])


def training_rows(prepared: stard.Prepared, indices: list[int], model, names) -> tuple[np.ndarray, np.ndarray]:
    from policy_assistant.retrieval import RankModel, item_features, top_indices

    corpus = prepared.corpus
    mask = np.ones(len(corpus.items), dtype=bool)
    base = RankModel(weights={"dense": 0.8, "bm25": 0.2})
    xs, ys = [], []
    for q in indices:
        row = prepared.rows[q]
        features = item_features(corpus, prepared.vectors[q], prepared.dense[q], prepared.bm25[q], row["question"],
                                 mask, model)
        pool = top_indices(base.score(features), mask, POOL)
        gold = np.flatnonzero(gold_mask(prepared, row))
        pool = list(dict.fromkeys(pool + [int(g) for g in gold]))      # every gold article is a positive
        xs.append(np.stack([features[n][pool] for n in names], axis=1))
        ys.append(np.isin(pool, gold))
    return np.concatenate(xs), np.concatenate(ys)


def fit_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return model.coef_[0]


def run(data: Path, settings: Settings, out: Path, build: bool = True, echo=print) -> int:
    from policy_assistant.index.embedders import make_embedder
    from policy_assistant.retrieval import RankModel

    corpus, left_out = stard.open_corpus(data, settings, False, build, echo)
    rows = stard.covered(stard.load_train(data), corpus)
    fit, validation = stard.split_questions(rows)
    prepared = stard.prepare(settings, rows, corpus, make_embedder(settings.embed_model, settings.embed_threads), echo)
    fit_ids = {r["id"] for r in fit}
    fit_idx = [i for i, r in enumerate(rows) if r["id"] in fit_ids]
    val_idx = [i for i, r in enumerate(rows) if r["id"] not in fit_ids]
    doc_fit, doc_val = stard.split_by_document(rows)
    doc_fit_ids, doc_val_ids = {r["id"] for r in doc_fit}, {r["id"] for r in doc_val}

    def figures(model, idx):
        sub = stard.Prepared(prepared.corpus, [rows[i] for i in idx], prepared.vectors[idx])
        sub.__dict__["dense"] = prepared.dense[idx]
        sub.__dict__["bm25"] = [prepared.bm25[i] for i in idx]
        return stard.recall_of(sub, stard.model_rankings(sub, model))

    results = []
    echo(f"fit {len(fit_idx)} questions, validation {len(val_idx)}")
    for label, model in (("dense 0.8 / bm25 0.2", RankModel(weights={"dense": 0.8, "bm25": 0.2})),):
        results.append({"name": label, "weights": model.weights, "validation": figures(model, val_idx)})
        echo(f"{label}: validation {results[-1]['validation']}")
    for set_name, names in FEATURE_SETS.items():
        grid = PRF_GRID if "prf_dense" in names else [(0.0, 5)]
        for prf_weight, prf_depth in grid:
            started = time.perf_counter()
            probe = RankModel(weights={n: 1.0 for n in names}, prf_weight=prf_weight, prf_depth=prf_depth)
            x, y = training_rows(prepared, fit_idx, probe, names)
            weights = fit_weights(x, y)
            model = RankModel(weights=dict(zip(names, map(float, weights))), prf_weight=prf_weight,
                              prf_depth=prf_depth)
            result = {"name": f"{set_name} prf {prf_weight}/{prf_depth}", "weights": model.weights,
                      "prf_weight": prf_weight, "prf_depth": prf_depth, "validation": figures(model, val_idx)}
            results.append(result)
            echo(f"{result['name']}: validation R@10 {result['validation']['R@10']:.3f} MRR@10 "
                 f"{result['validation']['MRR@10']:.3f} R@100 {result['validation']['R@100']:.3f} "
                 f"({time.perf_counter() - started:.0f}s) {', '.join(f'{k} {v:+.2f}' for k, v in model.weights.items())}")
    best = max(results[1:], key=lambda r: (r["validation"]["R@10"], r["validation"]["MRR@10"]))
    chosen = RankModel(weights=best["weights"], prf_weight=best["prf_weight"], prf_depth=best["prf_depth"])
    # the check by document: re-fit the chosen setting on questions citing none of the held-out laws
    names = tuple(best["weights"])
    x, y = training_rows(prepared, [i for i, r in enumerate(rows) if r["id"] in doc_fit_ids], chosen, names)
    by_doc = RankModel(weights=dict(zip(names, map(float, fit_weights(x, y)))), prf_weight=chosen.prf_weight,
                       prf_depth=chosen.prf_depth)
    doc_val_idx = [i for i, r in enumerate(rows) if r["id"] in doc_val_ids]
    by_document = {"questions": len(doc_val_idx), "fitted": figures(by_doc, doc_val_idx),
                   "plain 0.8/0.2": figures(RankModel(weights={"dense": 0.8, "bm25": 0.2}), doc_val_idx)}
    echo(f"by document ({len(doc_val_idx)} validation questions on held-out laws): {by_document}")
    payload = {"weights": {k: round(v, 4) for k, v in chosen.weights.items()}, "prf_weight": chosen.prf_weight,
               "prf_depth": chosen.prf_depth,
               "fitted_on": f"STARD train split, fit part ({len(fit_idx)} questions; validation = sha1(id) % 5 == 0)"
                            f" over {len(corpus.docs)} laws, {len(corpus.items)} articles",
               "laws_left_out": left_out,
               "validation": best["validation"], "validation_by_document": by_document,
               "candidates": results, "command": "make fit-ranker"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    echo(f"chosen: {best['name']}; written to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from policy_assistant.retrieval import RANKER_FILE

    parser = argparse.ArgumentParser(prog="python -m policy_assistant.eval.stard_fit", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="STARD's benchmark folder (laws/, train.jsonl)")
    parser.add_argument("--index-dir", type=Path, default=Path(".stard-index") / "cited")
    parser.add_argument("--out", type=Path, default=RANKER_FILE)
    parser.add_argument("--from-cache", action="store_true", help="do not build: the laws the passage cache holds")
    args = parser.parse_args(argv)
    try:
        return run(args.data, Settings.load({"index_dir": args.index_dir}), args.out, build=not args.from_cache)
    except AssistantError as exc:
        print(f"stard_fit: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
