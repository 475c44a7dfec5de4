"""Validity facts read from real wording, and the status rules at a date (index.validity; pure functions)."""
import datetime as dt
from pathlib import Path

import pytest

from policy_assistant.core.errors import BadInput
from policy_assistant.index.cleaning import clean_text
from policy_assistant.index.validity import (DocFacts, apply_sidecars, asks_validity, contradictions, extract,
                                             find_sidecars, read_sidecar, statuses)

LAWS = Path(__file__).resolve().parents[1] / "data" / "validity"
BUNDLED = Path(__file__).resolve().parents[2] / "index" / "corpus" / "taizhou-2025-education-work-points.txt"

# Written for the tests, in the wording of a 2014 Guangzhou notice ("本方案自印发起实施，有效期5年").
NOTICE_2014 = """广州市教育局关于印发广州市中小学校课后托管服务实施方案的通知
各区教育局，局属各单位：
现将《广州市中小学校课后托管服务实施方案》印发给你们，请认真贯彻执行。
一、工作目标
1.全市公办小学全面开展课后托管服务。
二、保障措施
2.托管服务所需经费由各区统筹安排。
3.本方案自印发起实施，有效期5年。
广州市教育局
2014年4月21日
"""


def doc_facts(name: str, text: str, **meta) -> DocFacts:
    document = clean_text(text, doc=name, source=name)
    for key, value in meta.items():
        setattr(document, key, value)
    extraction = extract(document)
    return DocFacts(name, document.title, document.year, document.office, extraction.date, extraction.facts)


def law(name: str) -> DocFacts:
    return doc_facts(name, (LAWS / f"{name}.md").read_text(encoding="utf-8"))


def test_a_five_year_notice_resolves_against_its_own_date_and_expires():
    facts = doc_facts("gz-2014", NOTICE_2014)
    assert facts.date == "2014-04-21"                                 # the date under the signature
    kinds = {fact["kind"]: fact for fact in facts.facts}
    assert kinds["effective"]["date"] == "2014-04-21" and kinds["expires"]["date"] == "2019-04-20"
    assert kinds["expires"]["sentence"] == "本方案自印发起实施，有效期5年。"
    status = statuses([facts], dt.date(2026, 12, 1))["gz-2014"]
    assert (status.status, status.expires, status.basis) == ("expired", "2019-04-20", "stated")
    assert statuses([facts], dt.date(2018, 1, 1))["gz-2014"].status == "in_force"


def test_a_regulation_effective_2011_is_in_force():
    facts = law("电力安全事故应急处置和调查处理条例")
    status = statuses([facts], dt.date(2026, 12, 1))["电力安全事故应急处置和调查处理条例"]
    assert (status.status, status.effective_from) == ("in_force", "2011-09-01")
    assert status.fact == "本条例自2011年9月1日起施行。"              # quotable as the item has it (no label)


def test_law_header_lines_give_promulgation_and_amendments():
    text = (LAWS / "个体工商户条例.md").read_text(encoding="utf-8")
    facts = doc_facts("个体工商户条例", text)
    header = [(fact["kind"], fact["date"]) for fact in facts.facts if fact["kind"] in ("promulgated", "amended")]
    assert header == [("promulgated", "2011-04-16"), ("amended", "2014-02-19")]
    assert facts.date == "2011-04-16"


def test_a_repealing_regulation_marks_its_indexed_predecessor():
    old, new = law("个体工商户条例"), law("促进个体工商户发展条例")
    assert any(f["kind"] == "repeals" and f["title"] == "个体工商户条例" for f in new.facts)
    found = statuses([old, new], dt.date(2026, 12, 1))
    assert found["个体工商户条例"].status == "repealed"
    assert found["个体工商户条例"].repealed_by == found["个体工商户条例"].successor == "促进个体工商户发展条例"
    assert found["个体工商户条例"].since == "2022-11-01"
    assert found["促进个体工商户发展条例"].status == "in_force"
    before = statuses([old, new], dt.date(2022, 6, 1))             # the repeal takes effect with its successor
    assert before["个体工商户条例"].status == "in_force"


def test_not_yet_in_force_before_its_effective_date():
    text = "某市中小学作业管理办法\n第一条 为减轻学生过重作业负担，制定本办法。\n第二条 本办法自2025年9月1日起施行。\n"
    facts = doc_facts("homework", text)
    assert statuses([facts], dt.date(2025, 1, 1))["homework"].status == "not_yet_in_force"
    assert statuses([facts], dt.date(2025, 9, 1))["homework"].status == "in_force"


