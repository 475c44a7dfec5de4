"""The support check (assistant/grounding.py): what it flags, what it accepts, its
marker parser and sentence splitter on any string, its determinism, and its
agreement with the hand-labelled calibration pairs (eval/calibration/)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_assistant import grounding
from policy_assistant.core.text import split_sentences
from policy_assistant.eval import calibrate

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped():
    return calibrate.shipped_items()


@pytest.fixture(scope="module")
def items(shipped):
    return shipped[calibrate.default_doc()]


def flagged(answer: str, items) -> grounding.Grounding:
    return grounding.check(answer, items)


# -- must show: each of these answers is flagged ---------------------------------------------------
@pytest.mark.parametrize("answer, why", [
    ("公办幼儿园保育费每月不超过800元。[第12条]", "made-up sentence"),
    ("每学期开展一次全体学生心理健康普查。[第8条]", "made-up sentence"),
    ("新增中小学海外姐妹学校20所。[第28条]", "changed number (item 28 says 10所)"),
    ("新增中小学海外姐妹学校二十所。[第28条]", "changed number, in Chinese numerals"),
    ("不鼓励有条件的幼儿园开设托班(小小班)。[第12条]", "negated sentence"),
    ("有条件的幼儿园开设托班(小小班)。[第12条]", "drops 鼓励"),
    ("有条件的幼儿园应当开设托班(小小班)。[第12条]", "鼓励 -> 应当"),
    ("严禁幼儿园开设托班。[第12条]", "adds 严禁"),
    ("加快建设公办幼儿园。[第13条]", "true sentence cited to the wrong item"),
    ("新增中小学海外姐妹学校10所。[第29条]", "true sentence cited to the wrong item"),
    ("加快建设公办幼儿园，新增中小学海外姐妹学校10所。[第12条]", "second clause is item 28's"),
    ("加快建设公办幼儿园,公办园在园幼儿占比达到80%以上。[第12条]", "partial: an invented clause"),
    ("加快建设公办幼儿园。", "no citation at all"),
])
def test_flagged(items, answer, why):
    result = flagged(answer, items)
    assert result.supported == 0, why
    assert result.to_json()["unsupported"] == [answer]


def test_citation_to_an_item_that_does_not_exist(items):
    result = flagged("加快建设公办幼儿园。[第99条]", items)
    assert result.invalid_citations == ["第99条"]
    assert result.to_json() == {"sentences": 1, "supported": 0, "score": 0.0,
                                "unsupported": ["加快建设公办幼儿园。[第99条]"], "invalid_citations": ["第99条"]}
    assert flagged("加快建设公办幼儿园。[第12条][第99条]", items).invalid_citations == ["第99条"]
    assert flagged("见[第0条]。", items).invalid_citations == ["第0条"]


def test_the_reasons_say_what_is_wrong(items):
    reasons = {answer: flagged(answer, items).checks[0].reason for answer in (
        "新增中小学海外姐妹学校20所。[第28条]", "不鼓励有条件的幼儿园开设托班(小小班)。[第12条]",
        "有条件的幼儿园开设托班(小小班)。[第12条]", "加快建设公办幼儿园。[第99条]")}
    assert "20" in reasons["新增中小学海外姐妹学校20所。[第28条]"]
    assert "不鼓励" in reasons["不鼓励有条件的幼儿园开设托班(小小班)。[第12条]"]
    assert "鼓励" in reasons["有条件的幼儿园开设托班(小小班)。[第12条]"]
    assert reasons["加快建设公办幼儿园。[第99条]"] == "invalid citation: cites no real item"


# -- true sentences with their right markers are not flagged ---------------------------------------
@pytest.mark.parametrize("marker", ["[第12条]", "[第十二条]", "[12]", "【第12条】", "［第１２条］", "[第12、13条]",
                                    "[第11-13条]", "[《2025年教育工作要点》第12条]", "[Item 12]", "[12, 28]"])
def test_true_sentence_with_its_marker_in_any_form(items, marker):
    answer = f"根据《2025年教育工作要点》（市教育局，2025-03-26）：\n- 鼓励有条件的幼儿园开设托班(小小班)。{marker}"
    result = flagged(answer, items)
    assert (result.sentences, result.supported, result.invalid_citations) == (1, 1, [])


@pytest.mark.parametrize("answer", [
    "新增中小学海外姐妹学校十所。[第28条]",                               # 十所 == 10所
    "中小学海外姐妹学校将新增10所。[第28条]",                             # paraphrase
    "有条件的幼儿园被鼓励开设托班。[第12条]",
    "加快建设公办幼儿园；鼓励有条件的幼儿园开设托班。[第12条]",            # the bare clause takes the next markers
    "加快建设公办幼儿园，新增中小学海外姐妹学校10所。[第12、28条]",        # supported jointly
    "- 加快建设公办幼儿园[第12条]\n- 大力培育科技高中[第13条]",             # list items, no end punctuation
])
def test_supported_answers(items, answer):
    result = flagged(answer, items)
    assert result.supported == result.sentences > 0, result.to_json()


def test_every_sentence_of_every_shipped_document_supports_itself(shipped):
    """Each sentence (and each clause) of each item, cited to its own item, is supported: no false flags."""
    failures = []
    for doc_items in shipped.values():
        for item in doc_items:
            marker = item.marker
            for sentence in split_sentences(item.text):
                result = grounding.check(f"{sentence}{marker}", doc_items)
                if result.supported != 1:
                    failures.append((item.doc, item.item, sentence, result.checks[0].reason))
    assert failures == []


def test_frames_make_no_claim(items):
    answer = ("根据《2025年教育工作要点》（市教育局，2025-03-26）：\n- 加快建设公办幼儿园。[第12条]\n"
              "文件中没有找到相关规定。《2025年教育工作要点》没有回答“寒假什么时候放”。\n另见：")
    result = flagged(answer, items)
    assert (result.sentences, result.supported) == (1, 1)


def test_bounds_on_numbers_must_agree(shipped):
    notice = shipped["notice-student-aid"]
    good = "对在普惠性幼儿园就读的家庭经济困难儿童，减免标准为每生每年不低于1500元。[一（一）1]"
    bad = "对在普惠性幼儿园就读的家庭经济困难儿童，减免标准为每生每年1500元。[一（一）1]"
    cited = [it for it in notice if it.path_id == "一/（一）/1"]
    assert grounding.support(good, [grounding.support_text(cited[0])])[0]
    assert not grounding.support(bad, [grounding.support_text(cited[0])])[0]


def test_regulation_modal_words(shipped):
    article = [it for it in shipped["regulation-school-safety"] if it.item == "第十六条"]
    text = [grounding.support_text(article[0])]
    assert grounding.support("学校周边200米范围内不得设立歌舞娱乐场所。", text)[0]
    assert not grounding.support("学校周边二百米范围内可以设立彩票销售点。", text)[0]
    assert not grounding.support("学校周边二百米范围内设立互联网上网服务营业场所。", text)[0]


def test_english_sentences_say_why_they_are_not_judged(items):
    ok, _, reason = grounding.support("Kindergartens are encouraged to open nursery classes.",
                                      [grounding.support_text(items[11])])
    assert not ok and "not Chinese" in reason


def test_framed_verbatim_quote_is_never_flagged(items):
    text = [grounding.support_text(items[11])]
    for sentence in ("根据《2025年教育工作要点》，学前教育的要求包括：加快建设公办幼儿园，高水平建成普惠性幼儿园公共服务体系。",
                     "文件提出，加快建设公办幼儿园，高水平建成普惠性幼儿园公共服务体系。",
                     "**学前教育**：加快建设公办幼儿园，高水平建成普惠性幼儿园公共服务体系。",
                     "1. 加快建设公办幼儿园，高水平建成普惠性幼儿园公共服务体系。"):
        assert grounding.support(sentence, text)[0], sentence


@pytest.mark.parametrize("sentence, kind", [
    ("加快建设公办小学，高水平建成普惠性幼儿园公共服务体系。", "entity"),
    ("县里加快建设公办幼儿园。", "entity"),
    ("必须有条件的幼儿园开设托班。", "modality"),
    ("要求有条件的幼儿园开设托班。", "modality"),
    ("不再加快建设公办幼儿园。", "modality"),
    ("不鼓励有条件的幼儿园开设托班。", "negation"),
    ("加快建设公办幼儿园，2026年底前新建30所。", "number"),
    ("加快建设公办幼儿园，纳入“强基提质三年行动”统一推进。", ("unsupported claim", "entity", "number")),
])
def test_flags_say_their_kind(items, sentence, kind):
    ok, _, reason = grounding.support(sentence, [grounding.support_text(items[11])])
    assert not ok and reason.startswith(kind), reason


# -- markers and sentences ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, labels", [
    ("x[第12条]", ["第12条"]),
    ("x[第十二条]", ["第十二条"]),
    ("x[12]", ["12"]),
    ("x【第12条】", ["第12条"]),
    ("x[第12、13条]", ["第12条", "第13条"]),
    ("x[第12条、第13条]", ["第12条", "第13条"]),
    ("x[第12-14条]", ["第12条", "第13条", "第14条"]),
    ("x[第十二至十三条]", ["第12条", "第13条"]),
    ("x[12, 13]", ["12", "13"]),
    ("x[第12条][第13条]", ["第12条", "第13条"]),
    ("x[《2025年教育工作要点》第12条]", ["《2025年教育工作要点》第12条"]),
    ("x[（三）]", ["(三)"]),
    ("x[Item 12]", ["12"]),
    ("no marker", []),
])
def test_parse_markers(text, labels):
    assert grounding.parse_markers(text) == labels


def test_resolve_kinds(items):
    assert [it.item for it in grounding.resolve("第十二条", items)] == ["12"]
    assert [it.item for it in grounding.resolve("12", items)] == ["12"]
    assert grounding.resolve("第99条", items) == []
    assert grounding.resolve("（十二）", items) == []          # '（十二）' is not '第十二条'


def test_sentences_split_on_chinese_punctuation_newlines_and_bullets():
    text = "一是加快建设。二是鼓励开设！三是什么？四是；五是\n- 六是[第6条]\n1. 七是\n（2）八是"
    assert split_sentences(text) == ["一是加快建设。", "二是鼓励开设！", "三是什么？", "四是；", "五是", "六是[第6条]",
                                     "七是", "八是"]


MARKERISH = st.text(alphabet=st.sampled_from(list("[]【】《》第条、,，-至12十三０１ 。；\nabc")), max_size=60)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=300), MARKERISH))
def test_parser_and_splitter_never_crash(text):
    assert isinstance(grounding.parse_markers(text), list)
    assert isinstance(split_sentences(text), list)
    assert isinstance(grounding.strip_markers(text), str)
    assert isinstance(grounding.claims(text), list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=200), MARKERISH))
def test_check_never_crashes(items, text):
    result = grounding.check(text, items)
    assert 0.0 <= result.score <= 1.0
    ok, score, reason = grounding.support(text, [items[0].text])
    assert isinstance(ok, bool) and 0.0 <= score <= 1.0 and isinstance(reason, str)


@pytest.mark.parametrize("text", ["", " ", "\n\n", "😀😀😀", "[", "]]][[[", "。。。", "[第]", "[第条]", "[-]",
                                  "加快建设公办幼儿园" * 10000, "[第12条]" * 1000])
def test_edge_strings(items, text):
    grounding.check(text, items)
    grounding.parse_markers(text)


# -- determinism -----------------------------------------------------------------------------------
ANSWERS = ["新增中小学海外姐妹学校20所。[第28条]", "不鼓励有条件的幼儿园开设托班(小小班)。[第12条]",
           "加快建设公办幼儿园，新增中小学海外姐妹学校10所。[第12、28条]", "加快建设公办幼儿园。[第99条]",
           "有条件的幼儿园被鼓励开设托班。[第12条]"]
SCRIPT = """
import json, sys
from policy_assistant.eval.calibrate import shipped_items, default_doc
from policy_assistant import grounding
items = shipped_items()[default_doc()]
print(json.dumps([grounding.check(a, items).to_json() | {"scores": [c.score for c in grounding.check(a, items).checks],
                  "reasons": [c.reason for c in grounding.check(a, items).checks]} for a in json.loads(sys.argv[1])],
                 ensure_ascii=False, sort_keys=True))
