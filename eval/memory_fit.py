"""Fit the question memory on STARD's train split (``make fit-memory``) -> ``assistant/data/question_memory.npz``.

What it does
    The memory (``retrieval.QuestionMemory``) lets a new question's nearest earlier questions vote for the
    articles that answered them; its vote is one more ranking feature (``memory`` in ``data/ranker.json``).
    Its settings (how many neighbours vote, the softmax temperature over their similarity, the vote's weight
    in the ranker, and the weight of ``cited``, how often an article answered earlier questions) are chosen
    on two checks, the sum of R@10, MRR@10 and R@100 under the shipped ranker:
    - the question split (``stard.split_questions``): the memory holds the fit part, the validation part asks
      (new questions over the same laws: what STARD's dev split is);
    - the split by document (``stard.split_by_document``): the memory holds only questions that cite none of
      the held-out laws, and questions citing only those laws ask. The memory cannot help them; it can only
      pull them towards the laws it knows. A setting may cost that check at most ``BY_DOCUMENT_TOLERANCE``.
    Among the settings within that tolerance ("no memory" included) the best on the question split wins. The
    shipped memory then holds every train question (its vector by the default embedder and its gold pairs),
    and the chosen weights (``memory``, ``cited``) are written into ``assistant/data/ranker.json`` (with another
    ``--out``, into a copy of it beside that file: an experiment does not change what ships).

What it does not do
    It never reads STARD's dev split. Train questions asked of the shipped memory would find themselves: the
    bench (``eval.stard``) leaves each question out of it. It does not score the bundled corpus, where the
    memory has no vote (none of its articles is there).
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from policy_assistant.core.model import norm_doc, norm_label
from policy_assistant.core.settings import Settings
from policy_assistant.eval import stard

TEMPERATURES = [0.03, 0.05]
NEIGHBOURS = [10, 30]
WEIGHTS = [0.0, 0.25, 0.5, 1.0, 1.5]           # of the vote (``memory``)
CITED_WEIGHTS = [0.0, 0.025, 0.05, 0.1]       # of the prior (``cited``)
BY_DOCUMENT_TOLERANCE = 0.01    # the most the by-document check's summed figures may fall


def memory_of(prepared: stard.Prepared, indices: list[int], model: str, neighbours: int, temperature: float):
    from policy_assistant.retrieval import QuestionMemory

    rows = [prepared.rows[i] for i in indices]
    return QuestionMemory(model=model, vectors=prepared.vectors[indices], ids=tuple(r["id"] for r in rows),
                          answers=tuple(tuple((norm_doc(g["doc"]), norm_label(g["item"])) for g in r["gold"])
                                        for r in rows),
                          neighbours=neighbours, temperature=temperature)


def run(data: Path, settings: Settings, out: Path, build: bool = True, echo=print) -> int:
    from policy_assistant.retrieval import MEMORY_FEATURES, RANKER_FILE, default_rank_model

    prepared, _, fit_idx, val_idx = stard.prepared_train(data, settings, build, echo)
    rows = prepared.rows
    doc_fit, doc_val = stard.split_by_document(rows)
    doc_fit_idx, doc_val_idx = stard.positions(rows, doc_fit), stard.positions(rows, doc_val)
    shipped = default_rank_model()
    base = {k: w for k, w in shipped.weights.items() if k not in MEMORY_FEATURES}
    model_name = settings.embed_model
    echo(f"question split: memory {len(fit_idx)}, asking {len(val_idx)}; by document: memory {len(doc_fit_idx)}, "
         f"asking {len(doc_val_idx)}")

    def figures(memory_indices, asking, neighbours, temperature, weight, cited) -> dict:
        extra = {name: w for name, w in (("memory", weight), ("cited", cited)) if w}
        ranker = replace(shipped, weights=base | extra)
        memory = memory_of(prepared, memory_indices, model_name, neighbours, temperature) if extra else None
        sub = prepared.subset(asking)
        return stard.recall_of(sub, stard.model_rankings(sub, ranker, memory=memory))

    plain = {"name": "no memory", "weight": 0.0, "cited": 0.0, "neighbours": 0, "temperature": 0.0,
             "validation": figures(fit_idx, val_idx, 0, 0, 0, 0),
             "by_document": figures(doc_fit_idx, doc_val_idx, 0, 0, 0, 0)}
    candidates = [plain]
    settings_grid = [(t, n, w, c) for t in TEMPERATURES for n in NEIGHBOURS for w in WEIGHTS for c in CITED_WEIGHTS
                     if w or (c and (t, n) == (TEMPERATURES[0], NEIGHBOURS[0]))]   # without a vote t, n do not matter
    for temperature, neighbours, weight, cited in settings_grid:
        result = {"name": f"{neighbours} neighbours, temperature {temperature}, weight {weight}, cited {cited}",
                  "weight": weight, "cited": cited, "neighbours": neighbours, "temperature": temperature,
                  "validation": figures(fit_idx, val_idx, neighbours, temperature, weight, cited),
                  "by_document": figures(doc_fit_idx, doc_val_idx, neighbours, temperature, weight, cited)}
        candidates.append(result)
        echo(f"{result['name']}: " + "; ".join(
            f"{part} R@10 {result[part]['R@10']:.3f} MRR@10 {result[part]['MRR@10']:.3f} "
            f"R@100 {result[part]['R@100']:.3f} ({stard.criterion(result[part]) - stard.criterion(plain[part]):+.3f})"
            for part in ("validation", "by_document")))
    allowed = [r for r in candidates
               if stard.criterion(r["by_document"]) >= stard.criterion(plain["by_document"]) - BY_DOCUMENT_TOLERANCE]
    best = max(allowed, key=lambda r: stard.criterion(r["validation"]))
    echo(f"chosen: {best['name']}")
    write(prepared, out, best, plain, model_name, len(fit_idx), len(val_idx), len(doc_val_idx), candidates)
    ranker_path = Path(out).with_name(Path(RANKER_FILE).name)
    ranker = json.loads(Path(RANKER_FILE).read_text(encoding="utf-8"))
    ranker["weights"] = {k: w for k, w in ranker["weights"].items() if k not in MEMORY_FEATURES}
    ranker["weights"].update({name: best[key] for name, key in (("memory", "weight"), ("cited", "cited")) if best[key]})
    ranker["memory_fitted_on"] = f"make fit-memory: {best['name']} (see data/question_memory.npz)"
    ranker_path.write_text(json.dumps(ranker, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    echo(f"written: {out}; memory weight {best['weight']}, cited {best['cited']} in {ranker_path}")
    return 0


def write(prepared, out: Path, best: dict, plain: dict, model_name: str, fit: int, validation: int,
          by_document: int, candidates: list[dict]) -> None:
    every = list(range(len(prepared.rows)))
    memory = memory_of(prepared, every, model_name, best["neighbours"] or 30, best["temperature"] or 0.05)
    memory = replace(memory, fitted_on=(
        f"STARD train split: all {len(every)} questions over {len(prepared.corpus.docs)} laws "
        f"({len(prepared.corpus.items)} articles). Settings chosen with the memory holding the fit part "
        f"({fit} questions) and the validation part ({validation}, sha1(id) % 5 == 0) asking, and by document "
        f"({by_document} questions citing only held-out laws): {best['name']}; command: make fit-memory"))
    pick = lambda r: {k: r[k] for k in ("name", "validation", "by_document")}  # noqa: E731
    memory.save(out, {"chosen": pick(best), "without_memory": pick(plain),
                      "by_document_tolerance": BY_DOCUMENT_TOLERANCE,
                      "candidates": [pick(r) for r in candidates]})


def main(argv: list[str] | None = None) -> int:
    from policy_assistant.retrieval import MEMORY_FILE

    return stard.fit_main("memory_fit", __doc__.split("\n")[0], run, MEMORY_FILE, argv)


if __name__ == "__main__":
    sys.exit(main())
