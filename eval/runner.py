"""Run eval datasets through the assistant, or grade answers from any system.

``run_eval`` asks every dataset question (with its history and doc), scores the
answers with ``eval.metrics``, prints a metrics table against the gates of
``eval/gates.toml``, writes ``--out`` records and an optional HTML report
(``eval.report``), and returns 1 when a gate fails. ``score_answers`` grades a JSONL
of answers made elsewhere: the markers are read from the answer text, the item
texts come from the index, never from the input. Dataset and answer lines are
validated before anything runs; a bad line is a ``BadInput`` naming it.
"""
from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

from policy_assistant.core.errors import AssistantError, BadInput
from policy_assistant.core.settings import Settings
from policy_assistant.eval.metrics import RATIO_METRICS, Gate, aggregate, question_metrics

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = sorted((HERE / "datasets").glob("*.jsonl"))
GATES_FILE = HERE / "gates.toml"
LIST_FIELDS = ("history", "gold_items", "answer_keywords")


def load_dataset(path: Path, need: str = "question", gold_required: bool = False) -> list[dict]:
    """The lines of a JSONL dataset (or answers file), checked; ``need`` names the one required string field.

    ``gold`` (STARD's form, ``[{"doc", "item"}, …]``) is checked too and gives ``gold_items`` when a line has
    none; with ``gold_required`` (eval datasets) a line with neither is an error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get(need), str):
            raise BadInput(f"{path}:{number}: each line needs a \"{need}\" string")
        for name in LIST_FIELDS:
            value = row.get(name)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise BadInput(f"{path}:{number}: \"{name}\" must be a list of strings")
        for name in ("doc", "question", "id"):
            if row.get(name) is not None and not isinstance(row[name], str):
                raise BadInput(f"{path}:{number}: \"{name}\" must be a string")
        gold = row.get("gold")
        if gold is not None:
            if not (isinstance(gold, list) and all(isinstance(g, dict) and isinstance(g.get("doc"), str)
                                                   and isinstance(g.get("item"), str) for g in gold)):
                raise BadInput(f"{path}:{number}: \"gold\" must be a list of {{\"doc\", \"item\"}} strings")
            row.setdefault("gold_items", [g["item"] for g in gold])
        elif gold_required and row.get("gold_items") is None:
            raise BadInput(f"{path}:{number}: the line has neither \"gold_items\" nor \"gold\" "
                           f"(use \"gold_items\": [] for a question the documents do not answer)")
        row.setdefault("id", f"{Path(path).stem}-{number}")
        rows.append(row)
    return rows


def load_gates(path: Path | None = None, section: str = "gates") -> list[Gate]:
    """The gates of one table of gates.toml: metric = [">=" or "<=", threshold]."""
    path = Path(path or GATES_FILE)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))[section]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise BadInput(f"cannot read the [{section}] gates of {path}: {exc!r}") from None
    gates = []
    for metric, rule in table.items():
        if not (isinstance(rule, list) and len(rule) == 2 and rule[0] in (">=", "<=")
                and isinstance(rule[1], (int, float)) and not isinstance(rule[1], bool)):
            raise BadInput(f"{path}: gate {metric!r} must be [\">=\" or \"<=\", number]")
        gates.append(Gate(metric, rule[0], float(rule[1])))
    return gates


def run_eval(datasets: list[Path], settings: Settings, out: Path | None = None, report: Path | None = None,
             generator: str | None = None, assistant=None, echo=print, gates_section: str = "gates",
             top_k: int = 8) -> int:
    """Ask, score, print the table, write ``out``/``report``; 1 when a gate of ``gates_section`` fails."""
    paths = [Path(p) for p in datasets] or DEFAULT_DATASETS
    gates = load_gates(section=gates_section)
    check_gates(gates)
    summary, records = evaluate(paths, settings, generator=generator, assistant=assistant, top_k=top_k)
    for warning in summary.pop("warnings", []):
        echo(f"warning: {warning}")
    failed = print_table(summary, gates, echo)
    if out:
        write_jsonl(out, records)
    if report:
        from policy_assistant.eval.report import write_report

        write_report(report, summary, gates, records, title="Grounding eval: " + ", ".join(p.name for p in paths))
        echo(f"report written to {report}")
    return 1 if failed else 0


def evaluate(paths: list[Path], settings: Settings | None = None, generator: str | None = None,
             assistant=None, top_k: int = 8) -> tuple[dict, list[dict]]:
    """Ask every question of ``paths``; returns (the aggregate metrics, one record per question).

    Lines with ``gold`` pairs also get STARD's Recall@k / MRR@10 over ``retrieved`` (``stard_*`` metrics);
    gold documents the index does not hold are listed under ``warnings``, not silently scored as misses."""
    from policy_assistant.engine import Assistant
    from policy_assistant.eval.metrics import mean_pair_recall, norm_doc, pair_recall

    lines = [(Path(path), line) for path in paths for line in load_dataset(path, gold_required=True)]
    assistant = assistant or Assistant(settings)
    items = assistant.corpus().items
    indexed = {norm_doc(item.doc) for item in items}
    unknown = sorted({g["doc"] for _, line in lines for g in line.get("gold") or [] if norm_doc(g["doc"]) not in indexed})
    rows, records, recalls = [], [], []
    for path, line in lines:
        try:
            record = assistant.ask(line["question"], line.get("history") or [], line.get("doc"), generator,
                                   top_k=top_k)
        except AssistantError as exc:
            record = {"question": line["question"], "error": exc.message, "refused": True, "answer": "",
                      "citations": [], "retrieved": [], "timing_ms": {}}
        record = {"id": line["id"], "dataset": path.name, **record}
        if line.get("history"):
            record.setdefault("history", line["history"])
        metrics = question_metrics(line, record, items)
        if line.get("gold"):
            metrics["pair_recall"] = pair_recall(line["gold"], record.get("retrieved") or [])
            recalls.append(metrics["pair_recall"])
        rows.append({**metrics, "timing_ms": record.get("timing_ms") or {}})
        records.append({**record, "gold_items": line.get("gold_items"), "gold": line.get("gold"),
                        "answer_keywords": line.get("answer_keywords") or [], "metrics": metrics})
    summary = aggregate(rows)
    summary.update({f"stard_{k}": v for k, v in mean_pair_recall(recalls).items()})
    if unknown:
        summary["warnings"] = [f"{len(unknown)} gold document(s) not in the index (their articles cannot be found): "
                               + ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")]
    return summary, records


def check_gates(gates: list[Gate]) -> None:
    """Fail before running anything when a gate names a metric the eval does not compute."""
    known = set(RATIO_METRICS) | {f"stard_R@{k}" for k in (1, 3, 5, 10, 100)} | {"stard_MRR@10"} | {"questions", "answerable", "unanswerable", "unsupported_sentences", "failed_questions"}
    unknown = [g.metric for g in gates if g.metric not in known and not re.fullmatch(r"p(50|95)_\w+_ms", g.metric)]
    if unknown:
        raise BadInput(f"{GATES_FILE.name} names metrics the eval does not compute: {', '.join(unknown)}")


def print_table(summary: dict, gates: list[Gate], echo=print) -> list[str]:
    """The metrics with their gates; returns the failed gates' metrics."""
    by_metric = {gate.metric: gate for gate in gates}
    failed = []
    echo(f"{'metric':<24}{'value':>10}  gate")
    for metric, value in summary.items():
        gate = by_metric.get(metric)
        verdict = ""
        if gate:
            ok = gate.passes(value)
            verdict = f"{gate.op} {gate.threshold:g}  " + ("n/a" if value is None else "ok" if ok else "FAIL")
            if not ok:
                failed.append(metric)
        shown = "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
        echo(f"{metric:<24}{shown:>10}  {verdict}".rstrip())
    echo(f"gates failed: {', '.join(failed)}" if failed else f"all {len(gates)} gates passed")
    return failed