"""


def test_same_input_same_scores_on_every_run(items):
    here = [grounding.check(a, items).to_json() for a in ANSWERS]
    assert here == [grounding.check(a, items).to_json() for a in ANSWERS]
    runs = set()
    for seed in ("0", "1", "12345"):                           # fresh interpreters, different hash seeds
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(ANSWERS)], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.add(done.stdout)
    assert len(runs) == 1


# -- calibration -----------------------------------------------------------------------------------
PAIRS = calibrate.load_pairs()
JUDGED = [p for p in PAIRS if p.kind not in calibrate.NOT_BIGRAM_KINDS]
HAND_WRITTEN = [p for p in JUDGED if p.file.startswith("support_pairs")]   # the earlier hand-labelled pairs
# Hand-written pairs the check gets wrong, and why. Strict: if one starts passing, take it off this list.
KNOWN_DISAGREEMENTS = {
    "sa-022": "学校 for 课堂: both words are in the item",
    "sa-046": "blends two sentences of the article (学校应当 … / 鼓励家长 … 购买意外伤害保险)",
    "sa-054": "1000元 is in the item, but for 寄宿生, not 非寄宿生",
    "sa-073": "60分钟 is in the item, but for primary school, not 初中",
    "sa-075": "3节 is in the item, but for primary/junior school, not 高中",
}


@pytest.mark.parametrize("pair", [
    pytest.param(p, id=f"{p.id}-{p.kind}",
                 marks=[pytest.mark.xfail(strict=True, reason=KNOWN_DISAGREEMENTS[p.id])] if p.id in KNOWN_DISAGREEMENTS else [])
    for p in HAND_WRITTEN])
def test_hand_written_pair(pair):
    assert pair.verdict(grounding.SUPPORT_THRESHOLD, grounding.ENTITY_IDF) == pair.supported, \
        (pair.score, pair.entity, pair.rule)


def test_calibration_targets_on_the_held_out_documents():
    """Issue 13's targets, on the test part (documents the thresholds were not fitted on)."""
    report = calibrate.calibrate()
    assert (report.threshold, report.entity_idf) == (grounding.SUPPORT_THRESHOLD, grounding.ENTITY_IDF), \
        "re-run python -m policy_assistant.eval.calibrate and update the constants"
    assert not set(report.docs["fit"]) & set(report.docs["test"])
    assert report.test["pairs"] >= 400
    assert report.test["flag_precision"] >= 0.85 and report.test["flag_recall"] >= 0.85
    assert report.test["true_flagged"] <= 0.10
    for kind in ("entity_swap", "summary", "paraphrase"):
        assert report.test_by_kind[kind]["agreement"] >= 0.75, kind
    assert report.excluded["english"]["pairs"] >= 8


