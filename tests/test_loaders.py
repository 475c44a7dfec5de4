"""Tests for index.loaders and index.cleaning: one policy in every format, bad files, chrome, metadata."""
from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_assistant.core.errors import BadInput
from policy_assistant.index.cleaning import clean_text, is_chrome_line, looks_numbered, normalise_date, year_of
from policy_assistant.index.loaders import SUPPORTED_SUFFIXES, join_wrapped_lines, load_document, strip_page_furniture

try:
    from tests.fixtures_docs import corpus_text, write_docx, write_gb18030, write_html, write_pdf
except ImportError:  # tests/ run as a rootdir-less folder
    from fixtures_docs import corpus_text, write_docx, write_gb18030, write_html, write_pdf

CHROME = ("当前位置", "打印本页", "关闭窗口", "浏览次数", "首页 >", "> 政务公开", "版权所有", "上一篇", "下一篇")
SENTENCE_END = tuple("。！？；：”")


def reference_lines() -> list[str]:
    """The corpus body lines (chrome lines removed, blank lines dropped), as printed."""
    return [line.strip() for line in corpus_text().splitlines()
            if line.strip() and not any(c in line for c in ("当前位置", "政务公开 >", "信息来源", "打印本页"))]


def item_lines() -> list[str]:
    lines = [x for x in reference_lines() if re.match(r"^\d+\.", x)]
    assert len(lines) == 30
    return lines


# --------------------------------------------------------------------------- one policy, four formats

