"""Run eval datasets through the assistant, or grade answers from any system.

``run_eval`` asks every dataset question (with its history and doc), scores the
answers with ``eval.metrics``, prints a metrics table against the gates of
``eval/gates.toml``, writes ``--out`` records and an optional HTML report, and
returns 1 when a gate fails. ``score_answers`` grades a JSONL of answers made
elsewhere: the markers are read from the answer text, the item texts come from
the index. Dataset lines are validated; a bad line is a ``BadInput`` naming it.
"""
from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from assistant.errors import AssistantError, BadInput
from assistant.settings import Settings
from eval.metrics import Gate, aggregate, question_metrics

HERE = Path(__file__).resolve().parent
DEFAULT_DATASETS = sorted((HERE / "datasets").glob("*.jsonl"))
GATES_FILE = HERE / "gates.toml"


def load_dataset(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read dataset {path}: {exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise BadInput(f"{path}:{number}: each line needs a \"question\" string")
        row.setdefault("id", f"{Path(path).stem}-{number}")
        rows.append(row)
    return rows


def load_gates(path: Path = GATES_FILE) -> list[Gate]:
    table = tomllib.loads(path.read_text(encoding="utf-8"))["gates"]
    return [Gate(metric, op, float(threshold)) for metric, (op, threshold) in table.items()]


def run_eval(datasets: list[Path], settings: Settings, out: Path | None = None, report: Path | None = None,
             generator: str | None = None, assistant=None, echo=print) -> int:
    from assistant.engine import Assistant

    assistant = assistant or Assistant(settings)
    paths = list(datasets) or DEFAULT_DATASETS
    items = assistant.corpus().items
    rows, records = [], []
    for path in paths:
        for line in load_dataset(path):
            try:
                record = assistant.ask(line["question"], line.get("history") or [], line.get("doc"), generator)
            except AssistantError as exc:
                record = {"question": line["question"], "error": exc.message, "refused": True, "answer": "",
                          "citations": [], "retrieved": [], "timing_ms": {}}
            record = {"id": line["id"], "dataset": Path(path).name, **record}
            metrics = question_metrics(line, record, items)
            rows.append({**metrics, "id": line["id"], "keywords": line.get("answer_keywords") or [],
                         "timing_ms": record.get("timing_ms") or {}})
            records.append({**record, "gold_items": line.get("gold_items") or [], "metrics": metrics})
    summary = aggregate(rows)
    gates = load_gates()
    failed = print_table(summary, gates, echo)
    if out:
        write_jsonl(out, records)
    if report:
        from eval.report import write_report

        write_report(report, summary, gates, records)
    return 1 if failed else 0


def print_table(summary: dict, gates: list[Gate], echo=print) -> list[str]:
    by_metric = {gate.metric: gate for gate in gates}
    failed = []
    echo(f"{'metric':<22}{'value':>10}  gate")
    for metric, value in summary.items():
        gate = by_metric.get(metric)
        verdict = ""
        if gate:
            ok = gate.passes(value)
            verdict = f"{gate.op} {gate.threshold:g}  {'ok' if ok else 'FAIL'}"
            if not ok:
                failed.append(metric)
        shown = "-" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
        echo(f"{metric:<22}{shown:>10}  {verdict}")
    if failed:
        echo(f"gates failed: {', '.join(failed)}")
    return failed


def score_answers(paths: list[Path], settings: Settings, out: Path | None = None, assistant=None, echo=print) -> int:
    """Grade answers produced by any system: lines {"id","question","answer", "gold_items"?, "answer_keywords"?, "refused"?}."""
    from assistant.engine import Assistant

    if not paths:
        raise BadInput("eval score needs an ANSWERS.jsonl file")
    assistant = assistant or Assistant(settings)
    items = assistant.corpus().items
    scored = []
    for path in paths:
        for line in load_dataset(path):
            if not isinstance(line.get("answer"), str):
                raise BadInput(f"{path}: line {line['id']} has no \"answer\" string")
            record = {"answer": line["answer"], "refused": bool(line.get("refused")), "retrieved": [],
                      "citations": _citations_from_text(line["answer"], items, line.get("doc"))}
            metrics = question_metrics(line, record, items)
            scored.append({**line, "grounding": metrics["grounding"], "citations_valid": metrics["citations_valid"],
                           "metrics": metrics})
    if out:
        write_jsonl(out, scored)
    else:
        for row in scored:
            print(json.dumps(row, ensure_ascii=False), file=sys.stdout)
    mean = sum(r["grounding"]["score"] for r in scored) / len(scored) if scored else 0.0
    valid = sum(r["citations_valid"] for r in scored) / len(scored) if scored else 0.0
    echo(f"scored {len(scored)} answers: grounding {mean:.3f}, citation validity {valid:.3f}", )
    return 0


def _citations_from_text(answer: str, items, doc: str | None) -> list[dict]:
    from assistant import grounding

    scope = [it for it in items if not doc or it.doc == doc]
    found = {}
    for label in grounding.parse_markers(answer):
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