def score_answers(paths: list[Path], settings: Settings, out: Path | None = None, assistant=None, echo=print) -> int:
    """Grade answers produced by any system. Lines: {"answer", "id"?, "question"?, "doc"?, "gold_items"?,
    "answer_keywords"?, "refused"?, "retrieved"? [{doc, item, path}], "timing_ms"?}. Markers are read from
    the answer text; item texts come from the index. Each output line is the input line plus ``grounding``
    {sentences, supported, score, unsupported, invalid_citations} (each sentence against the items it cites,
    as the assistant checks its own answers), ``citations`` (the items the markers name, from the index),
    ``citations_valid`` and ``metrics`` (everything else that applies). Returns 0."""
    from policy_assistant.engine import Assistant

    if not paths:
        raise BadInput("eval score needs an ANSWERS.jsonl file")
    lines = [line for path in paths for line in load_dataset(path, need="answer")]
    if out is None and echo is print:
        echo = _stderr                          # stdout carries the scored records
    assistant = assistant or Assistant(settings)
    items = assistant.corpus().items
    scored, rows = [], []
    for line in lines:
        citations = _citations_from_text(line["answer"], items, line.get("doc"))
        record = {"answer": line["answer"], "citations": [{k: v for k, v in c.items() if k != "text"} for c in citations]}
        if "refused" in line:
            record["refused"] = bool(line["refused"])
        if isinstance(line.get("retrieved"), list):
            record["retrieved"] = [ref for ref in line["retrieved"] if isinstance(ref, dict)]
        metrics = question_metrics(line, record, items)
        rows.append({**metrics, "timing_ms": line.get("timing_ms") if isinstance(line.get("timing_ms"), dict) else {}})
        scored.append({**{k: v for k, v in line.items() if k not in ("grounding", "citations", "metrics")},
                       "grounding": metrics["citation_grounding"], "citations": citations,
                       "citations_valid": metrics["citations_valid"], "metrics": metrics})
    if out:
        write_jsonl(out, scored)
    else:
        for row in scored:
            print(json.dumps(row, ensure_ascii=False), file=sys.stdout)
    for row in scored:
        print_verdicts(row, echo)
    summary = aggregate(rows)
    print_table({k: v for k, v in summary.items() if v is not None}, [], echo)
    echo(f"scored {len(scored)} answers" + (f"; written to {out}" if out else ""))
    return 0


def print_verdicts(record: dict, echo=print) -> None:
    """One answer's sentences, each with its verdict and, when flagged, the reason (kind first)."""
    name = record.get("id") or record.get("question") or "answer"
    echo(f"-- {name}")
    sentences = record.get("metrics", {}).get("sentences") or []
    if not sentences:
        echo("   (no claim to check)")
    for row in sentences:
        mark = "✔ supported  " if row.get("supported") else "✘ FLAGGED    "
        reason = f"   ⟵ {row['reason']}" if not row.get("supported") and row.get("reason") else ""
        echo(f"   {mark}{row['sentence']}{reason}")
    for label in record.get("metrics", {}).get("invalid_citations") or []:
        echo(f"   ✘ invalid citation: [{label}] names no item")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _citations_from_text(answer: str, items, doc: str | None) -> list[dict]:
    from policy_assistant import grounding

    scope = [it for it in items if not doc or it.doc == doc] or items
    found = {}
    for _, labels in grounding.claims(answer):
        for label in labels:
            for item in grounding.resolve(label, scope):
                found.setdefault(item.key, item.citation())
    return list(found.values())


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)
