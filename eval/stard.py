"""STARD over whole laws: the index of the laws, the train split and its fit/validation parts, and the
systems scored side by side (``make bench-stard``).

What it does
    - ``law_index``: builds (through the project's own builder, so the passage vectors are cached by
      exact embedded text) and opens the index of the 133 laws STARD cites, or of all 1,297 (``--full``);
    - ``load_train``: STARD's train questions; ``split_questions`` cuts them into a fit part and a
      validation part by question id, ``split_by_document`` does it by gold document as a check;
    - ``Prepared``: the corpus with its vectors and every question's vector and BM25 scores, so that
      rankings can be computed for many settings without re-embedding (question vectors are cached in
      the same SQLite file as the passages);
    - ``cached_corpus``: the same laws chunked, with their vectors read from the passage cache (the
      bench and the fit score in memory; no vector store needed);
    - ``bench``: ours (``HybridRetriever.run``, the real path, question embedded live: its latency and
      its refusals) against
      BM25-only, dense-only and LlamaIndex's default pipeline, with STARD's Recall@k and MRR@10 and
      p50/p95 latency; a table on stdout, a JSON file and a plot under ``artifacts/``.

What it does not do
    It never reads STARD's dev split (kept back for acceptance) and fits nothing: ``eval.stard_fit``
    fits the ranker on the fit part. STARD's data folder is given on the command line (``--data``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from policy_assistant.core.errors import AssistantError, BadInput
from policy_assistant.core.settings import Settings
from policy_assistant.core.text import search_tokens
from policy_assistant.eval.metrics import mean_pair_recall, norm_doc, pair_recall, percentile
from policy_assistant.eval.runner import load_dataset, write_jsonl

DEPTH = 100                        # ranked items kept per question (R@100)
VALIDATION_SHARE = 5               # one question (or document) in 5 goes to validation


# -- data -------------------------------------------------------------------------------------------
def law_files(data: Path, full: bool = False) -> list[Path]:
    laws = Path(data) / "laws"
    if not laws.is_dir():
        raise BadInput(f"{data} is not STARD's benchmark folder (no laws/ in it)")
    if full:
        return sorted(laws.glob("*.md"))
    names = [line.strip() for line in (Path(data) / "cited-laws.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    files = [laws / f"{name}.md" for name in names]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise BadInput(f"cited-laws.txt names laws not in {laws}: {', '.join(missing[:5])}")
    return files


def load_train(data: Path) -> list[dict]:
    path = Path(data) / "train.jsonl"
    if not path.is_file():
        raise BadInput(f"no train.jsonl in {data}")
    return load_dataset(path, gold_required=True)


def _bucket(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % VALIDATION_SHARE


def split_questions(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(fit, validation): one question in five, chosen by a hash of its id, is held out."""
    fit = [r for r in rows if _bucket(r["id"]) != 0]
    return fit, [r for r in rows if _bucket(r["id"]) == 0]


