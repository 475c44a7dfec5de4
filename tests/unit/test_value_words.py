"""The value evidence: which kind of value a question asks for and which kinds the items state."""
from __future__ import annotations

import pytest

from policy_assistant.retrieval import value_kinds_asked, value_kinds_stated, value_unstated


@pytest.mark.parametrize("question, kinds", [
    ("幼儿园学费一个月多少钱", {"amount"}),
    ("补助一共有多少", {"number"}),
    ("考试几分及格", {"score"}),
    ("每节课几分钟", {"duration"}),
    ("今年中考哪天考", {"date"}),
    ("动产质权什么时候设立", set()),          # "when" is answered by a condition as often as by a date
    ("申请要多长时间", {"duration"}),
    ("学校有几个校区", {"count"}),
    ("How much is the fee?", {"amount"}),
    ("Which day does it start?", {"date"}),
    ("几乎所有学校都适用吗", set()),          # 几 without a measure word is not a question of quantity
    ("补助标准是什么", set()),                 # topic nouns do not ask for a value
])
def test_kinds_asked(question, kinds):
    assert value_kinds_asked(question) == kinds


def test_kinds_stated():
    text = "每生每年资助2000元，处三年以下有期徒刑，不低于百分之十，须三分之二以上同意，自2025年3月1日起施行，每次60分钟，考试满分100分。"
    assert value_kinds_stated(text) >= {"amount", "date", "duration", "ratio", "score"}
    assert value_kinds_stated("一是统一标准，二是加强管理。") == set()   # numerals without a measure word


def test_unstated_only_when_no_item_states_that_kind():
    assert value_unstated("幼儿园学费一个月多少钱", ["收费标准由省级人民政府制定。"]) == 1.0
    assert value_unstated("幼儿园学费一个月多少钱", ["保教费每月不超过800元。"]) == 0.0
    assert value_unstated("几分钟", ["每次60分钟。"]) == 0.0
    assert value_unstated("考试几分及格", ["每次60分钟。"]) == 1.0        # a duration is not a score
    assert value_unstated("一共有多少", ["共设3所学校。"]) == 0.0        # a bare 多少: any stated value
    assert value_unstated("补助标准是什么", ["无"]) == 0.0                # asks for no value


def test_shipped_model_refuses_on_the_veto_whatever_the_other_evidence():
    from policy_assistant.retrieval import RefusalModel

    model = RefusalModel.load()
    assert "value_unstated" in model.vetoes
    strong = {"dense_excess": 5.0, "bm25_excess": 5.0, "fused_excess": 5.0, "fused_margin": 5.0, "coverage": 1.0,
              "coverage_top1": 1.0, "missing": 0.0, "terms": 2.0, "value_unstated": 0.0}
    assert model.probability(strong) >= model.threshold
    assert model.probability({**strong, "value_unstated": 1.0}) < model.threshold
