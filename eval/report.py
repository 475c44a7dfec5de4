"""The eval's HTML report: one self-contained file (inline CSS and SVG, no scripts,
no external assets) that people can look at rather than read.

It shows the gates as bars against their thresholds, latency per stage, how the
gold items ranked, why questions failed, the metrics per dataset, the support
check's flag precision/recall on held-out labelled pairs, and a per-question table with
failures first, each answer's sentences highlighted by verdict (flagged ones with the reason).
Every piece of text from a dataset, an answer or a document is HTML-escaped.
This module computes no metric; it draws what ``eval.runner`` hands it.
"""
from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from policy_assistant.eval.metrics import RATIO_METRICS, Gate, aggregate

GREEN, RED, GREY, BLUE, AMBER = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0", "#ef6c00"

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#212121;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#616161;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border:1px solid #e0e0e0;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#fafafa;position:sticky;top:0}
tr.failed td:first-child{border-left:4px solid #c62828}tr.ok td:first-child{border-left:4px solid #2e7d32}
.answer{white-space:pre-wrap;font-size:13px;margin:6px 0}
mark.bad{background:#ffcdd2;text-decoration:underline wavy #c62828}
mark.loose{background:#ffe0b2}mark.good{background:#e8f5e9}
.miss{color:#c62828;text-decoration:line-through}.gold{font-weight:700;color:#1565c0}
.small{font-size:12px;color:#616161}ul.f{margin:0;padding-left:16px;color:#c62828}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def write_report(path: Path, summary: dict, gates: list[Gate], records: list[dict], title: str = "Grounding eval",
                 calibration: bool = True) -> None:
    """Write the report to ``path`` (records: the eval's output records, each with its ``metrics``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(summary, gates, records, title, calibration), encoding="utf-8")


def render_report(summary: dict, gates: list[Gate], records: list[dict], title: str = "Grounding eval",
                  calibration: bool = True) -> str:
    by_metric = {gate.metric: gate for gate in gates}
    failed = [g.metric for g in gates if not g.passes(summary.get(g.metric))]
    parts = [f"<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{escape(title)}</h1>",
             f"<p><span class=\"verdict {'fail' if failed else 'pass'}\">"
             f"{'gates failed: ' + escape(', '.join(failed)) if failed else f'all {len(gates)} gates passed'}</span> "
             f"<span class=\"small\">{summary.get('questions', 0)} questions ({summary.get('answerable', 0)} answerable, "
             f"{summary.get('unanswerable', 0)} to refuse); {summary.get('failed_questions', 0)} with a failure</span></p>",
             _cards(summary, by_metric),
             "<h2>Metrics against their gates</h2><div class=\"charts\">",
             _metric_bars(summary, by_metric), _latency_bars(summary), _rank_histogram(records),
             _failure_bars(records), "</div>",
             _per_dataset(records, gates),
             _calibration() if calibration else "",
             _question_table(records),
             "<p class=\"small\">Support: character-bigram containment of each sentence (and each clause) in the text "
             "of the items it cites, with numbers, bounds and negation/modal words required to agree. "
             "<mark class=\"bad\">Highlighted</mark>: not supported by its citations; "
             "<mark class=\"loose\">highlighted</mark>: supported by its citations' text but by no retrieved item.</p>",
             "</body></html>"]
    return "\n".join(parts)


# -- pieces --------------------------------------------------------------------------------------
def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _cards(summary: dict, by_metric: dict) -> str:
    keys = ["hit@1", "hit@3", "mrr", "citation_validity", "citation_recall", "citation_precision", "grounding",
            "keyword_recall", "negative_rejection", "false_refusal"]
    cards = []
    for key in keys:
        if key not in summary:
            continue
        value, gate = summary[key], by_metric.get(key)
        colour = "" if gate is None or value is None else (f"color:{GREEN}" if gate.passes(value) else f"color:{RED}")
        cards.append(f"<div class=\"card\"><b style=\"{colour}\">{_fmt(value)}</b><span>{escape(key)}"
                     f"{' ' + escape(gate.op) + ' ' + format(gate.threshold, 'g') if gate else ''}</span></div>")
    return "<div class=\"cards\">" + "".join(cards) + "</div>"


def _svg(width: int, height: int, body: list[str], caption: str) -> str:
    return (f"<figure style=\"margin:0\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" "
            f"viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{escape(caption)}\" "
            f"font-family=\"system-ui,sans-serif\" font-size=\"12\">{''.join(body)}</svg>"
            f"<figcaption class=\"small\">{escape(caption)}</figcaption></figure>")


def _metric_bars(summary: dict, by_metric: dict) -> str:
    metrics = [m for m in RATIO_METRICS if m in summary]
    left, width, row = 130, 300, 22
    body = []
    for index, metric in enumerate(metrics):
        y = 10 + index * row
        value, gate = summary[metric], by_metric.get(metric)
        colour = GREY if gate is None or value is None else (GREEN if gate.passes(value) else RED)
        body.append(f"<text x=\"{left - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{escape(metric)}</text>")
        body.append(f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width}\" height=\"14\" fill=\"#f5f5f5\"/>")
        if value is not None:
            body.append(f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width * max(0.0, min(1.0, value)):.1f}\" "
                        f"height=\"14\" fill=\"{colour}\"><title>{escape(metric)} = {value:.4f}</title></rect>")
        body.append(f"<text x=\"{left + width + 6}\" y=\"{y + 13}\">{_fmt(value)}"
                    f"{' (' + escape(gate.op) + ' ' + format(gate.threshold, 'g') + ')' if gate else ''}</text>")
        if gate:
            x = left + width * gate.threshold
            body.append(f"<line x1=\"{x:.1f}\" x2=\"{x:.1f}\" y1=\"{y}\" y2=\"{y + 18}\" stroke=\"#212121\" "
                        f"stroke-width=\"2\"><title>gate {escape(gate.op)} {gate.threshold:g}</title></line>")
    return _svg(left + width + 110, 20 + len(metrics) * row,
                body, "Each metric (0–1); the black tick is its gate. Green: passes, red: fails, grey: no gate.")


def _latency_bars(summary: dict) -> str:
    stages = [key[4:-3] for key in summary if key.startswith("p50_") and key.endswith("_ms")]
    if not stages:
        return ""
    top = max([summary.get(f"p95_{s}_ms") or 0 for s in stages] + [1.0])
    left, width, row = 80, 260, 40
    body = []
    for index, stage in enumerate(stages):
        y = 10 + index * row
        body.append(f"<text x=\"{left - 6}\" y=\"{y + 17}\" text-anchor=\"end\">{escape(stage)}</text>")
        for offset, (name, colour) in enumerate((("p50", BLUE), ("p95", AMBER))):
            value = summary.get(f"{name}_{stage}_ms") or 0.0
            body.append(f"<rect x=\"{left}\" y=\"{y + offset * 15}\" width=\"{width * value / top:.1f}\" height=\"13\" "
                        f"fill=\"{colour}\"><title>{name} {escape(stage)}: {value:.1f} ms</title></rect>")
            body.append(f"<text x=\"{left + width * value / top + 4:.1f}\" y=\"{y + offset * 15 + 11}\">"
                        f"{name} {value:.1f} ms</text>")
    return _svg(left + width + 120, 20 + len(stages) * row, body, "Latency per stage (blue p50, orange p95).")


def _rank_histogram(records: list[dict]) -> str:
    ranks = [r["metrics"].get("gold_rank") for r in records
             if r["metrics"].get("answerable") and r["metrics"].get("hit1") is not None]
    if not ranks:
        return ""
    buckets = ["1", "2", "3", "4", "5", ">5 / none"]
    counts = Counter(str(rank) if rank and rank <= 5 else ">5 / none" for rank in ranks)
    top = max(counts.values())
    left, bar, gap, height = 30, 34, 10, 120
    pad = 16
    body = []
    for index, bucket in enumerate(buckets):
        value = counts.get(bucket, 0)
        h = height * value / top if top else 0
        x = left + index * (bar + gap)
        colour = GREEN if bucket == "1" else (AMBER if bucket != ">5 / none" else RED)
        body.append(f"<rect x=\"{x}\" y=\"{pad + height - h:.1f}\" width=\"{bar}\" height=\"{h:.1f}\" fill=\"{colour}\">"
                    f"<title>rank {escape(bucket)}: {value}</title></rect>")
        body.append(f"<text x=\"{x + bar / 2}\" y=\"{pad - 4 + height - h:.1f}\" text-anchor=\"middle\">{value}</text>")
        body.append(f"<text x=\"{x + bar / 2}\" y=\"{pad + height + 16}\" text-anchor=\"middle\">{escape(bucket)}</text>")
    return _svg(left + len(buckets) * (bar + gap) + 30, height + pad + 24, body,
                "Rank of the first gold item among the retrieved items (answerable questions).")


def _failure_bars(records: list[dict]) -> str:
    counts = Counter(_generic(reason) for r in records for reason in r["metrics"].get("failures", []))
    if not counts:
        return _svg(300, 30, ["<text x=\"4\" y=\"18\" fill=\"#2e7d32\">No question failed.</text>"], "Why questions failed.")
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = rows[0][1]
    left, width, row = 12 + 7 * max(_text_width(reason) for reason, _ in rows), 160, 22
    body = []
    for index, (reason, value) in enumerate(rows):
        y = 10 + index * row
        body.append(f"<text x=\"{left - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{escape(reason)}</text>")
        body.append(f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width * value / top:.1f}\" height=\"14\" fill=\"{RED}\">"
                    f"<title>{escape(reason)}: {value}</title></rect>")
        body.append(f"<text x=\"{left + width * value / top + 4:.1f}\" y=\"{y + 13}\">{value}</text>")
    return _svg(left + width + 40, 20 + len(rows) * row, body, "Why questions failed (questions per reason).")


def _text_width(text: str) -> float:
    """Rough width of ``text`` in 12px units of ~7px: CJK characters count double."""
    return sum(2 if ord(ch) > 0x2e80 else 1 for ch in text)


def _generic(reason: str) -> str:
    """'missing key phrase(s): 托班' -> 'missing key phrase(s)'; '2 sentence(s) …' -> 'sentence(s) …'."""
    head = reason.split(":")[0]
    return head.split(" ", 1)[1] if head[:1].isdigit() else head


def _per_dataset(records: list[dict], gates: list[Gate]) -> str:
    names = list(dict.fromkeys(r.get("dataset", "") for r in records))
    if len(names) < 2:
        return ""
    keys = ["questions", "hit@1", "hit@3", "mrr", "gold_cited", "keyword_recall", "citation_recall", "grounding",
            "negative_rejection", "false_refusal", "failed_questions"]
    by_metric = {gate.metric: gate for gate in gates}
    head = "".join(f"<th>{escape(k)}</th>" for k in keys)
    rows = []
    for name in names:
        summary = aggregate([{**r["metrics"], "timing_ms": r.get("timing_ms") or {}}
                             for r in records if r.get("dataset", "") == name])
        cells = []
        for key in keys:
            value, gate = summary.get(key), by_metric.get(key)
            style = "" if gate is None or value is None or gate.passes(value) else f" style=\"color:{RED};font-weight:700\""
            cells.append(f"<td class=\"num\"{style}>{_fmt(value)}</td>")
        rows.append(f"<tr><td>{escape(name)}</td>{''.join(cells)}</tr>")
    return (f"<h2>Per dataset</h2><table><tr><th>dataset</th>{head}</tr>{''.join(rows)}</table>"
            f"<p class=\"small\">Red: below the gate that applies to the whole run.</p>")


def _calibration() -> str:
    try:
        from policy_assistant.eval.calibrate import calibrate

        report = calibrate()
    except Exception as exc:  # noqa: BLE001 - the report still renders without this section
        return f"<h2>Support check calibration</h2><p class=\"small\">not available: {escape(str(exc))}</p>"
    kinds = list(report.test_by_kind.items())
    left, width, row = 120, 240, 22
    body = []
    for index, (kind, data) in enumerate(kinds):
        y = 10 + index * row
        value = data["agreement"]
        body.append(f"<text x=\"{left - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{escape(kind)}</text>")
        body.append(f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width}\" height=\"14\" fill=\"#f5f5f5\"/>")
        body.append(f"<rect x=\"{left}\" y=\"{y + 2}\" width=\"{width * value:.1f}\" height=\"14\" "
                    f"fill=\"{GREEN if value >= 0.9 else AMBER if value >= 0.6 else RED}\"/>")
        body.append(f"<text x=\"{left + width + 6}\" y=\"{y + 13}\">{value:.0%} of {data['pairs']}</text>")
    chart = _svg(left + width + 80, 20 + len(kinds) * row, body,
                 "Agreement with the labels on the held-out documents, per kind of pair.")
    test = report.test

    def pct(value):
        return "–" if value is None else f"{value:.1%}"

    return (f"<h2>Support check calibration</h2><p>Fitted on {report.fit['pairs']} pairs of "
            f"{len(report.docs['fit'])} documents (coverage threshold {report.threshold:.2f}, entity IDF "
            f"{report.entity_idf:g}); on {test['pairs']} pairs of {len(report.docs['test'])} other documents: "
            f"flag precision <b>{pct(test['flag_precision'])}</b>, recall <b>{pct(test['flag_recall'])}</b>, "
            f"true sentences flagged {pct(test['true_flagged'])}. "
            f"Run <code>python -m policy_assistant.eval.calibrate</code> for details.</p>"
            f"<div class=\"charts\">{chart}</div>")


def _question_table(records: list[dict]) -> str:
    order = sorted(range(len(records)), key=lambda i: (records[i]["metrics"].get("passed", True),
                                                        -len(records[i]["metrics"].get("failures", [])), i))
    rows = []
    for position in order:
        record = records[position]
        m = record["metrics"]
        ok = m.get("passed", True)
        question = escape(record.get("question", ""))
        if record.get("history"):
            question = "<span class=\"small\">" + " → ".join(escape(h) for h in record["history"]) + " →</span><br>" + question
        gold = record.get("gold_items")
        gold_text = "–" if gold is None else ("(refuse)" if not gold else "、".join(escape(g) for g in gold))
        cited = "、".join(escape(c.get("item", "")) for c in record.get("citations") or []) or "–"
        retrieved = []
        for rank, ref in enumerate((record.get("retrieved") or [])[:5], 1):
            cls = " class=\"gold\"" if m.get("gold_rank") == rank else ""
            retrieved.append(f"<span{cls}>{escape(ref.get('item', ''))}</span>")
        keywords = " ".join(f"<span class=\"miss\">{escape(k)}</span>" if k in m.get("missing_keywords", [])
                            else escape(k) for k in m.get("keywords", []))
        g = m.get("grounding") or {}
        grounding_cell = "–" if g.get("score") is None else f"{g.get('supported')}/{g.get('sentences')}"
        fails = "".join(f"<li>{escape(f)}</li>" for f in m.get("failures", []))
        status = "✘" if not ok else "✔"
        rows.append(
            f"<tr class=\"{'failed' if not ok else 'ok'}\"><td>{status}</td>"
            f"<td>{escape(str(record.get('id', '')))}<br><span class=\"small\">{escape(record.get('dataset', ''))}</span></td>"
            f"<td>{question}{'<ul class=f>' + fails + '</ul>' if fails else ''}</td>"
            f"<td>{gold_text}</td><td>{cited}</td><td>{' '.join(retrieved) or '–'}</td>"
            f"<td>{keywords or '–'}</td><td class=\"num\">{grounding_cell}</td>"
            f"<td><details{' open' if not ok else ''}><summary class=\"small\">"
            f"{'refused' if m.get('refused') else 'answer'}</summary>"
            f"<div class=\"answer\">{highlight(record.get('answer') or '', m.get('sentences') or [])}</div></details>"
            f"{'<div class=small>error: ' + escape(record['error']) + '</div>' if record.get('error') else ''}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("", "id", "question / failures", "gold", "cited", "retrieved (top 5)",
                                             "key phrases", "grounded", "answer"))
    return (f"<h2>Questions (failures first)</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def highlight(answer: str, sentences: list[dict]) -> str:
    """The answer, escaped, with each checked sentence marked by its verdict: supported ones green, flagged
    ones red with their reason after them and as a tooltip, loosely grounded ones amber."""
    out, cursor = [], 0
    for row in sentences:
        bad = not row.get("supported", True)
        loose = not bad and row.get("grounded") is False
        start = answer.find(row["sentence"], cursor)
        if start < 0:
            continue
        end = start + len(row["sentence"])
        reason = row.get("reason") if bad else row.get("grounding_reason", "") if loose else "supported"
        css = "bad" if bad else "loose" if loose else "good"
        out.append(escape(answer[cursor:start]))
        out.append(f"<mark class=\"{css}\" title=\"{escape(reason or '')}\">{escape(answer[start:end])}</mark>")
        if bad or loose:
            out.append(f"<span class=\"small\"> ⟵ {escape(reason or 'unsupported')}</span>")
        cursor = end
    out.append(escape(answer[cursor:]))
    return "".join(out)