def test_nothing_stated_is_in_force_assumed():
    facts = doc_facts("taizhou", BUNDLED.read_text(encoding="utf-8"))
    status = statuses([facts], dt.date(2026, 12, 1))["taizhou"]
    assert (status.status, status.basis, status.effective_from, status.expires) == ("in_force", "assumed", None, None)


def test_a_newer_edition_from_the_same_office_supersedes():
    text = BUNDLED.read_text(encoding="utf-8")
    new = doc_facts("wp-2025", text)
    old = doc_facts("wp-2024", text.replace("2025年教育工作要点", "2024年教育工作要点").replace("2025-03-26", "2024-03-20"))
    other = doc_facts("wp-other", text.replace("2025年教育工作要点", "2024年教育工作要点")
                      .replace("市教育局", "区教育局").replace("2025-03-26", "2024-03-20"))
    found = statuses([old, new, other], dt.date(2025, 11, 29))
    assert (found["wp-2024"].status, found["wp-2024"].superseded_by) == ("superseded", "wp-2025")
    assert found["wp-other"].status == "in_force"                  # another office's plan is not an edition
    assert statuses([old, new], dt.date(2024, 6, 1))["wp-2024"].status == "in_force"


def test_permit_periods_inside_articles_say_nothing_about_the_document():
    text = "某某条例\n第一条 许可证有效期3年。\n第二条 本条例自2011年9月1日起施行。\n"
    facts = doc_facts("permits", text)
    assert [fact["kind"] for fact in facts.facts] == ["effective"]


@pytest.mark.parametrize("sentence, warning", [
    ("本办法自2025年2月30日起施行。", "unreadable date"),
    ("本条例自1985年度起施行。", "unreadable date"),
    ("本办法自印发之日起施行。", "own date is unknown"),
])
def test_unreadable_dates_are_reported_and_ignored(sentence, warning):
    document = clean_text(f"某办法\n第一条 {sentence}\n", doc="x", source="x")
    extraction = extract(document)
    assert not extraction.facts and warning in extraction.warnings[0]


def test_contradictory_effective_dates_latest_statement_wins():
    text = "某办法\n第一条 本办法自2020年1月1日起施行。\n第二条 本办法自2021年1月1日起施行。\n"
    facts = doc_facts("twice", text)
    assert statuses([facts], dt.date(2020, 6, 1))["twice"].status == "not_yet_in_force"
    (warning,) = contradictions("twice", facts.facts)
    assert "latest statement wins: 2021-01-01" in warning


def test_chinese_numeral_dates_and_periods():
    text = "某实施方案\n一、本方案自二〇一六年三月一日起实施，试行两年。\n"
    facts = doc_facts("cn", text)
    assert [(f["kind"], f["date"]) for f in facts.facts] == [("effective", "2016-03-01"), ("expires", "2018-02-28")]


