"""Chunking: golden files per numbering style, the bundled corpus, edge strings, properties.

Golden files live in ``tests/golden/chunking/``: ``NAME.txt`` (a policy text written for
the tests) and ``NAME.json`` (the expected items: item, path, section, headings,
text_prefix, text_length). ``UPDATE_GOLDEN=1 pytest tests/test_chunking.py`` rewrites the
JSON files from the current code; review the diff by eye before accepting it. The
style-specific tests below pin the important facts by hand, independently of the JSON.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_assistant.core.model import Document, Item
from policy_assistant.index.chunking import chunk_document, chunk_with_residue, split_document

GOLDEN = Path(__file__).resolve().parent / "golden" / "chunking"
CORPUS = (Path(__file__).resolve().parents[1] / "index" / "corpus"
          / "taizhou-2025-education-work-points.txt")

# The title each golden document is given ("" = unknown: the chunker must recognise it).
TITLES = {
    "regulation": "台州市民办学校管理办法",
    "notice_nested": "台州市教育局关于做好2025年义务教育和普通高中招生入学工作的通知",
    "mixed_dun_dot": "2025年全市学校安全工作要点",
    "circled": "",
    "headings_wrapped": "台州市中小学课后服务提质增效工作方案",
    "restarting": "",
}
NAMES = sorted(TITLES)


def make_doc(text: str, title: str = "", year: int | None = None, doc: str = "x") -> Document:
    return Document(doc=doc, text=text, source=f"{doc}.txt", title=title, year=year)


def golden_doc(name: str) -> Document:
    text = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    return make_doc(text, TITLES[name], 2025, doc=name)


def nonspace(s: str) -> Counter:
    return Counter(ch for ch in s if not ch.isspace())


def flat_source(text: str) -> str:
    """The source with its line breaks (and the indentation around them) removed."""
    return re.sub(r"\s*\n\s*", "", text.replace("\r\n", "\n").replace("\r", "\n"))


def assert_accounted(text: str, items: list[Item], residue: list[str]) -> None:
    """Every non-whitespace character is in exactly one item text or residue fragment."""
    got = nonspace("".join(it.text for it in items)) + nonspace("".join(residue))
    assert got == nonspace(text)


def assert_well_formed(items: list[Item]) -> None:
    assert [it.order for it in items] == list(range(len(items)))
    assert len({it.key for it in items}) == len(items), "item keys must be unique"
    assert len({it.item for it in items}) == len(items), "item labels must be unique"
    for it in items:
        assert it.text and it.text == it.text.strip()
        assert it.path and all(it.path)
        assert it.section == (it.headings[0] if it.headings else "")


def summary(items: list[Item]) -> list[dict]:
    return [{"item": it.item, "path": it.path, "section": it.section, "headings": it.headings,
             "text_prefix": it.text[:20], "text_length": len(it.text)} for it in items]


# --------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("name", NAMES)
def test_golden(name):
    items = chunk_document(golden_doc(name))
    got = summary(items)
    path = GOLDEN / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        rows = ",\n".join(" " + json.dumps(row, ensure_ascii=False) for row in got)
        path.write_text(f"[\n{rows}\n]\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


@pytest.mark.parametrize("name", NAMES)
def test_golden_texts_are_verbatim_and_complete(name):
    document = golden_doc(name)
    items, residue = chunk_with_residue(document)
    source = flat_source(document.text)
    for it in items:
        assert it.text.replace("\n", "") in source, it.item
    assert_accounted(document.text, items, residue)
    assert_well_formed(items)
    for it in items:
        assert (it.doc, it.year, it.source) == (name, 2025, f"{name}.txt")


def test_regulation_articles_are_the_units():
    items, residue = chunk_with_residue(golden_doc("regulation"))
    # the adoption record under the title is metadata, not an item
    assert "（2025年2月18日市政府第56次常务会议审议通过　自2025年4月1日起施行）" in residue
    articles = items
    cn = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]

    def zh(n: int) -> str:
        tens, ones = divmod(n, 10)
        head = (("" if tens == 1 else cn[tens - 1]) + "十") if tens else ""
        return head + (cn[ones - 1] if ones else "")

    assert [a.item for a in articles] == [f"第{zh(n)}条" for n in range(1, 59)]
    by = {a.item: a for a in articles}
    assert by["第一条"].path == ["第一章", "第一条"] and by["第一条"].section == "第一章　总则"
    assert by["第十六条"].path == ["第三章", "第一节", "第十六条"]
    assert by["第十六条"].headings == ["第三章　办学管理", "第一节　招生管理"]
    assert by["第四十三条"].path == ["第五章", "第四十三条"]
    # sub-points stay inside their article, on their own lines
    assert "\n（五）有必备的办学资金和稳定的经费来源。" in by["第八条"].text
    assert by["第九条"].text.count("\n") == 4 and "\n4.属捐赠性质" in by["第九条"].text
    assert "（四）安全管理情况。" in by["第四十四条"].text
    # "第十二条" at the start of a wrapped line is a cross-reference, not an article
    assert "依照本办法第九条、第十二条规定的材料提交申请。" in by["第十三条"].text
    assert by["第十二条"].text.startswith("申请正式设立民办学校的")
    # a second paragraph of an article keeps its line break
    assert by["第四条"].text.count("\n") == 1


def test_notice_nested_numbering_runs_on():
    items = chunk_document(golden_doc("notice_nested"))
    by = {it.item: it for it in items}
    assert items[0].item == "前言" and items[0].text.startswith("为深入贯彻")
    # the addressees and the closing signature/date are document metadata, not item text
    chunked = split_document(golden_doc("notice_nested"))
    assert chunked.metadata["addressees"] == "各县（市、区）教育局，市直各学校"
    assert "各县（市、区）教育局，市直各学校：" in chunked.set_aside
    assert (items[0].office, items[0].date) == ("台州市教育局", "2025-03-20")
    # a section heading with its own intro body: an item for the section itself
    assert by["一"].path == ["一"] and by["一"].text.startswith("坚持公益普惠")
    arabic = [it.item for it in items if it.item.isdigit()]
    assert arabic == [str(n) for n in range(1, 14)]
    assert by["3"].path == ["一", "（二）", "3"]
    assert by["12"].path == ["三", "（二）", "12"]
    assert by["7（1）"].path == ["二", "（二）", "7", "（1）"]
    assert by["12(3)"].path == ["三", "（二）", "12", "(3)"]
    assert by["7"].text.endswith("具体分为以下情形：")  # the intro of a unit with children
    assert "约1.5万人" in by["4"].text and "计划2025年比上年" in by["10"].text
    assert by["四（一）"].text.startswith("加强组织领导。各地要")
    assert by["（三）"].path == ["四", "（三）"]
    assert not any("2025年3月20日" in it.text for it in items)  # the signature block


def test_mixed_dun_and_dot_are_one_level():
    items = chunk_document(golden_doc("mixed_dun_dot"))
    numbered = [it for it in items if it.item.isdigit()]
    assert [it.item for it in numbered] == [str(n) for n in range(1, 12)]
    assert {tuple(it.path[:-1]) for it in numbered} == {("一",), ("二",), ("三",), ("四",)}
    by = {it.item: it for it in items}
    assert by["（2）"].path == ["三", "8", "（2）"]
    assert "不少于1.2亿元，重点用于" in by["10"].text


def test_circled_items_and_repeated_labels():
    items = chunk_document(golden_doc("circled"))
    by = {it.item: it for it in items}
    assert items[0].title == "关于加强新时代中小学科学教育工作的实施意见"  # recognised title line
    assert by["一（一）"].text.endswith("重点做好以下工作：")
    assert by["一（一）①"].path == ["一", "（一）", "①"]
    assert by["③"].path == ["一", "（一）", "③"]  # unique: no prefix
    assert by["三（二）②"].section == "三、加强科学教师队伍建设"
    assert by["二（二）"].text == "建设校内阵地\n每所中小学至少建设一个科学探究实验室或创新实验室，配齐配足科学教育仪器设备。"


def test_heading_only_items_and_wrapped_lines():
    items = chunk_document(golden_doc("headings_wrapped"))
    by = {it.item: it for it in items}
    assert by["前言"].text.endswith("结合我市实际，制定本方案。") and "\n" not in by["前言"].text
    assert by["一（一）"].text.startswith("指导思想\n坚持以习近平新时代")
    assert "推动课后服务从“有”向“优”转变。" in by["一（一）"].text
    assert by["一（二）"].text.startswith("工作目标\n到2025年底")
    assert "约1.5亿元用于购买服务" in by["4"].text
    assert "自2025年秋季学期起，小学一、二、三年级课后服务" in by["5"].text
    assert by["5"].path == ["二", "（三）", "5"]
    assert by["三（二）"].text.startswith("安全保障。学校要")
    assert all("\n" not in it.text for it in items if it.item not in ("一（一）", "一（二）"))


def test_restarting_numbering_gets_prefixed_labels():
    items = chunk_document(golden_doc("restarting"))
    assert [it.item for it in items] == [
        "一1", "一2", "3", "二1", "二2", "三（一）1", "三（一）2", "三（二）1",
        "四（一）1", "四（一）2", "四（二）1"]
    by = {it.item: it for it in items}
    assert by["三（一）2"].path == ["三", "（一）", "2"]
    assert by["三（一）2"].headings == ["三、优化教师资源配置", "（一）推进县域教师交流"]
    assert by["二1"].path == ["二", "1"]
    assert items[0].title == "台州市教育局2025年师资队伍建设工作计划"


# --------------------------------------------------------------------------- markdown laws
LAW_MD = GOLDEN / "law_export_control.md"   # a real law as ../shared/benchmarks/stard/laws/ holds it


def test_markdown_law_articles_carry_their_chapters_and_sections():
    document = make_doc(LAW_MD.read_text(encoding="utf-8"), "中华人民共和国出口管制法", 2020)
    items, residue = chunk_with_residue(document)
    # checked by hand against the file: 49 articles, nothing else is an item
    assert [it.item for it in items][:3] == ["第一条", "第二条", "第三条"]
    assert len(items) == 49 and items[-1].item == "第四十九条"
    by = {it.item: it for it in items}
    assert by["第一条"].path == ["第一章", "第一条"]
    assert by["第一条"].headings == ["第一章 总 则"] and by["第一条"].section == "第一章 总 则"
    assert by["第七条"].path == ["第一章", "第七条"]
    assert by["第八条"].path == ["第二章", "第一节", "第八条"]
    assert by["第八条"].headings == ["第二章 管制政策、管制清单和管制措施", "第一节 一般规定"]
    assert by["第二十一条"].path == ["第二章", "第二节", "第二十一条"]
    assert by["第二十五条"].path == ["第二章", "第三节", "第二十五条"]
    assert by["第二十八条"].path == ["第三章", "第二十八条"]
    assert by["第二十八条"].headings == ["第三章 监督管理"]
    assert by["第二十七条"].path == ["第二章", "第三节", "第二十七条"]
    assert by["第四十九条"].path == ["第五章", "第四十九条"]
    assert by["第四十九条"].text == "本法自2020年12月1日起施行。"
    # the adoption record under the title is set aside, not an item; "#" marks never reach a text
    assert "2020年10月17日 第十三届全国人民代表大会常务委员会第二十二次会议通过" in residue
    assert not any("#" in it.text or "第二章" in it.text.split("\n")[-1] for it in items)
    # an article keeps its paragraphs verbatim, one per line
    assert by["第二条"].text.startswith("国家对两用物项、军品、核以及其他")
    assert "\n前款所称管制物项，包括物项相关的技术资料等数据。\n" in by["第二条"].text
    source = flat_source(document.text)
    for it in items:
        assert it.text.replace("\n", "") in source, it.item
    assert_accounted(document.text, items, residue)
    assert_well_formed(items)


def test_markdown_headings_without_numbers_name_their_items():
    text = ("# 某某法\n\n2001年1月1日 某会议通过\n\n## 序言\n\n甲乙丙，制定本法。\n\n"
            "## 第一章 总则\n\n第一条 一。\n\n## 第二章 罚则\n\n第二条 二。\n\n"
            "## 附则\n\n第三条 本法自公布之日起施行。\n")
    items, residue = chunk_with_residue(make_doc(text, "某某法"))
    got = [(it.item, it.path, it.headings, it.text) for it in items]
    assert got == [
        ("序言", ["序言"], ["序言"], "甲乙丙，制定本法。"),
        ("第一条", ["第一章", "第一条"], ["第一章 总则"], "一。"),
        ("第二条", ["第二章", "第二条"], ["第二章 罚则"], "二。"),
        ("第三条", ["附则", "第三条"], ["附则"], "本法自公布之日起施行。"),
    ]
    assert "2001年1月1日 某会议通过" in residue
    assert_accounted(text, items, residue)


def test_markdown_heading_wrapped_over_two_lines():
    text = "## 第一章 卷烟纸、滤嘴棒、\n\n烟草专用机械的生产和销售\n\n第一条 生产企业应当取得许可证。\n"
    items, residue = chunk_with_residue(make_doc(text))
    assert [(it.item, it.headings) for it in items] == [
        ("第一条", ["第一章 卷烟纸、滤嘴棒、烟草专用机械的生产和销售"])]
    assert_accounted(text, items, residue)


def test_markdown_part_chapter_section_levels():
    text = ("# 第一编 总则\n\n## 第一章 基本规定\n\n第一条 甲。\n\n### 第一节 一般\n\n第二条 乙。\n\n"
            "# 第二编 物权\n\n## 第二章 通则\n\n第三条 丙。\n")
    items = chunk_document(make_doc(text))
    assert [(it.item, it.path) for it in items] == [
        ("第一条", ["第一编", "第一章", "第一条"]),
        ("第二条", ["第一编", "第一章", "第一节", "第二条"]),
        ("第三条", ["第二编", "第二章", "第三条"]),
    ]
    assert items[1].headings == ["第一编 总则", "第一章 基本规定", "第一节 一般"]


# --------------------------------------------------------------------------- bundled corpus
def cleaned_corpus() -> str:
    """The corpus as the loader hands it over: site chrome and the info bar removed."""
    chrome = re.compile(r"^(当前位置|>|打印本页|关闭窗口|信息来源)")
    return "\n".join(line for line in CORPUS.read_text(encoding="utf-8").split("\n")
                     if not chrome.match(line.strip()))


def check_corpus_items(items: list[Item]) -> None:
    assert [it.item for it in items] == [str(n) for n in range(1, 31)]
    twelve = items[11]
    assert twelve.path == ["五", "12"]
    assert twelve.section == "五、聚力推进公共服务优享"
    assert twelve.headings == ["五、聚力推进公共服务优享"]
    assert twelve.text.startswith("实施学前教育高标准普惠提质行动。")
    assert "加快建设公办幼儿园" in twelve.text
    assert twelve.marker == "[第12条]"
    assert items[0].path == ["一", "1"] and items[29].path == ["十", "30"]
    for it in items:
        assert "打印本页" not in it.text and "当前位置" not in it.text


def test_corpus_yields_thirty_items():
    document = make_doc(cleaned_corpus(), "2025年教育工作要点", 2025,
                        doc="taizhou-2025-education-work-points")
    items, residue = chunk_with_residue(document)
    check_corpus_items(items)
    assert residue[0] == "2025年教育工作要点"
    assert items[11].key == "taizhou-2025-education-work-points::五/12"
    assert all(it.title == "2025年教育工作要点" and it.year == 2025 for it in items)
    source = flat_source(document.text)
    assert all(it.text.replace("\n", "") in source for it in items)
    assert_accounted(document.text, items, residue)


def test_corpus_through_the_loader():
    loaders = pytest.importorskip("policy_assistant.index.loaders")
    items = chunk_document(loaders.load_document(CORPUS))
    check_corpus_items(items)


# --------------------------------------------------------------------------- behaviour
def labels(text: str, title: str = "") -> list[tuple[str, list[str]]]:
    return [(it.item, it.path) for it in chunk_document(make_doc(text, title))]


@pytest.mark.parametrize("text", [
    "一、总体要求\n1.5亿元专项资金用于建设。\n2025年完成。",
    "一、总体要求\n推进工作，预计在\n2025.6月底前完成。",
    "第一条　为了规范管理，依照本办法\n第二条规定的程序执行。\n第二条　本办法适用于全市。",
    "第一条　教育分为\n一、二、三级进行管理。\n第二条　附则。",
])
def test_false_positive_numbers_stay_in_the_text(text):
    items, residue = chunk_with_residue(make_doc(text))
    for it in items:
        assert it.text.replace("\n", "") in flat_source(text)
    assert_accounted(text, items, residue)
    if text.startswith("第一条"):
        assert [it.item for it in items] == ["第一条", "第二条"]
    else:
        assert [it.item for it in items] == ["一"]


def test_article_mid_sentence_is_not_an_article():
    text = "第一条　本办法所称学校，是指依照\n第三条规定设立的学校。\n第二条　其他。"
    items = chunk_document(make_doc(text))
    assert [it.item for it in items] == ["第一条", "第二条"]
    assert items[0].text == "本办法所称学校，是指依照第三条规定设立的学校。"


def test_big_article_numbers():
    text = "第一百零一条　甲。\n第一百零二条　乙。\n第一百零三条　丙。\n第一百零四条　丁。"
    assert [i for i, _ in labels(text)] == ["第一百零一条", "第一百零二条", "第一百零三条", "第一百零四条"]


def test_items_inside_an_article_are_not_split():
    text = ("第一章　总则\n第一条　有下列情形之一的：\n（一）甲；\n（二）乙；\n1.丙；\n①丁。\n"
            "第二条　其他。\n第二章　附则\n第三条　本办法自发布之日起施行。")
    assert labels(text) == [("第一条", ["第一章", "第一条"]), ("第二条", ["第一章", "第二条"]),
                            ("第三条", ["第二章", "第三条"])]


def test_hierarchy_follows_first_appearance():
    # here 1. is above （一）: the reverse of the usual order
    text = "一、总体要求\n1.基本原则：\n（一）公平；\n（二）公正。\n2.工作目标。\n二、保障措施\n3.加强领导。"
    assert labels(text) == [
        ("（一）", ["一", "1", "（一）"]), ("（二）", ["一", "1", "（二）"]), ("2", ["一", "2"]),
        ("3", ["二", "3"])]


def test_a_new_style_ranks_below_the_unit_it_first_appears_in():
    # 1. first appears directly under 一、; （一） later appears under 二、 and holds 1. items
    text = "一、甲\n1.子一。\n2.子二。\n二、乙\n（一）丙\n1.子三。\n（二）丁\n1.子四。"
    assert labels(text) == [
        ("一1", ["一", "1"]), ("2", ["一", "2"]), ("（一）1", ["二", "（一）", "1"]),
        ("（二）1", ["二", "（二）", "1"])]


def test_dun_first_then_dot_below_it():
    # 1、 and 1. do not alternate here: 1. (seen later) nests below 1、
    text = "一、总体要求\n1、主要目标：\n1.甲；\n2.乙。\n2、基本原则。"
    assert labels(text) == [("1.1", ["一", "1", "1"]), ("1.2", ["一", "1", "2"]), ("一2", ["一", "2"])]


def test_unnumbered_paragraph_belongs_to_the_item_above():
    text = "一、甲\n1.第一项。\n补充说明一。\n补充说明二。\n2.第二项。"
    items = chunk_document(make_doc(text))
    assert items[0].text == "第一项。\n补充说明一。\n补充说明二。"


def test_preamble_becomes_intro_item_only_with_body():
    assert labels("关于做好招生工作的通知\n一、甲。") == [("一", ["一"])]
    items = chunk_document(make_doc("关于做好招生工作的通知\n现通知如下：\n一、甲。"))
    assert (items[0].item, items[0].path, items[0].text) == ("前言", ["前言"], "现通知如下：")
    assert items[0].title == "关于做好招生工作的通知"


def test_title_wrapped_over_two_lines():
    text = "台州市教育局关于印发\n《2025年教育工作要点》的通知\n各学校：\n一、甲。"
    items, residue = chunk_with_residue(make_doc(text, "台州市教育局关于印发《2025年教育工作要点》的通知"))
    assert residue[:2] == ["台州市教育局关于印发", "《2025年教育工作要点》的通知"]
    assert "各学校：" in residue and items[0].text == "甲。"


def test_title_line_recognised_when_the_known_title_differs():
    items, residue = chunk_with_residue(make_doc("台州市2025年教育工作要点\n一、甲。", "2025年教育工作要点"))
    assert residue[0] == "台州市2025年教育工作要点"
    assert [(it.item, it.title) for it in items] == [("一", "2025年教育工作要点")]


def test_closing_issuer_and_date_are_not_item_text():
    text = "一、甲\n1.乙。\n2.丙。\n\n台州市教育局\n2025年3月20日\n"
    items, residue = chunk_with_residue(make_doc(text))
    assert items[-1].text == "丙。"
    assert residue[-2:] == ["台州市教育局", "2025年3月20日"]


def test_heading_and_body_on_one_line_with_children():
    text = "一、加强组织领导。各地要成立领导小组。\n1.明确分工。\n2.定期调度。"
    items = chunk_document(make_doc(text))
    assert [(it.item, it.text) for it in items] == [
        ("一", "加强组织领导。各地要成立领导小组。"), ("1", "明确分工。"), ("2", "定期调度。")]
    assert items[1].headings == ["一、加强组织领导"]


def test_labels_as_printed():
    text = "一、甲\n（一）乙\n(1)丙。\n(2)丁。\n（二）戊\n1．己\n①庚。"
    items, residue = chunk_with_residue(make_doc(text))
    assert [it.path for it in items] == [
        ["一", "（一）", "(1)"], ["一", "（一）", "(2)"], ["一", "（二）", "1", "①"]]
    assert residue == ["一、甲", "（一）乙", "(1)", "(2)", "（二）戊", "1．己", "①"]
    assert items[2].headings == ["一、甲", "（二）戊", "1．己"]


def test_doc_level_fields_are_copied():
    document = Document(doc="d", text="一、甲。", source="/p/d.txt", title="T", year=2024,
                        office="市教育局", date="2024-01-02")
    (it,) = chunk_document(document)
    assert (it.doc, it.title, it.year, it.source, it.office, it.date, it.order) == (
        "d", "T", 2024, "/p/d.txt", "市教育局", "2024-01-02", 0)


# --------------------------------------------------------------------------- edge strings
def _long_doc() -> str:
    parts = []
    for s in range(1, 11):
        parts.append("一二三四五六七八九十"[s - 1] + "、第" + str(s) + "部分的标题")
        for k in range(1, 40):
            parts.append(f"{k}.推进第{k}项工作。" + "加快建设公办幼儿园，扩大优质资源供给，" * 6 + "确保完成。")
    text = "\n".join(parts)
    return (text * (100_000 // len(text) + 1))[:100_000]


LABEL_LINES = ["1.", "2、", "（一）", "一、", "第一条", "①"]     # bare labels, no bodies

EDGE = {
    "empty": "",
    "spaces": "   \n\t\n\u3000\u3000\n",
    "fullwidth_punct": "！？。，；：“”‘’（）【】《》——……、",
    "mixed_zh_en": ("一、Overview 概述\n1. Improve STEM education，推进AI+教育。\n"
                    "2. Use OpenAI-compatible APIs。"),
    "emoji": "😀🎓📚\n一、教育😀\n1.目标🎯。",
    "control_chars": "\x00\x01\x07\x1b\x7f一、甲\x0b\x0c\n\x1c1.乙\x1d\x1e\x1f\x85\u2028\u2029。",
    "crlf": "标题的通知\r\n一、甲\r\n1.乙。\r\n2.丙。\r",
    "lone_surrogate": "一、\ud800甲\n1.\udfff乙。",
    "labels_only": "一、\n（一）\n1.\n（1）\n①\n第一章\n第一条",
    "one_long_line": "推进教育强市建设，" * 11_000,
    "100k_structured": _long_doc(),
    "100k_lines": "\n".join(LABEL_LINES * 3000),
}


def test_chunking_time_grows_linearly_with_label_lines():
    """No quadratic blow-up on a page of bare labels: ten times the lines take well under 100 times as long
    (a ratio, not a wall-clock bound, so a slow or busy machine does not fail it)."""
    def seconds(repeats: int) -> float:
        doc = make_doc("\n".join(LABEL_LINES * repeats))
        start = time.perf_counter()
        chunk_with_residue(doc)
        return time.perf_counter() - start

    seconds(300)                                      # warm-up (imports, regex compilation)
    small = min(seconds(300) for _ in range(3))
    large = min(seconds(3000) for _ in range(2))
    assert large < 40 * max(small, 1e-3)


@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_strings(name):
    text = EDGE[name]
    items, residue = chunk_with_residue(make_doc(text))
    assert items == chunk_document(make_doc(text))
    assert_accounted(text, items, residue)
    assert_well_formed(items)
    if not text.strip():
        assert items == [] and residue == []


def test_100k_structured_document_keeps_its_items():
    items = chunk_document(make_doc(EDGE["100k_structured"]))
    assert len(items) > 300
    assert items[0].path == ["一", "1"]


# --------------------------------------------------------------------------- properties
_PIECES = ["一、", "二、", "十二、", "（一）", "(二)", "1.", "2.", "3、", "12．", "（1）", "(2)", "①", "②",
           "第一章", "第二章 ", "第一节", "第一条", "第二条　", "第十二条", "第一百零三条", "1.5亿元",
           "2025年", "教育", "，", "。", "；", "：", "“", "”", "、", " ", "\u3000", "\n", "\n\n",
           "\r\n", "abc", "😀", "\x00", "\t"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), max_size=60).map("".join),
       st.sampled_from(["", "教育", "2025年"]))
def test_property_policy_like_text(text, title):
    document = make_doc(text, title)
    items, residue = chunk_with_residue(document)
    assert_accounted(text, items, residue)
    assert_well_formed(items)
    source = flat_source(text)
    for it in items:
        assert it.text.replace("\n", "") in source


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_any_text(text):
    items, residue = chunk_with_residue(make_doc(text))
    assert_accounted(text, items, residue)
    assert_well_formed(items)


# --------------------------------------------------------------------------- llama-index
def test_item_node_parser_gives_the_builder_items_as_nodes():
    from llama_index.core import Document as LlamaDocument

    from policy_assistant.index.node_parser import ItemNodeParser

    text = CORPUS.read_text(encoding="utf-8")
    law = LAW_MD.read_text(encoding="utf-8")
    docs = [LlamaDocument(text=text, metadata={"file_name": CORPUS.name}),
            LlamaDocument(text=law, metadata={"doc": "出口管制法"})]
    nodes = ItemNodeParser().get_nodes_from_documents(docs)
    from policy_assistant.index.loaders import load_document

    expected = chunk_document(load_document(CORPUS)) + chunk_document(make_doc(law, doc="出口管制法"))
    assert [n.get_content(metadata_mode="none") for n in nodes] == [it.text for it in expected]
    assert [(n.metadata["doc"], n.metadata["item"], n.metadata["path"]) for n in nodes] == [
        (it.doc, it.item, it.path) for it in expected]
    twelve = next(n for n in nodes if n.metadata["item"] == "12")
    assert twelve.node_id == f"{CORPUS.stem}::五/12" and twelve.metadata["section"] == "五、聚力推进公共服务优享"
    assert twelve.metadata["title"] == "2025年教育工作要点"
    article = next(n for n in nodes if n.metadata["item"] == "第八条")
    assert article.metadata["path"] == ["第二章", "第一节", "第八条"]
    assert article.metadata["title"] == "中华人民共和国出口管制法"
    embedded = article.get_content(metadata_mode="embed")
    assert "第一节 一般规定" in embedded and "第八条" not in embedded.split("\n\n")[0]


def test_the_ask_path_does_not_import_llama_index_core():
    import subprocess
    import sys

    code = ("import sys, policy_assistant.cli, policy_assistant.engine, policy_assistant.index.builder, "
            "policy_assistant.index.chunking; print('llama_index.core' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


# --------------------------------------------------------------------------- bad input and layouts
def test_backwards_and_duplicate_numbering_is_kept_with_a_warning():
    text = "一、甲。\n1.一。\n2.二。\n1.又一。\n二、乙。\n"
    chunked = split_document(make_doc(text))
    by = {it.item: it for it in chunked.items}
    assert "1.又一。" in by["2"].text                       # kept, as text of the item above
    assert chunked.warnings == ["line 4: 1. does not continue the numbering after 2; kept as text of the unit above"]
    assert_accounted(text, chunked.items, chunked.residue)
    text = "第一条 甲。\n第二条 乙。\n第二条 丙。\n第三条 丁。\n"
    chunked = split_document(make_doc(text))
    assert [it.item for it in chunked.items] == ["第一条", "第二条", "第三条"]
    assert chunked.items[1].text == "乙。\n第二条 丙。"
    assert chunked.warnings == ["line 3: 第二条 does not continue the numbering after 第二条; kept as text of the unit above"]


def test_no_structure_gives_paragraphs_and_a_warning():
    chunked = split_document(make_doc("第一段没有编号。\n第二段也没有，\n但这一行接着上一行。\n"))
    assert [(it.item, it.text) for it in chunked.items] == [
        ("第1段", "第一段没有编号。"), ("第2段", "第二段也没有，但这一行接着上一行。")]
    assert chunked.warnings == ["no numbering found; indexed as 2 paragraph(s)"]


def test_chapter_heading_right_after_a_long_unterminated_line():
    # HTML/PDF hand over lines without blank lines: a chapter heading after the adoption record
    # (a long line ending in "）") or a long heading-less line is still a chapter
    text = ("某某办法\n（2016年3月1日市人民政府第十次常务会议审议通过，自2016年5月1日起施行）\n第一章　总则\n"
            "第一条　为了规范管理，制定本办法。\n这是一段很长的没有句末标点的说明文字它一直写到行尾也没有结束\n第二章　管理\n"
            "第二条　按照本办法\n第一条规定的程序办理。\n")
    items = chunk_document(make_doc(text, "某某办法"))
    assert [(it.item, it.path) for it in items] == [("第一条", ["第一章", "第一条"]), ("第二条", ["第二章", "第二条"])]
    assert items[1].text == "按照本办法第一条规定的程序办理。"
    assert items[1].headings == ["第二章　管理"]


def test_attachment_after_the_signature_is_its_own_item_and_a_table_keeps_its_rows():
    text = ("关于做好收费工作的通知\n各学校：\n一、按标准收费。\n二、公示收费项目。\n某市教育局\n2025年3月1日\n"
            "附件\n收费标准表\n学段\t标准\n小学\t1000元\n初中\t1250元\n")
    chunked = split_document(make_doc(text))
    assert [(it.item, it.text) for it in chunked.items] == [
        ("一", "按标准收费。"), ("二", "公示收费项目。"), ("附件", "学段\t标准\n小学\t1000元\n初中\t1250元")]
    assert chunked.items[-1].headings == ["附件　收费标准表"]
    assert chunked.set_aside == ["各学校：", "某市教育局", "2025年3月1日"]
    assert_accounted(text, chunked.items, chunked.residue)


def test_articles_run_together_on_one_line_are_split_when_they_run_on():
    text = ("## 第一章 总则\n\n第一条 为了维护国家领空主权，制定本规则。 第二条 凡辖有航空器的单位，必须遵守本规则。"
            " 第三条 依照本规则第二条规定的程序办理。 第九条 跳号的不拆。\n")
    items, residue = chunk_with_residue(make_doc(text))
    assert [(it.item, it.text) for it in items] == [
        ("第一条", "为了维护国家领空主权，制定本规则。"), ("第二条", "凡辖有航空器的单位，必须遵守本规则。"),
        ("第三条", "依照本规则第二条规定的程序办理。 第九条 跳号的不拆。")]
    assert_accounted(text, items, residue)


@pytest.mark.parametrize("line, addressees", [
    ("各区、县教育局，天铁集团教委：", True), ("各县（市、区）人民政府，市政府各部门、各直属机构：", True),
    ("为深入贯彻落实会议精神，现提出以下意见：", False), ("现将有关事项通知如下：", False),
    ("根据省里的部署，结合实际，制定本方案：", False)])
def test_only_an_addressee_line_is_set_aside(line, addressees):
    chunked = split_document(make_doc(f"关于做好招生工作的通知\n{line}\n一、甲。\n二、乙。\n"
                                      "抄送：市政府办公室。\n"))
    assert (line in chunked.set_aside) is addressees
    assert "抄送：市政府办公室。" in chunked.set_aside and not any("抄送" in it.text for it in chunked.items)