def split_by_document(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(fit, validation) by gold document: validation questions cite only held-out laws, fit questions none."""
    def held(row):
        return [_bucket(norm_doc(g["doc"])) == 0 for g in row["gold"]]
    return [r for r in rows if not any(held(r))], [r for r in rows if all(held(r))]


# -- the index ----------------------------------------------------------------------------------------
def law_settings(settings: Settings, index_dir: Path | None) -> Settings:
    return settings.with_(index_dir=index_dir) if index_dir else settings


def most_cited_first(files: list[Path], rows: list[dict]) -> list[Path]:
    """The laws in the order to embed them: most train citations per (square root of) size first, so that
    an interrupted build (the cache keeps every finished vector) already covers most questions."""
    cited: dict[str, int] = {}
    for row in rows:
        for gold in row["gold"]:
            cited[gold["doc"]] = cited.get(gold["doc"], 0) + 1
    return sorted(files, key=lambda f: (-cited.get(f.stem, 0) / max(1.0, f.stat().st_size) ** 0.5, f.name))


def law_index(data: Path, settings: Settings, full: bool = False, echo=print) -> None:
    """Make the index at ``settings.index_dir`` mirror the cited laws (or all laws); cached, with progress."""
    from policy_assistant.index.builder import build_index
    from policy_assistant.index.embedders import make_embedder

    files = most_cited_first(law_files(data, full), load_train(data))
    echo(f"index of {len(files)} laws at {settings.index_dir} (passage cache {settings.embed_cache_path})")
    report = build_index(files, settings, make_embedder(settings.embed_model, settings.embed_threads),
                         notify=echo, progress=True)
    echo(f"index: {report.summary()}; {report.reused} vectors from the cache")
    if report.failed:
        raise BadInput(f"{len(report.failed)} law(s) could not be indexed: {report.failed[0][1]}")


def cached_corpus(data: Path, settings: Settings, full: bool = False, echo=print):
    """The laws chunked as the builder chunks them, with their vectors from the passage cache; a law with
    any article not yet embedded is left out (so an unfinished build can already be measured, over fewer
    laws: say so when reporting). Returns (corpus, laws left out)."""
    from policy_assistant.index.chunking import chunk_document
    from policy_assistant.index.embed_cache import VectorCache, cache_key
    from policy_assistant.index.loaders import load_document
    from policy_assistant.retrieval import Corpus

    cache = VectorCache(settings.embed_cache_path)
    items, vectors, left_out = [], [], []
    try:
        for path in sorted(law_files(data, full)):
            document = load_document(path)
            document.doc = path.stem
            chunked = chunk_document(document)
            found = cache.get_many([cache_key(settings.embed_model, it.embedding_text()) for it in chunked])
            keys = [cache_key(settings.embed_model, it.embedding_text()) for it in chunked]
            if not chunked or any(k not in found for k in keys):
                left_out.append(path.stem)
                continue
            items += chunked
            vectors += [found[k] for k in keys]
    finally:
        cache.close()
    if not items:
        raise BadInput(f"no law is wholly embedded in {settings.embed_cache_path} yet")
    echo(f"corpus from the passage cache: {len(items)} articles of {len(items) and len({i.doc for i in items})} laws"
         f" ({len(left_out)} laws not wholly embedded yet, left out)")
    return Corpus(items, "passage-cache", np.stack(vectors)), left_out


def query_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00query\x00{text}".encode("utf-8")).hexdigest()


def question_vectors(texts: list[str], embedder, cache_path: Path, echo=print) -> np.ndarray:
    """The question vectors, from the SQLite vector cache where present (embedded and stored otherwise)."""
    from policy_assistant.index.embed_cache import VectorCache

    cache = VectorCache(cache_path)
    try:
        keys = [query_key(embedder.name, t) for t in texts]
        found = cache.get_many(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            echo(f"embedding {len(missing)} questions…")
        for start in range(0, len(missing), 64):
            chunk = missing[start:start + 64]
            vectors = embedder.embed_queries([texts[i] for i in chunk])
            cache.put_many([(keys[i], v) for i, v in zip(chunk, vectors)])
            found.update({keys[i]: np.asarray(v, dtype=np.float32) for i, v in zip(chunk, vectors)})
        return np.stack([found[k] for k in keys])
    finally:
        cache.close()


@dataclass
class Prepared:
    """The corpus with its vectors and, per question, its vector and BM25 scores (computed once)."""

    corpus: object
    rows: list[dict]
    vectors: np.ndarray

    @cached_property
    def bm25(self) -> list[np.ndarray]:
        """Per question, the retriever's BM25 side (``retrieval.lexical_scores``, the shipped lay terms)."""
        from policy_assistant.retrieval import lexical_scores

        return [lexical_scores(self.corpus, row["question"]) for row in self.rows]

    @cached_property
    def dense(self) -> np.ndarray:
        return self.vectors @ self.corpus.vectors.T

    def subset(self, indices: list[int], bm25: list[np.ndarray] | None = None) -> "Prepared":
        """These questions only (their vectors, dense scores and BM25 sides; ``bm25`` replaces the latter)."""
        sub = Prepared(self.corpus, [self.rows[i] for i in indices], self.vectors[indices])
        sub.__dict__["dense"] = self.dense[indices]
        sub.__dict__["bm25"] = bm25 if bm25 is not None else [self.bm25[i] for i in indices]
        return sub

    def refs(self, order) -> list[dict]:
        return [{"doc": self.corpus.items[i].doc, "item": self.corpus.items[i].item,
                 "path": list(self.corpus.items[i].path)} for i in order]


def prepare(settings: Settings, rows: list[dict], corpus, embedder, echo=print) -> Prepared:
    vectors = question_vectors([r["question"] for r in rows], embedder, settings.embed_cache_path, echo)
    return Prepared(corpus, rows, vectors)


def positions(rows: list[dict], chosen: list[dict]) -> list[int]:
    """Where the ``chosen`` rows (by id) stand in ``rows``."""
    ids = {r["id"] for r in chosen}
    return [i for i, r in enumerate(rows) if r["id"] in ids]


def prepared_train(data: Path, settings: Settings, build: bool, echo=print):
    """What the STARD fits start from: (the train questions over the cited laws, prepared; laws left out;
    the fit part's and the validation part's positions, ``split_questions``)."""
    from policy_assistant.index.embedders import make_embedder

    corpus, left_out = open_corpus(data, settings, False, build, echo)
    rows = covered(load_train(data), corpus)
    fit, validation = split_questions(rows)
    prepared = prepare(settings, rows, corpus, make_embedder(settings.embed_model, settings.embed_threads), echo)
    return prepared, left_out, positions(rows, fit), positions(rows, validation)


def open_corpus(data: Path, settings: Settings, full: bool, build: bool, echo=print):
    """(corpus, laws left out): the law index built first (``build``), else whatever the cache holds."""
    if build:
        law_index(data, settings, full, echo)
    return cached_corpus(data, settings, full, echo)


def covered(rows: list[dict], corpus) -> list[dict]:
    """The questions all of whose gold laws are in ``corpus``."""
    indexed = {norm_doc(d) for d in corpus.docs}
    return [r for r in rows if all(norm_doc(g["doc"]) in indexed for g in r["gold"])]


def unknown_gold_docs(rows: list[dict], corpus) -> list[str]:
    indexed = {norm_doc(d) for d in corpus.docs}
    return sorted({g["doc"] for r in rows for g in r["gold"] if norm_doc(g["doc"]) not in indexed})


def leave_out(retriever, memory, question_id: str) -> None:
    """Ask ``retriever`` as if the train question ``question_id`` were new: the shipped question memory
    (``memory``, the retriever's own) holds every train question, and one must not vote for itself."""
    if memory is not None:
        retriever.memory = memory.without(question_id)


def model_rankings(prepared: Prepared, model, depth: int = DEPTH, memory=None, adapter=None) -> list[list[int]]:
    """Each question's ``depth`` best items under a ``RankModel`` (the retriever's own scoring), with a
    ``QuestionMemory`` if given (each question left out of it: a train question never votes for itself)
    and a ``QueryAdapter`` if given."""
    from policy_assistant.retrieval import item_features, top_indices

    corpus = prepared.corpus
    mask = np.ones(len(corpus.items), dtype=bool)
    out = []
    for q, row in enumerate(prepared.rows):
        features = item_features(corpus, prepared.vectors[q], prepared.dense[q], prepared.bm25[q], row["question"],
                                 mask, model, memory.without(row["id"]) if memory is not None else None, adapter)
        out.append(top_indices(model.score(features), mask, depth))
    return out


# what the STARD fits choose on: summed, since any one of them moves by noise at ~220 questions
CRITERION = ("R@10", "MRR@10", "R@100")


def criterion(figures: dict) -> float:
    """The sum of ``CRITERION`` in ``figures`` (a ``recall_of`` result)."""
    return sum(figures[k] for k in CRITERION)


def recall_of(prepared: Prepared, rankings: list[list[int]]) -> dict:
    return mean_pair_recall([pair_recall(row["gold"], prepared.refs(order))
                             for row, order in zip(prepared.rows, rankings)])


# -- the bench ----------------------------------------------------------------------------------------
def bench(data: Path, settings: Settings, full: bool = False, out: Path = Path("artifacts/stard.json"),
          llamaindex: bool = True, limit: int | None = None, build: bool = True, echo=print) -> int:
    from policy_assistant.index.embedders import CachedQueries, make_embedder
    from policy_assistant.query import understand
    from policy_assistant.retrieval import MEMORY_FEATURES, HybridRetriever, RankModel, default_rank_model

    corpus, left_out = open_corpus(data, settings, full, build, echo)
    every = load_train(data)
    rows = covered(every, corpus)
    if len(rows) < len(every):
        echo(f"warning: {len(every) - len(rows)} of {len(every)} questions cite laws not in the corpus; "
             f"measured on the other {len(rows)}")
    if limit:
        rows = rows[:limit]
    fit, validation = split_questions(rows)
    embedder = make_embedder(settings.embed_model, settings.embed_threads)
    prepared = prepare(settings, rows, corpus, embedder, echo)
    validation_ids = {r["id"] for r in validation}
    systems: dict[str, dict] = {}

    def add(name: str, rankings: list[list[dict]], latencies: list[float], refused: list[bool] | None = None,
            note: str = ""):
        per = [pair_recall(row["gold"], ranked) for row, ranked in zip(rows, rankings)]
        val = [p for p, row in zip(per, rows) if row["id"] in validation_ids]
        values = sorted(latencies)
        systems[name] = {"train": mean_pair_recall(per), "validation": mean_pair_recall(val),
                         "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
                         "false_refusals": round(sum(refused) / len(refused), 4) if refused else None,
                         "note": note}
        echo(f"{name}: R@10 {systems[name]['train']['R@10']:.3f} (validation {systems[name]['validation']['R@10']:.3f})")

    # ours: the retriever's own path, question by question, the question embedded live (no vector cache)
    retriever = HybridRetriever(corpus, None, CachedQueries(embedder, 0), settings.today)
    retriever.run(understand(rows[0]["question"]))                 # warm: BM25, jieba, the model
    memory = retriever.memory
    records, latencies, refused = [], [], []
    for row in rows:
        leave_out(retriever, memory, row["id"])
        started = time.perf_counter()
        retrieval = retriever.run(understand(row["question"]), DEPTH)
        latencies.append((time.perf_counter() - started) * 1000)
        refused.append(not (retrieval.answerable and retrieval.hits))
        records.append({"id": row["id"], "retrieved": [hit.to_json() for hit in retrieval.hits[:DEPTH]],
                        "refused": refused[-1], "evidence": retrieval.evidence})
    model = default_rank_model()
    add("ours", [r["retrieved"] for r in records], latencies, refused,
        note=f"ranker: {', '.join(f'{k} {v:+.2f}' for k, v in model.weights.items())}; "
             f"prf {model.prf_weight}/{model.prf_depth}; fitted on {model.fitted_on or '-'}; question memory: "
             f"{'%d train questions, each left out of it when asked' % len(memory.ids) if memory else 'none'}; "
             f"query adapter: {retriever.adapter.fitted_on if retriever.adapter else 'none'}; "
             f"latency: retrieval with the question embedded live")
    write_jsonl(Path(out).with_suffix(".ours.jsonl"), records)

    without_memory = RankModel(weights={k: w for k, w in model.weights.items() if k not in MEMORY_FEATURES},
                               prf_depth=model.prf_depth, prf_weight=model.prf_weight)
    for name, model_ in (("bm25-only", None), ("dense-only", RankModel(weights={"dense": 1.0})),
                         ("dense+bm25 0.8/0.2", RankModel(weights={"dense": 0.8, "bm25": 0.2})),
                         ("ours, no memory", without_memory)):
        started = time.perf_counter()
        if model_ is None:           # BM25 as it comes: the question's own tokens, raw scores
            rankings = []
            for row in rows:
                scores = corpus.bm25.get_scores(search_tokens(row["question"]))
                rankings.append([int(i) for i in np.argsort(-scores, kind="stable")[:DEPTH]])
        else:
            rankings = model_rankings(prepared, model_)
        per_question = (time.perf_counter() - started) * 1000 / len(rows)
        add(name, [prepared.refs(order) for order in rankings], [per_question] * len(rows),
            note="scored in memory; latency: mean per question, question embedding excluded")
    if llamaindex:
        add_llamaindex(corpus, embedder, rows, settings, add, echo)
    result = {"laws": len(corpus.docs), "articles": len(corpus.items), "questions": len(rows),
              "questions_in_split": len(every), "laws_left_out": left_out,
              "validation_questions": len(validation), "full": full, "systems": systems,
              "split": "validation = questions whose sha1(id) % 5 == 0 (eval/stard.py)"}
    print_table(result, echo)
    if left_out:
        echo(f"NOTE: {len(left_out)} laws were not wholly embedded and are not in this corpus: fewer distractors "
             f"than the full {'1,297' if full else '133'}-law index, so these figures are optimistic")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    plot(result, out.with_suffix(".png"))
    echo(f"written: {out}, {out.with_suffix('.png')}, {out.with_suffix('.ours.jsonl')}")
    return 0


def add_llamaindex(corpus, embedder, rows, settings, add, echo) -> None:
    """LlamaIndex's default pipeline (SentenceSplitter chunks, VectorStoreIndex, default retriever)."""
    from policy_assistant.eval.baselines import LlamaIndexDefault
    from policy_assistant.index.embed_cache import CachedPassages, VectorCache

    cache = VectorCache(settings.embed_cache_path)
    try:
        echo("llamaindex-default: chunking and embedding the laws its own way (cached by text)…")
        baseline = LlamaIndexDefault(corpus, CachedPassages(embedder, cache), top_k=DEPTH)
        rankings, latencies = [], []
        for row in rows:
            ranked = baseline.rank(row["question"])
            rankings.append([ref for unit in ranked.units for ref in unit])
            latencies.append(ranked.timing_ms["total"])
        add("llamaindex-default", rankings, latencies,
            note=f"{baseline.chunks} chunks, {baseline.items_per_chunk} articles per chunk (a chunk retrieves all)")
    finally:
        cache.close()


def print_table(result: dict, echo=print) -> None:
    keys = ("R@1", "R@3", "R@5", "R@10", "R@100", "MRR@10")
    echo(f"\nSTARD train split ({result['questions']} questions; validation part {result['validation_questions']}) "
         f"over {result['laws']} laws, {result['articles']} articles")
    echo(f"{'system':<22}" + "".join(f"{k:>8}" for k in keys) + f"{'val R@10':>10}{'val MRR':>9}{'p50 ms':>8}"
         f"{'p95 ms':>8}{'refused':>9}")
    for name, s in result["systems"].items():
        refused = "-" if s["false_refusals"] is None else f"{s['false_refusals']:.3f}"
        echo(f"{name:<22}" + "".join(f"{s['train'][k]:>8.3f}" for k in keys)
             + f"{s['validation']['R@10']:>10.3f}{s['validation']['MRR@10']:>9.3f}{s['p50_ms']:>8.1f}"
               f"{s['p95_ms']:>8.1f}{refused:>9}")


def plot(result: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    keys = ("R@1", "R@3", "R@5", "R@10", "R@100", "MRR@10")
    fig, ax = plt.subplots(figsize=(9, 4))
    names = list(result["systems"])
    width = 0.8 / max(1, len(names))
    for n, name in enumerate(names):
        ax.bar(np.arange(len(keys)) + n * width, [result["systems"][name]["train"][k] for k in keys], width, label=name)
    ax.set_xticks(np.arange(len(keys)) + width * (len(names) - 1) / 2, keys)
    ax.set_ylim(0, 1)
    ax.set_title(f"STARD train split over {result['laws']} laws ({result['articles']} articles)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit_main(module: str, description: str, run, default_out: Path, argv: list[str] | None = None) -> int:
    """The command line the STARD fits share (``--data``, ``--index-dir``, ``--out``, ``--from-cache``):
    ``run(data, settings, out, build=...)`` with errors as one line and exit code 2."""
    parser = argparse.ArgumentParser(prog=f"python -m policy_assistant.eval.{module}", description=description)
    parser.add_argument("--data", type=Path, required=True, help="STARD's benchmark folder (laws/, train.jsonl)")
    parser.add_argument("--index-dir", type=Path, default=Path(".stard-index") / "cited")
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--from-cache", action="store_true", help="do not build: the laws the passage cache holds")
    args = parser.parse_args(argv)
    try:
        return run(args.data, Settings.load({"index_dir": args.index_dir}), args.out, build=not args.from_cache)
    except AssistantError as exc:
        print(f"{module}: {exc.message}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy_assistant.eval.stard", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["bench", "index"])
    parser.add_argument("--data", type=Path, required=True, help="STARD's benchmark folder (laws/, train.jsonl)")
    parser.add_argument("--index-dir", type=Path, help="where the law index lives (default .stard-index/cited|full)")
    parser.add_argument("--full", action="store_true", help="all 1,297 laws instead of the 133 cited ones")
    parser.add_argument("--out", type=Path, default=Path("artifacts/stard.json"))
    parser.add_argument("--no-llamaindex", action="store_true", help="leave LlamaIndex's default pipeline out")
    parser.add_argument("--limit", type=int, help="the first N train questions only (a quick look)")
    parser.add_argument("--from-cache", action="store_true",
                        help="do not build: measure over the laws the passage cache already holds whole")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load({"index_dir": args.index_dir or Path(".stard-index") / ("full" if args.full else "cited")})
        if args.command == "index":
            law_index(args.data, settings, args.full)
            return 0
        return bench(args.data, settings, args.full, args.out, not args.no_llamaindex, args.limit,
                     build=not args.from_cache)
    except AssistantError as exc:
        print(f"stard: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