def test_sidecar_adds_a_repeal_and_names_its_file_when_wrong(tmp_path):
    (tmp_path / "a.txt").write_text("某办法\n第一条 内容。\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("某新办法\n第一条 内容。\n", encoding="utf-8")
    (tmp_path / "a.validity.toml").write_text('repealed_by = "b"\nnote = "经市政府公告废止"\n', encoding="utf-8")
    files = [(tmp_path / "a.txt").resolve(), (tmp_path / "b.txt").resolve()]
    sidecars = find_sidecars([tmp_path], files)
    manifest = {str(f): {"doc": f.stem, "title": f.stem, "year": None} for f in files}
    assert apply_sidecars(manifest, sidecars) == []
    found = statuses([DocFacts.from_manifest(e) for e in manifest.values()], dt.date(2026, 1, 1))
    assert (found["a"].status, found["a"].repealed_by, found["a"].fact) == ("repealed", "b", "经市政府公告废止")

    (tmp_path / "c.validity.toml").write_text('status = "expired"\n', encoding="utf-8")
    with pytest.raises(BadInput, match="c.validity.toml"):
        find_sidecars([tmp_path], files)
    (tmp_path / "c.validity.toml").unlink()
    (tmp_path / "a.validity.toml").write_text('repealed_by = "nobody"\n', encoding="utf-8")
    with pytest.raises(BadInput, match="a.validity.toml.*nobody"):
        apply_sidecars(manifest, find_sidecars([tmp_path], files))
    (tmp_path / "a.validity.toml").write_text('expires = "2020-13-01"\nwhen = 1\n', encoding="utf-8")
    with pytest.raises(BadInput, match="a.validity.toml.*unknown key"):
        read_sidecar(tmp_path / "a.validity.toml")
    (tmp_path / "a.validity.toml").write_text('expires = "2020-13-01"\n', encoding="utf-8")
    facts, warnings = read_sidecar(tmp_path / "a.validity.toml")
    assert facts == [] and "unreadable date" in warnings[0]


@pytest.mark.parametrize("question, expected", [
    ("这个文件还有效吗", True), ("现行的教育工作要点是哪个", True), ("最新版本是哪个", True),
    ("Is this plan still in force?", True), ("学前教育今年有什么要求", False), ("许可证有效期多久", False),
    ("电力安全事故应急处置和调查处理条例还有效吗", True), ("这个政策现在还有效吗", True), ("还有效吗？", True),
    ("《2025年教育工作要点》是否有效", True), ("它什么时候生效", True),
    # said of a legal act, not of a document: an ordinary question about the law
    ("口头变更劳动合同有效吗？", False), ("劳动者签署放弃加班费的协议，是否有效？", False),
    ("学校让家长签的免责条款是否有效", False), ("遗嘱什么时候生效", False), ("这种约定有效吗？", False),
])
def test_validity_questions(question, expected):
    assert asks_validity(question) is expected


def test_the_chat_shows_a_status_badge_on_each_cited_document():
    from policy_assistant.ui import render

    citation = {"doc": "gz", "title": "某方案", "year": 2014, "item": "3", "path": ["二", "3"], "section": "二、保障措施",
                "text": "本方案自印发起实施，有效期5年。", "status": "expired", "effective_from": "2014-04-21",
                "expires": "2019-04-20"}
    html = render.message({"language": "zh", "answer": "注意：……\n- 本方案自印发起实施，有效期5年。[第3条]",
                           "citations": [citation]}, "m1")
    assert '<span class="pa-status pa-status-expired">已失效</span>' in html
    english = render.message({"language": "en", "answer": "x [第3条]", "citations": [citation | {"status": "in_force"}]}, "m2")
    assert '<span class="pa-status pa-status-in_force">in force</span>' in english
    assert render.status_badge({"item": "1"}, "zh") == ""


def test_an_in_force_item_within_the_margin_leads_and_the_edition_in_force_is_this_year():
    from policy_assistant.core.model import Hit, Item, Validity
    from policy_assistant.query import understand
    from policy_assistant.retrieval import Corpus, choose_docs, in_force_first

    items = [Item(doc=doc, item="1", path=["1"], text="内容", title=title, year=year)
             for doc, title, year in (("old", "2024年教育工作要点", 2024), ("new", "2025年教育工作要点", 2025),
                                      ("law", "某条例", None))]
    corpus = Corpus(items, "c")
    corpus.attach_validity({"old": Validity(status="repealed", repealed_by="law", successor="law"),
                            "new": Validity(status="not_yet_in_force"), "law": Validity()})
    assert items[0].validity.successor_title == "某条例"
    old, new, law = (Hit(item, score) for item, score in zip(items, (2.0, 1.8, 1.2)))
    assert [h.item.doc for h in in_force_first([old, law], corpus)] == ["law", "old"]        # 0.8 behind: leads
    assert [h.item.doc for h in in_force_first([old, law], corpus, margin=0.5)] == ["old", "law"]
    assert [h.item.doc for h in in_force_first([law, old], corpus)] == ["law", "old"]
    # "今年" in 2025: the 2025 edition is not yet in force, so the edition in force (2024's) is meant
    corpus.attach_validity({"old": Validity(), "new": Validity(status="not_yet_in_force"), "law": Validity()})
    assert "old" in choose_docs(understand("今年学前教育有什么要求"), corpus, dt.date(2025, 1, 1))


def test_a_parenthesised_law_header_with_amendments():
    text = ("个体工商户条例\n（2011年4月16日中华人民共和国国务院令第596号公布　根据2014年2月19日《国务院关于废止和修改部分"
            "行政法规的决定》第一次修订　根据2016年2月6日《国务院关于修改部分行政法规的决定》第二次修订）\n"
            "第一条 为了保护个体工商户的合法权益，制定本条例。\n第三十条 本条例自2011年11月1日起施行。\n")
    facts = doc_facts("header", text)
    assert [(f["kind"], f.get("date")) for f in facts.facts] == [
        ("promulgated", "2011-04-16"), ("amended", "2014-02-19"), ("amended", "2016-02-06"), ("effective", "2011-11-01")]