def test_calibration_pairs_are_well_formed():
    ids = [p.id for p in PAIRS]
    assert len(ids) == len(set(ids))
    kinds = {p.kind for p in JUDGED}
    assert {"framed_quote", "paraphrase", "summary", "entity_swap", "number_change", "negation", "modality",
            "invented", "wrong_item"} <= kinds
    assert {p.supported for p in JUDGED} == {True, False}
    assert len(JUDGED) >= 400


# -- how verdicts are shown ------------------------------------------------------------------------------
def test_eval_score_prints_each_sentence_with_its_verdict():
    from policy_assistant.eval.runner import print_verdicts

    lines = []
    print_verdicts({"id": "a1", "metrics": {"invalid_citations": ["第99条"], "sentences": [
        {"sentence": "加快建设公办幼儿园。[第12条]", "supported": True, "reason": ""},
        {"sentence": "加快建设公办小学。[第12条]", "supported": False, "reason": "entity: “小学” is not in the cited text"}]}},
        lines.append)
    assert lines[0] == "-- a1"
    assert "✔" in lines[1] and "公办幼儿园" in lines[1]
    assert "✘" in lines[2] and "entity: “小学”" in lines[2]
    assert "invalid citation" in lines[3] and "第99条" in lines[3]


def test_report_highlights_every_verdict():
    from policy_assistant.eval.report import highlight

    html = highlight("好句。[第12条]坏句<b>。[第12条]", [
        {"sentence": "好句。[第12条]", "supported": True},
        {"sentence": "坏句<b>。[第12条]", "supported": False, "reason": "number: 20 not in the cited text"}])
    assert '<mark class="good"' in html and '<mark class="bad"' in html
    assert "number: 20" in html and "<b>" not in html


# -- answer layouts: one marker per item (issue 18) ------------------------------------------------
def test_sentences_before_a_marker_on_their_line_cite_it():
    text = "根据《要点》：\n实施学前教育高标准普惠提质行动。扩大优质资源供给。[第12条]\n- 甲。乙。[第13条]"
    assert grounding.claims(text) == [("实施学前教育高标准普惠提质行动。", ["第12条"]), ("扩大优质资源供给。[第12条]", ["第12条"]),
                                      ("甲。", ["第13条"]), ("乙。[第13条]", ["第13条"])]


def test_nested_list_lines_cite_the_item_they_are_nested_under():
    text = ("《要点》第五部分“优享”（共2条）：\n- 甲行动。[第11条]\n  - 甲一。\n  - 甲二。\n- 乙行动。[第12条]\n"
            "  - 乙一。\n    - 乙一之一。\n说明一句。")
    assert grounding.claims(text) == [("甲行动。[第11条]", ["第11条"]), ("甲一。", ["第11条"]), ("甲二。", ["第11条"]),
                                      ("乙行动。[第12条]", ["第12条"]), ("乙一。", ["第12条"]), ("乙一之一。", ["第12条"]),
                                      ("说明一句。", [])]
