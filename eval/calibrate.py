"""Calibrate the support check on labelled sentence–item pairs, and measure it on pairs it was not fitted on.

``python -m policy_assistant.eval.calibrate [--json]`` reads every ``eval/calibration/*.jsonl`` file (lines
``{"id", "sentence", "item", "supported", "kind", "doc"?, "item_text"?, "split"?}``; no ``doc`` means the
bundled document; with no ``item_text`` the item is taken from the shipped documents, loaded and chunked as
the index does). Each document belongs to ONE split, ``fit`` or ``test`` (the ``split`` of its rows in
``llm_style_pairs.jsonl``, written by ``eval/calibration/generate.py``), so no document is on both sides.

For each pair it computes what ``assistant.grounding`` sees (``grounding.assess``): the IDF-weighted word
coverage of the weakest clause, the rarest thing-word the item lacks (and its IDF), and whether the
number/negation/modality rules reject it. On the FIT pairs only it chooses the coverage threshold and the
entity IDF threshold with the best agreement (ties: the middle of the widest interval); it then reports
precision/recall of flagging (calling a sentence unsupported) on the TEST pairs only, overall and per kind,
the share of true sentences flagged, and whether ``grounding.SUPPORT_THRESHOLD`` / ``grounding.ENTITY_IDF``
are the chosen ones (exit 1 if not). English pairs (``kind: english``) are judged by
``grounding.support_crosslingual`` with the real embedder, not here: ``tests/test_llm.py`` checks them.

This module changes nothing; set the thresholds by hand from its output.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from policy_assistant import grounding
from policy_assistant.core.model import Item

HERE = Path(__file__).resolve().parent
PAIRS_DIR = HERE / "calibration"
NOT_BIGRAM_KINDS = ("english",)


@dataclass
class Pair:
    id: str
    file: str
    doc: str
    item: str
    sentence: str
    supported: bool
    kind: str
    split: str = "fit"
    text: str = ""                   # the cited item's support text
    score: float = 0.0               # IDF-weighted word coverage of the weakest clause
    entity: str = ""                 # the rarest thing-word the item lacks
    entity_idf: float = 0.0
    rule: str = ""                   # why the number/modality rules reject it ('' when they do not)

    def verdict(self, threshold: float, entity_idf: float, rules: bool = True) -> bool:
        return self.score >= threshold and self.entity_idf < entity_idf and not (rules and self.rule)


@lru_cache(maxsize=1)
def shipped_items() -> dict[str, list[Item]]:
    """doc id -> items, for the bundled corpus and the held-out corpora."""
    from policy_assistant.index.builder import BUNDLED_CORPUS
    from policy_assistant.index.chunking import chunk_document
    from policy_assistant.index.loaders import load_document

    paths = sorted(Path(BUNDLED_CORPUS).glob("*.txt")) if Path(BUNDLED_CORPUS).is_dir() else [Path(BUNDLED_CORPUS)]
    paths += sorted((HERE / "corpora").glob("*.txt"))
    out = {}
    for path in paths:
        document = load_document(path)
        document.doc = path.stem
        out[path.stem] = chunk_document(document)
    return out


def default_doc() -> str:
    from policy_assistant.index.builder import BUNDLED_CORPUS

    path = Path(BUNDLED_CORPUS)
    return (sorted(path.glob("*.txt"))[0] if path.is_dir() else path).stem


def load_pairs(directory: Path = PAIRS_DIR) -> list[Pair]:
    rows = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                rows.append((path.name, number, json.loads(line)))
    fallback = default_doc()
    splits: dict[str, str] = {}
    for name, number, row in rows:
        if "split" in row:
            doc = row.get("doc") or fallback
            if splits.setdefault(doc, row["split"]) != row["split"]:
                raise ValueError(f"{name}:{number}: document {doc!r} is in both splits")
    pairs = []
    for name, number, row in rows:
        doc = row.get("doc") or fallback
        text = row.get("item_text")
        if text is None:
            found = [it for it in shipped_items().get(doc, []) if it.matches(row["item"])]
            if len(found) != 1:
                raise ValueError(f"{name}:{number}: item {row['item']!r} of {doc!r} names {len(found)} items")
            text = grounding.support_text(found[0])
        pair = Pair(row["id"], name, doc, row["item"], row["sentence"], bool(row["supported"]), row["kind"],
                    splits.get(doc, "fit"), text)
        if pair.kind not in NOT_BIGRAM_KINDS:
            pair.score, pair.entity, pair.entity_idf, pair.rule = grounding.assess(pair.sentence, text)
        pairs.append(pair)
    return pairs


ENTITY_CANDIDATES = tuple(x / 2 for x in range(10, 31)) + (float("inf"),)      # 5.0 … 15.0, or off


def choose_thresholds(pairs: list[Pair]) -> tuple[float, float]:
    """The (coverage threshold, entity IDF threshold) with the best agreement on ``pairs``: for each entity
    threshold the best coverage threshold (the middle of the widest best interval), then the entity
    threshold with the best agreement (ties: the middle one of the best run)."""
    results = []
    for entity in ENTITY_CANDIDATES:
        threshold = choose_threshold(pairs, entity)
        results.append((agreement(pairs, threshold, entity), entity, threshold))
    best = max(r[0] for r in results)
    run = [r for r in results if r[0] == best]
    _, entity, threshold = run[len(run) // 2]
    return threshold, entity


def choose_threshold(pairs: list[Pair], entity_idf: float = float("inf"), rules: bool = True) -> float:
    """The coverage threshold with the best agreement; among equals, the middle of the widest interval."""
    scores = sorted({0.0, 1.0, *(pair.score for pair in pairs)})
    candidates = sorted({0.0, *((a + b) / 2 for a, b in zip(scores, scores[1:])), 1.0})
    agreement_ = [sum(pair.verdict(t, entity_idf, rules) == pair.supported for pair in pairs) for t in candidates]
    best = max(agreement_)
    runs, start = [], None
    for index, value in enumerate(agreement_ + [-1]):
        if value == best and start is None:
            start = index
        elif value != best and start is not None:
            runs.append((start, index - 1))
            start = None

    def span(run):
        low = max([s for s in scores if s <= candidates[run[0]]], default=0.0)
        high = min([s for s in scores if s >= candidates[run[1]]], default=1.0)
        return high - low, low, high

    width, low, high = max((span(run) for run in runs), key=lambda x: (x[0], -x[1]))
    return round((low + high) / 2, 2)


def agreement(pairs: list[Pair], threshold: float, entity_idf: float, rules: bool = True) -> float:
    return round(sum(p.verdict(threshold, entity_idf, rules) == p.supported for p in pairs) / len(pairs), 4) \
        if pairs else 1.0


def flagging(pairs: list[Pair], threshold: float, entity_idf: float) -> dict:
    """Precision/recall of flagging (calling a sentence unsupported), and the share of true sentences flagged."""
    flagged = [p for p in pairs if not p.verdict(threshold, entity_idf)]
    bad = [p for p in pairs if not p.supported]
    good = [p for p in pairs if p.supported]
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {"pairs": len(pairs), "flagged": len(flagged),
            "flag_precision": ratio(sum(not p.supported for p in flagged), len(flagged)),
            "flag_recall": ratio(sum(not p.verdict(threshold, entity_idf) for p in bad), len(bad)),
            "true_flagged": ratio(sum(not p.verdict(threshold, entity_idf) for p in good), len(good)),
            "agreement": agreement(pairs, threshold, entity_idf)}


@dataclass
class Report:
    threshold: float
    entity_idf: float
    configured: dict
    fit: dict
    test: dict
    test_by_kind: dict = field(default_factory=dict)
    test_by_doc: dict = field(default_factory=dict)
    test_by_file: dict = field(default_factory=dict)
    docs: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    disagreements: list = field(default_factory=list)


def calibrate(directory: Path = PAIRS_DIR) -> Report:
    every = load_pairs(directory)
    pairs = [p for p in every if p.kind not in NOT_BIGRAM_KINDS]
    fit = [p for p in pairs if p.split == "fit"]
    test = [p for p in pairs if p.split == "test"]
    threshold, entity = choose_thresholds(fit)
    report = Report(threshold=threshold, entity_idf=entity,
                    configured={"SUPPORT_THRESHOLD": grounding.SUPPORT_THRESHOLD, "ENTITY_IDF": grounding.ENTITY_IDF},
                    fit=flagging(fit, threshold, entity), test=flagging(test, threshold, entity),
                    docs={split: sorted({p.doc for p in pairs if p.split == split}) for split in ("fit", "test")})
    for kind in sorted({p.kind for p in test}):
        report.test_by_kind[kind] = flagging([p for p in test if p.kind == kind], threshold, entity)
    for name in sorted({p.file for p in test}):
        report.test_by_file[name] = flagging([p for p in test if p.file == name], threshold, entity)
    for doc in sorted({p.doc for p in test}):
        report.test_by_doc[doc] = flagging([p for p in test if p.doc == doc], threshold, entity)
    for kind in NOT_BIGRAM_KINDS:
        group = [p for p in every if p.kind == kind]
        if group:
            report.excluded[kind] = {"pairs": len(group),
                                     "note": "another language: judged by grounding.support_crosslingual"}
    report.disagreements = [{"id": p.id, "kind": p.kind, "label": p.supported, "score": p.score,
                             "entity": p.entity, "rule": p.rule, "sentence": p.sentence}
                            for p in fit if p.verdict(threshold, entity) != p.supported]
    return report


def render(report: Report) -> str:
    def pct(value):
        return "-" if value is None else f"{value:.1%}"

    def row(name, r):
        return (f"{name[:28]:<30}{r['pairs']:>6}{pct(r['agreement']):>9}{pct(r['flag_precision']):>9}"
                f"{pct(r['flag_recall']):>9}{pct(r['true_flagged']):>9}")

    lines = [f"chosen on the fit part: coverage threshold {report.threshold:.2f}, entity IDF {report.entity_idf:g}  "
             f"(grounding: SUPPORT_THRESHOLD = {report.configured['SUPPORT_THRESHOLD']:.2f}, "
             f"ENTITY_IDF = {report.configured['ENTITY_IDF']:g})",
             f"fit documents: {len(report.docs['fit'])}; test documents: {len(report.docs['test'])}", "",
             f"{'':<30}{'pairs':>6}{'agree':>9}{'flag P':>9}{'flag R':>9}{'true fl.':>9}",
             row("fit (tuned on)", report.fit), row("TEST (held out)", report.test), "", "test, per kind:"]
    lines += [row("  " + kind, r) for kind, r in report.test_by_kind.items()]
    lines += ["", "test, per file:"] + [row("  " + name, r) for name, r in report.test_by_file.items()]
    lines += ["", "test, per document:"] + [row("  " + doc, r) for doc, r in report.test_by_doc.items()]
    for kind, r in report.excluded.items():
        lines.append(f"excluded: {r['pairs']} '{kind}' pairs: {r['note']}")
    if report.disagreements:
        lines += ["", "fit disagreements, to work on (the test part's are not shown: look at them and it is no longer held out):"]
        lines += [f"  {d['id']} [{d['kind']}] labelled {'supported' if d['label'] else 'unsupported'}, "
                  f"coverage {d['score']:.2f}{', entity ' + d['entity'] if d['entity'] else ''}"
                  f"{', ' + d['rule'] if d['rule'] else ''}: {d['sentence']}"
                  for d in report.disagreements]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy_assistant.eval.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = calibrate()
    print(json.dumps(asdict(report), ensure_ascii=False, indent=2, default=str) if args.json else render(report))
    if (abs(report.threshold - report.configured["SUPPORT_THRESHOLD"]) > 1e-9
            or report.entity_idf != report.configured["ENTITY_IDF"]):
        print(f"grounding has {report.configured}; the calibration chooses SUPPORT_THRESHOLD={report.threshold}, "
              f"ENTITY_IDF={report.entity_idf}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
