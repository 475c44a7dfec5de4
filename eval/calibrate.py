"""Calibrate the support threshold against the hand-labelled sentence–item pairs.

``python -m policy_assistant.eval.calibrate [--json]`` reads every ``eval/calibration/*.jsonl`` file
(lines ``{"id", "sentence", "item", "supported", "kind", "doc"?}``; no ``doc`` means
the bundled document), takes each item's text from the shipped documents (the
bundled corpus and ``eval/corpora/*.txt``, loaded and chunked as the index does,
without embedding), and for each pair computes what ``assistant.grounding`` sees:
the bigram containment of the sentence's weakest part and whether the number and
negation/modality rules reject it. It then chooses the threshold that agrees best
with the labels (ties: the middle of the widest best interval), and prints the
agreement overall, per file and per kind, precision/recall of flagging an
unsupported sentence, the leave-one-out agreement (the threshold chosen without the
pair being judged), the bigram-only agreement (rules off), and whether
``grounding.SUPPORT_THRESHOLD`` is the chosen one (exit 1 if not).

English pairs (``kind: english``) cannot be judged by character bigrams against
Chinese text: they are excluded from the calibration and reported apart.
This module changes nothing; set ``SUPPORT_THRESHOLD`` by hand from its output.
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
    score: float = 0.0               # bigram containment of the weakest part
    rule: str = ""                   # why the number/modality rules reject it ('' when they do not)

    def verdict(self, threshold: float, rules: bool = True) -> bool:
        return self.score >= threshold and not (rules and self.rule)


@dataclass
class Report:
    threshold: float
    configured: float
    pairs: int
    agreement: float
    loo_agreement: float
    bigram_only: dict
    by_kind: dict = field(default_factory=dict)
    by_file: dict = field(default_factory=dict)
    flagging: dict = field(default_factory=dict)
    excluded: dict = field(default_factory=dict)
    disagreements: list = field(default_factory=list)


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
    items, fallback = shipped_items(), default_doc()
    pairs = []
    for path in sorted(Path(directory).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            doc = row.get("doc") or fallback
            found = [it for it in items.get(doc, []) if it.matches(row["item"])]
            if len(found) != 1:
                raise ValueError(f"{path.name}:{number}: item {row['item']!r} of {doc!r} names {len(found)} items")
            pair = Pair(row["id"], path.name, doc, row["item"], row["sentence"], bool(row["supported"]), row["kind"])
            pair.score, pair.rule = grounding.assess(pair.sentence, grounding.support_text(found[0]))
            pairs.append(pair)
    return pairs


def choose_threshold(pairs: list[Pair], rules: bool = True) -> float:
    """The threshold with the best agreement; among equals, the middle of the widest interval."""
    scores = sorted({0.0, 1.0, *(pair.score for pair in pairs)})
    candidates = sorted({0.0, *((a + b) / 2 for a, b in zip(scores, scores[1:])), 1.0})
    agreement = [sum(pair.verdict(t, rules) == pair.supported for pair in pairs) for t in candidates]
    best = max(agreement)
    # maximal runs of candidates with the best agreement; an interval's width is that of its score span
    runs, start = [], None
    for index, value in enumerate(agreement + [-1]):
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


def agreement(pairs: list[Pair], threshold: float, rules: bool = True) -> float:
    return round(sum(p.verdict(threshold, rules) == p.supported for p in pairs) / len(pairs), 4) if pairs else 1.0


def flagging(pairs: list[Pair], threshold: float) -> dict:
    """Precision/recall of flagging (calling a sentence unsupported), and of accepting."""
    flagged = [p for p in pairs if not p.verdict(threshold)]
    bad = [p for p in pairs if not p.supported]
    good = [p for p in pairs if p.supported]
    accepted = [p for p in pairs if p.verdict(threshold)]
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {"flag_precision": ratio(sum(not p.supported for p in flagged), len(flagged)),
            "flag_recall": ratio(sum(not p.verdict(threshold) for p in bad), len(bad)),
            "accept_precision": ratio(sum(p.supported for p in accepted), len(accepted)),
            "accept_recall": ratio(sum(p.verdict(threshold) for p in good), len(good))}


def calibrate(directory: Path = PAIRS_DIR) -> Report:
    every = load_pairs(directory)
    pairs = [p for p in every if p.kind not in NOT_BIGRAM_KINDS]
    threshold = choose_threshold(pairs)
    loo = sum(p.verdict(choose_threshold([q for q in pairs if q is not p])) == p.supported for p in pairs)
    bare = choose_threshold(pairs, rules=False)
    report = Report(threshold=threshold, configured=grounding.SUPPORT_THRESHOLD, pairs=len(pairs),
                    agreement=agreement(pairs, threshold), loo_agreement=round(loo / len(pairs), 4),
                    bigram_only={"threshold": bare, "agreement": agreement(pairs, bare, rules=False)},
                    flagging=flagging(pairs, threshold))
    for kind in sorted({p.kind for p in pairs}):
        group = [p for p in pairs if p.kind == kind]
        report.by_kind[kind] = {"pairs": len(group), "agreement": agreement(group, threshold),
                                "flagged": sum(not p.verdict(threshold) for p in group),
                                "labelled_unsupported": sum(not p.supported for p in group),
                                **flagging(group, threshold)}
    for name in sorted({p.file for p in pairs}):
        group = [p for p in pairs if p.file == name]
        report.by_file[name] = {"pairs": len(group), "agreement": agreement(group, threshold)}
    for kind in NOT_BIGRAM_KINDS:
        group = [p for p in every if p.kind == kind]
        if group:
            report.excluded[kind] = {"pairs": len(group), "bigram_agreement": agreement(group, threshold),
                                     "note": "not judged by bigrams (another language); needs the cross-lingual check"}
    report.disagreements = [{"id": p.id, "kind": p.kind, "label": p.supported, "score": p.score,
                             "rule": p.rule, "sentence": p.sentence}
                            for p in pairs if p.verdict(threshold) != p.supported]
    return report


def render(report: Report) -> str:
    def pct(value):
        return "-" if value is None else f"{value:.1%}"

    lines = [f"support threshold chosen: {report.threshold:.2f}  (grounding.SUPPORT_THRESHOLD = {report.configured:.2f})",
             f"agreement with the labels: {pct(report.agreement)} of {report.pairs} Chinese pairs; "
             f"leave-one-out: {pct(report.loo_agreement)}",
             f"bigram containment alone (no number/modality rules): {pct(report.bigram_only['agreement'])} "
             f"at threshold {report.bigram_only['threshold']:.2f}",
             "flagging unsupported: precision {fp}, recall {fr}; accepting supported: precision {ap}, recall {ar}".format(
                 fp=pct(report.flagging["flag_precision"]), fr=pct(report.flagging["flag_recall"]),
                 ap=pct(report.flagging["accept_precision"]), ar=pct(report.flagging["accept_recall"])),
             "", f"{'kind':<16}{'pairs':>6}{'agree':>9}{'flagged':>9}{'unsupp.':>9}{'flag P':>9}{'flag R':>9}"]
    for kind, row in report.by_kind.items():
        lines.append(f"{kind:<16}{row['pairs']:>6}{pct(row['agreement']):>9}{row['flagged']:>9}"
                     f"{row['labelled_unsupported']:>9}{pct(row['flag_precision']):>9}{pct(row['flag_recall']):>9}")
    lines += ["", "per file:"] + [f"  {name}: {row['pairs']} pairs, agreement {pct(row['agreement'])}"
                                  for name, row in report.by_file.items()]
    for kind, row in report.excluded.items():
        lines.append(f"excluded: {row['pairs']} '{kind}' pairs: {row['note']} "
                     f"(bigrams alone would agree on {pct(row['bigram_agreement'])})")
    if report.disagreements:
        lines += ["", "disagreements (label -> what the check says):"]
        lines += [f"  {d['id']} [{d['kind']}] labelled {'supported' if d['label'] else 'unsupported'}, "
                  f"score {d['score']:.2f}{', ' + d['rule'] if d['rule'] else ''}: {d['sentence']}"
                  for d in report.disagreements]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policy_assistant.eval.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = calibrate()
    print(json.dumps(asdict(report), ensure_ascii=False, indent=2) if args.json else render(report))
    if abs(report.threshold - report.configured) > 1e-9:
        print(f"SUPPORT_THRESHOLD is {report.configured}; the calibration chooses {report.threshold}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