@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("formats")
    text = corpus_text()
    return {
        "txt-gb18030": write_gb18030(d / "taizhou-2025-education-work-points.txt", text),
        "html": write_html(d / "taizhou-2025-education-work-points.html", text),
        "html-gbk": write_html(d / "gbk-page.htm", text, encoding="gbk"),
        "docx": write_docx(d / "taizhou-2025-education-work-points.docx", text),
        "pdf": write_pdf(d / "taizhou-2025-education-work-points.pdf", text),
        "txt-utf8": _write(d / "utf8.txt", text.encode("utf-8")),
        "md-utf8-bom": _write(d / "bom.md", b"\xef\xbb\xbf" + text.encode("utf-8")),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


FORMATS = ["txt-gb18030", "txt-utf8", "md-utf8-bom", "html", "html-gbk", "docx", "pdf"]


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_keeps_all_items_and_metadata(saved, kind):
    document = load_document(saved[kind])
    lines = document.text.splitlines()
    for item in item_lines():
        label_and_heading = item.split("。")[0]        # "12.实施学前教育高标准普惠提质行动"
        assert any(line.startswith(label_and_heading) for line in lines), (kind, label_and_heading)
    assert "加快建设公办幼儿园" in document.text
    for chrome in CHROME:
        assert chrome not in document.text, (kind, chrome)
    assert (document.title, document.year, document.office, document.date) == (
        "2025年教育工作要点", 2025, "市教育局", "2025-03-26")
    assert document.doc == saved[kind].stem
    assert document.source == str(saved[kind])
    assert "2025年教育工作要点" in lines                 # the title line stays for the chunker
    assert "\r" not in document.text


@pytest.mark.parametrize("kind", ["txt-gb18030", "txt-utf8", "md-utf8-bom", "html", "html-gbk", "docx"])
def test_body_lines_are_verbatim(saved, kind):
    got = [x for x in load_document(saved[kind]).text.splitlines() if x]
    assert got == reference_lines()


def test_pdf_loses_no_character_and_breaks_only_at_sentence_ends(saved):
    document = load_document(saved["pdf"])
    got = [x for x in document.text.splitlines() if x]
    ref = reference_lines()
    assert "".join(got) == "".join(ref)                 # page furniture gone, nothing else lost or added
    ref_ends, pos = set(), 0
    for line in ref:
        pos += len(line)
        ref_ends.add(pos)
    pos = 0
    for line in got[:-1]:
        pos += len(line)
        assert pos in ref_ends or line.endswith(SENTENCE_END), line   # wrapped lines were joined
    assert any(re.fullmatch(r"- \d+ -", x) for x in document.dropped)
    assert "台州市教育局 政务公开 工作信息" in document.dropped
    item12 = next(x for x in got if x.startswith("12."))
    assert item12 == next(x for x in ref if x.startswith("12."))  # its wrapped lines joined back


def test_pdf_fixture_really_wraps_mid_sentence(saved):
    import pypdf

    raw = pypdf.PdfReader(str(saved["pdf"])).pages[0].extract_text()
    assert "加快教育强市建设" in raw and "- 1 -" in raw
    assert any(line and not line.endswith(SENTENCE_END) and len(line) > 30 for line in raw.splitlines())


def test_chrome_is_recorded_as_dropped(saved):
    document = load_document(saved["txt-gb18030"])
    assert document.dropped == ["当前位置: 首页", "> 政务公开 > 工作信息 > 计划总结",
                                "信息来源: 市教育局 发布时间: 2025-03-26 14:42 浏览次数:", "打印本页 关闭窗口"]


# --------------------------------------------------------------------------- encodings

@pytest.mark.parametrize("text", ["2025年教育工作要点\n1.加快建设公办幼儿园。", "当前位置: 首页\n加快建设公办幼儿园",
                                  "12.实施学前教育高标准普惠提质行动。扩大优质资源供给,加快建设公办幼儿园"])
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16"])
def test_short_texts_decode_exactly(tmp_path, text, encoding):
    path = tmp_path / "short.txt"
    path.write_bytes(text.encode(encoding))
    got = load_document(path).text
    assert "加快建设公办幼儿园" in got


def test_crlf_and_cr_are_normalised(tmp_path):
    path = _write(tmp_path / "crlf.txt", "2025年教育工作要点\r\n1.第一条。\r2.第二条。\r\n".encode("gbk"))
    assert load_document(path).text == "2025年教育工作要点\n1.第一条。\n2.第二条。"


def test_html_with_wrong_meta_charset_is_detected(tmp_path):
    page = "<html><head><meta charset='utf-8'></head><body><div id='zoom'><p>2025年教育工作要点</p>" \
           "<p>12.实施学前教育高标准普惠提质行动。扩大优质资源供给,加快建设公办幼儿园。</p></div></body></html>"
    path = _write(tmp_path / "wrong.html", page.encode("gbk"))
    assert "加快建设公办幼儿园" in load_document(path).text


# --------------------------------------------------------------------------- html details

PAGE = """<html><head><meta name="ArticleTitle" content="关于做好2025年招生工作的通知">
<meta name="PubDate" content="2025-04-01 09:00"><meta name="ContentSource" content="台州市教育局"></head>
<body><div class="nav"><a>首页</a><a>政务公开</a></div>
<div id="zoom"><div class="title">关于做好2025年招生工作的通知</div><h2>一、总体要求</h2>
<ul><li>1.部署加快教育强市建设。召开全市教育强市建设大会,印发规划纲要和行动方案，进一步明确时间表。</li>
<li>2.编制教育规划。全面启动编制工作,谋划形成一批重大项目、重大改革，更多文字更多文字。</li></ul>
<div>3.加强党的全面领导。健全市委教育工委工作运行机制。<br>4.推进全面从严治党。完善教育系统全面从严治党机制。</div>
<table><tr><td>序号</td><td>任务</td></tr><tr><td>1</td><td>加快建设公办幼儿园</td></tr></table>
<p><strong>（一）</strong>加粗标签后的正文内容，内联元素保持在同一行中，不被拆开。</p>
<p>　　5.全角空格缩进的段落正文内容，缩进去掉而内容完整。</p>
</div><div class="footer">版权所有 台州市教育局</div><script>var a = "打印本页";</script></body></html>"""


def test_html_keeps_headings_tables_and_list_items_verbatim(tmp_path):
    document = load_document(_write(tmp_path / "notice.html", PAGE.encode("utf-8")))
    assert document.text.splitlines() == [
        "关于做好2025年招生工作的通知", "一、总体要求",
        "1.部署加快教育强市建设。召开全市教育强市建设大会,印发规划纲要和行动方案，进一步明确时间表。",
        "2.编制教育规划。全面启动编制工作,谋划形成一批重大项目、重大改革，更多文字更多文字。",
        "3.加强党的全面领导。健全市委教育工委工作运行机制。", "4.推进全面从严治党。完善教育系统全面从严治党机制。",
        "序号\t任务", "1\t加快建设公办幼儿园",
        "（一）加粗标签后的正文内容，内联元素保持在同一行中，不被拆开。", "5.全角空格缩进的段落正文内容，缩进去掉而内容完整。"]
    assert (document.title, document.year, document.office, document.date) == (
        "关于做好2025年招生工作的通知", 2025, "台州市教育局", "2025-04-01")


def test_html_tiny_page_falls_back_to_body_text(tmp_path):
    path = _write(tmp_path / "tiny.html",
                  "<html><body><nav>首页</nav><div>2025年教育工作要点</div><div>1.短条目。</div></body></html>".encode())
    document = load_document(path)
    assert document.text == "2025年教育工作要点\n1.短条目。"
    assert document.title == "2025年教育工作要点"


SPLIT_ITEMS = [f"{i}.第{i}项工作任务。围绕教育强市建设目标，扎实推进第{i}项重点工作，确保按期完成各项指标要求。"
               for i in range(1, 31)]
SPLIT_PAGE = ("<html><body><div class='menu'><a>首页</a></div><div class='article'><h1>2025年教育工作要点</h1>"
              "<div class='a'>" + "".join(f"<p>{x}</p>" for x in SPLIT_ITEMS[:25]) + "</div>"
              "<div class='share'>分享到：微信 微博</div>"
              "<div class='b'><span>" + "<br>".join(SPLIT_ITEMS[25:]) + "</span></div></div>"
              "<div class='side'><p>1.关于印发2024年教育工作要点的通知</p></div>"
              "<div class='footer'>版权所有</div></body></html>")


@pytest.mark.parametrize("extracted", ["first-25", "none", "raises"])
def test_html_body_text_dropped_by_trafilatura_is_recovered(tmp_path, monkeypatch, extracted):
    """trafilatura sometimes loses blocks; the loader must still keep every numbered line."""
    import trafilatura

    def fake_extract(html, **kwargs):
        if extracted == "raises":
            raise ValueError("boom")
        return "\n".join(SPLIT_ITEMS[:25]) if extracted == "first-25" else None

    monkeypatch.setattr(trafilatura, "extract", fake_extract)
    document = load_document(_write(tmp_path / "split.html", SPLIT_PAGE.encode()))
    lines = document.text.splitlines()
    assert lines == ["2025年教育工作要点", *SPLIT_ITEMS]
    assert document.title == "2025年教育工作要点"


def test_html_items_in_two_blocks_with_real_trafilatura(tmp_path):
    document = load_document(_write(tmp_path / "split.html", SPLIT_PAGE.encode()))
    assert document.text.splitlines() == ["2025年教育工作要点", *SPLIT_ITEMS]


def test_html_that_is_only_chrome_is_bad_input(tmp_path):
    path = _write(tmp_path / "chrome.html",
                  "<html><body><nav>首页</nav><div>打印本页 关闭窗口</div><footer>版权所有</footer></body></html>".encode())
    with pytest.raises(BadInput, match="chrome.html"):
        load_document(path)


# --------------------------------------------------------------------------- docx details

def test_docx_renders_word_list_numbering_and_tables_in_order(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("2025年教育工作要点")
    for text in ["部署加快教育强市建设。", "编制教育规划。", "加强党的全面领导。"]:
        d.add_paragraph(text, style="List Number")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "序号", (0, 1): "任务", (1, 0): "1", (1, 1): "加快建设公办幼儿园"}.items():
        table.cell(r, c).text = text
    merged = d.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "合并单元格"
    merged.cell(0, 2).text = "右"
    d.add_paragraph("结尾。")
    d.save(str(tmp_path / "numbered.docx"))
    assert [x for x in load_document(tmp_path / "numbered.docx").text.splitlines() if x] == [
        "2025年教育工作要点", "1.部署加快教育强市建设。", "2.编制教育规划。", "3.加强党的全面领导。",
        "序号\t任务", "1\t加快建设公办幼儿园", "合并单元格\t右", "结尾。"]


# --------------------------------------------------------------------------- bad files

def _corrupt_pdf(tmp_path: Path, saved) -> Path:
    data = saved["pdf"].read_bytes()
    return _write(tmp_path / "corrupt.pdf", data[: len(data) // 2])


def _scanned_pdf(tmp_path: Path) -> Path:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(tmp_path / "scanned.pdf"))
    c.rect(50, 50, 300, 400, fill=1)
    c.showPage()
    c.save()
    return tmp_path / "scanned.pdf"


def _empty_docx(tmp_path: Path) -> Path:
    import docx

    docx.Document().save(str(tmp_path / "empty.docx"))
    return tmp_path / "empty.docx"


BAD = {
    "corrupt.pdf": (lambda tp, s: _corrupt_pdf(tp, s), "corrupt"),
    "garbage.pdf": (lambda tp, s: _write(tp / "garbage.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 8), "corrupt"),
    "not-a-pdf.pdf": (lambda tp, s: _write(tp / "not-a-pdf.pdf", "2025年教育工作要点".encode()), "not a PDF"),
    "scanned.pdf": (lambda tp, s: _scanned_pdf(tp), "no text layer; OCR it first"),
    "empty.docx": (lambda tp, s: _empty_docx(tp), "no text"),
    "fake.docx": (lambda tp, s: _write(tp / "fake.docx", "2025年教育工作要点\n1.条目。".encode()), "not a Word"),
    "old.docx": (lambda tp, s: _write(tp / "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)), ".doc"),
    "junk.txt": (lambda tp, s: _write(tp / "junk.txt", random.Random(0).randbytes(4096)), "binary"),
    "nul-free-junk.md": (lambda tp, s: _write(tp / "nul-free-junk.md", bytes(range(1, 32)) * 40), "binary"),
    "junk.html": (lambda tp, s: _write(tp / "junk.html", random.Random(1).randbytes(4096)), ""),
    "zero.txt": (lambda tp, s: _write(tp / "zero.txt", b""), "empty"),
    "zero.pdf": (lambda tp, s: _write(tp / "zero.pdf", b""), "empty"),
    "zero.docx": (lambda tp, s: _write(tp / "zero.docx", b""), "empty"),
    "zero.html": (lambda tp, s: _write(tp / "zero.html", b""), "empty"),
    "blank.txt": (lambda tp, s: _write(tp / "blank.txt", b" \r\n\t\n"), "no text"),
    "only-chrome.txt": (lambda tp, s: _write(tp / "only-chrome.txt", "当前位置: 首页\n打印本页 关闭窗口".encode()), "chrome"),
    "dir.txt": (lambda tp, s: (tp / "dir.txt").mkdir() or tp / "dir.txt", "directory"),
    "missing.txt": (lambda tp, s: tp / "missing.txt", "no such file"),
    "policy.doc": (lambda tp, s: _write(tp / "policy.doc", b"\xd0\xcf\x11\xe0"), ".docx"),
    "policy.xlsx": (lambda tp, s: _write(tp / "policy.xlsx", b"PK\x03\x04"), "unsupported"),
    "README": (lambda tp, s: _write(tp / "README", b"hello"), "unsupported"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_raise_bad_input_naming_the_file(tmp_path, saved, name):
    make, reason = BAD[name]
    path = make(tmp_path, saved)
    with pytest.raises(BadInput) as info:
        load_document(path)
    message = str(info.value)
    assert name in message and str(path) in message
    assert reason in message
    assert "\n" not in message
    assert info.value.exit_code == 2


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="running as root: chmod 000 does not stop root from reading (dir.txt covers unreadable)")
def test_unreadable_file_is_bad_input(tmp_path):
    path = _write(tmp_path / "secret.txt", "2025年教育工作要点".encode())
    path.chmod(0)
    try:
        with pytest.raises(BadInput, match=r"secret\.txt.*permission denied"):
            load_document(path)
    finally:
        path.chmod(0o644)


def test_permission_error_is_bad_input_even_as_root(tmp_path, monkeypatch):
    path = _write(tmp_path / "locked.txt", "2025年教育工作要点".encode())

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(BadInput, match=r"locked\.txt: cannot read the file \(permission denied\)"):
        load_document(path)


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == frozenset({".txt", ".md", ".html", ".htm", ".docx", ".pdf"})


def test_suffix_is_case_insensitive(tmp_path):
    path = _write(tmp_path / "UPPER.TXT", "2025年教育工作要点\n1.条目。".encode())
    assert load_document(path).doc == "UPPER"


# --------------------------------------------------------------------------- pdf helpers

def test_strip_page_furniture_drops_page_numbers_and_running_lines():
    body = ["加快建设公办幼儿园。", "扩大优质资源供给。", "提升保育质量。", "鼓励开设托班。"]
    pages = [
        ["2025年教育工作要点", "台州市教育局文件", body[0], "第 1 页 共 4 页"],
        ["台州市教育局文件", body[1], "- 2 -"],
        ["台州市教育局文件", "3", body[2], "3/4"],
        ["台州市教育局文件", body[3], "Page 4 of 4"],
    ]
    out, removed = strip_page_furniture(pages)
    assert out == [["2025年教育工作要点", body[0]], [body[1]], [body[2]], [body[3]]]
    assert removed.count("台州市教育局文件") == 4 and "第 1 页 共 4 页" in removed and "3" in removed


def test_running_header_equal_to_title_keeps_the_title_on_page_one():
    pages = [["2025年教育工作要点", "1.第一条内容。"], ["2025年教育工作要点", "2.第二条内容。"],
             ["2025年教育工作要点", "3.第三条内容。"]]
    out, _ = strip_page_furniture(pages)
    assert out == [["2025年教育工作要点", "1.第一条内容。"], ["2.第二条内容。"], ["3.第三条内容。"]]


def test_a_single_page_keeps_everything_but_page_numbers():
    out, removed = strip_page_furniture([["台州市教育局文件", "正文。", "- 1 -"]])
    assert out == [["台州市教育局文件", "正文。"]] and removed == ["- 1 -"]


FULL = "一二三四五六七八九十" * 4                       # a line that fills the text width


@pytest.mark.parametrize("nxt", ["13.下一条内容", "（二）下一项", "第五条 下一条", "一、下一部分", "①下一项",
                                 "信息来源: 市教育局"])
def test_join_stops_before_a_new_numbered_unit(nxt):
    assert join_wrapped_lines([FULL, nxt]) == [FULL, nxt]


def test_join_mid_sentence_but_not_after_sentence_end_or_short_lines():
    assert join_wrapped_lines([FULL, FULL + "，", "接着写完。", "下一段。"]) == [FULL + FULL + "，接着写完。", "下一段。"]
    assert join_wrapped_lines([FULL + "。", "新段落"]) == [FULL + "。", "新段落"]
    assert join_wrapped_lines(["2025年教育工作要点", FULL, FULL]) == ["2025年教育工作要点", FULL + FULL]
    assert join_wrapped_lines(["x" * 80 + " digital", "transformation"]) == ["x" * 80 + " digital transformation"]
    assert join_wrapped_lines([]) == []


# --------------------------------------------------------------------------- clean_text

@pytest.mark.parametrize("line", [
    "当前位置: 首页", "您当前的位置：首页 > 政务公开", "首页 > 政务公开 > 工作信息", "> 政务公开 > 工作信息 > 计划总结",
    "政务公开 > 工作信息 > 计划总结", "打印本页 关闭窗口", "【打印本页】【关闭窗口】", "【字体：大 中 小】", "字号：大 中 小",
    "分享到：", "浏览次数：1234", "上一篇：2024年教育工作总结", "下一篇：关于……的通知", "版权所有：台州市教育局",
    "浙ICP备05000000号", "网站标识码：3310000000", "【打印】【关闭】", "首页", "返回顶部", "扫一扫在手机打开当前页",
    "信息来源: 市教育局 发布时间: 2025-03-26 14:42 浏览次数:", "【发布时间：2025年3月26日】【来源：台州市教育局】",
])
def test_chrome_lines(line):
    assert is_chrome_line(line)
    document = clean_text(f"2025年教育工作要点\n{line}\n1.加快建设公办幼儿园。", doc="d", source="s")
    assert document.text == "2025年教育工作要点\n1.加快建设公办幼儿园。"
    assert document.dropped == [line]


@pytest.mark.parametrize("line", [
    "时间：2025年4月1日上午9:00", "主办单位：台州市教育局", "> 各地要加快建设公办幼儿园，扩大普惠资源。",
    "学生可以打印成绩单后提交。", "12.实施学前教育高标准普惠提质行动。", "（二）加快建设公办幼儿园",
    "第五条 学校应当建立健全安全管理制度。", "一、聚力推进谋划教育蓝图", "各县（市、区）教育局：", "台州市教育局",
    "2025年3月26日", "x > y 时取较大值，否则取 y。", "🎓 emoji 与 mixed English text",
])
def test_body_lines_are_kept(line):
    assert not is_chrome_line(line)
    assert clean_text(line, doc="d", source="s").text == line


@pytest.mark.parametrize("raw, office, date", [
    ("信息来源: 市教育局 发布时间: 2025-03-26 14:42 浏览次数:", "市教育局", "2025-03-26"),
    ("【发布时间：2025年3月6日】【来源：台州市教育局】【字体：大 中 小】", "台州市教育局", "2025-03-06"),
    ("发布机构：台州市教育局\n成文日期：2025-03-20\n发布日期：2025/3/26", "台州市教育局", "2025-03-26"),
    ("来源：浙江省教育厅 | 发布日期：2025.03.26", "浙江省教育厅", "2025-03-26"),
    ("信息来源：\n发布时间：2025-02-30", "", ""),
])
def test_metadata_lines(raw, office, date):
    document = clean_text(f"2025年教育工作要点\n{raw}\n1.条目。", doc="d", source="s")
    assert (document.office, document.date) == (office, date)
    assert document.text == "2025年教育工作要点\n1.条目。"


@pytest.mark.parametrize("raw, title, year", [
    ("当前位置: 首页\n2025年教育工作要点\n一、总体要求\n1.条目。", "2025年教育工作要点", 2025),
    ("台教〔2025〕5号\n关于印发《台州市学前教育管理办法》的通知\n各县（市、区）教育局：", "关于印发《台州市学前教育管理办法》的通知", None),
    ("台州市中小学校学生管理办法\n第一条 为了加强管理。", "台州市中小学校学生管理办法", None),
    ("台州市教育局关于印发\n2025年教育工作要点的通知\n各学校：", "台州市教育局关于印发2025年教育工作要点的通知", 2025),
    ("关于印发《三年行动方案（2025-2027年）》的通知\n发布时间：2024-12-30", "关于印发《三年行动方案（2025-2027年）》的通知", 2024),
    ("关于印发《台州市加快建设教育强市\n三年行动方案》的通知\n各学校：", "关于印发《台州市加快建设教育强市三年行动方案》的通知", None),
    ("# 2024年工作总结\n\n正文。", "2024年工作总结", 2024),
    ("一、聚力推进\n1.条目。", "", None),
    ("", "", None),
])
def test_title_and_year(raw, title, year):
    document = clean_text(raw, doc="d", source="s")
    assert (document.title, document.year) == (title, year)


def test_clean_text_keeps_the_title_line_and_collapses_blank_runs():
    document = clean_text("\ufeff  2025年教育工作要点  \r\n\r\n\r\n\u3000\u30001.条目。\u3000\n\n", doc="d", source="s")
    assert document.text == "2025年教育工作要点\n\n1.条目。"


def test_helpers():
    assert normalise_date("2025-03-26 14:42") == "2025-03-26"
    assert normalise_date("2025年3月6日") == "2025-03-06"
    assert normalise_date("2025-13-01") == "" and normalise_date("") == ""
    assert year_of("2025年教育工作要点") == 2025 and year_of("要点", "2024-01-02") == 2024
    assert year_of("2025-2027年行动方案") is None
    assert looks_numbered("13.实施") and looks_numbered("（二）") and looks_numbered("第五条") and looks_numbered("一、")
    assert not looks_numbered("3.5亿元") and not looks_numbered("2025年")


EDGE = ["", " ", "\n\n", "，。！？（）【】：；", "学前教育 preschool 混合", "🎓" * 10, "当前位置" * 3, "信息来源:" * 5,
        "发布时间:9999-99-99", "\r\r\n\x00\x1f", "\ud800", "一" * 100_000]


@pytest.mark.parametrize("raw", EDGE, ids=range(len(EDGE)))
def test_clean_text_edge_strings(raw):
    document = clean_text(raw, doc="d", source="s")
    assert isinstance(document.text, str)


FRAGMENTS = st.sampled_from(["当前位置: 首页", "> 政务公开 > ", "信息来源:", "发布时间:", "2025-03-26", "2025年",
                             "打印本页", "关闭窗口", "浏览次数:", "1.", "（二）", "第五条", "一、", "。", "\n", "\r\n",
                             "【", "】", "关于", "的通知", "要点", "\u3000", "#", ">"])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=5))).map("".join)))
def test_clean_text_never_crashes_and_never_edits_inside_a_line(raw):
    document = clean_text(raw, doc="d", source="s")
    source_lines = {line.strip(" \t\u3000\xa0\ufeff\u200b\u200c\u200d\u2060")
                    for line in re.split(r"\r\n|[\r\n\f\v\u2028\u2029]", raw)}
    for line in document.text.split("\n"):
        assert line == "" or line in source_lines
    assert all(line in source_lines for line in document.dropped)
    assert document.year is None or 1900 <= document.year <= 2099
    assert document.date == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", document.date)
