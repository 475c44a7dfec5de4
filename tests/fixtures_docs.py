"""Builders for test fixtures: one policy text saved the ways real policy files arrive.

Each ``write_*`` function takes a plain text (typically the bundled corpus file,
site chrome lines included, as copied from a web page) and writes it to ``path``
in one format, adding the furniture that format brings in real life:

- ``write_html``: a government web page: ``<nav>``, a breadcrumb bar, the title as
  ``<h1>``, an info bar (信息来源/发布时间/浏览次数), one ``<p>`` per paragraph, a
  tool bar (打印本页 关闭窗口), a ``<footer>``, ``<script>`` and ``<style>``;
  optionally GBK-encoded with ``<meta charset="gbk">``.
- ``write_docx``: a Word file made with python-docx; a line made of several
  ``key: value`` metadata fields (信息来源/发布时间/浏览次数) becomes a one-row
  table, everything else one paragraph per line.
- ``write_pdf``: a PDF made with reportlab's built-in CID font STSong-Light (no
  font file needed); long lines are wrapped at the page width (so sentences break
  mid-line), every page has a running header and a "- N -" page number footer.
- ``write_gb18030``: the text encoded as GB18030 with Windows line endings.

These only write files; they check nothing. Other test modules reuse them.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "index" / "corpus" / "taizhou-2025-education-work-points.txt"

PDF_RUNNING_HEADER = "台州市教育局 政务公开 工作信息"

_META_FIELD = re.compile(r"(信息来源|来源|发布时间|发布日期|浏览次数)\s*[:：]")
_CHROME_HINT = re.compile(r"^(当前位置|>|首页\s*>|打印本页|关闭窗口)")
_TITLE_HINT = re.compile(r"^\d{4}年.{2,30}$|^关于.{2,60}$")


def corpus_text() -> str:
    """The bundled policy (UTF-8, with the site chrome lines of the page it was copied from)."""
    return CORPUS.read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _meta_cells(line: str) -> list[str]:
    """Split 'k1: v1 k2: v2' into ['k1: v1', 'k2: v2'] when it has at least two fields."""
    starts = [m.start() for m in _META_FIELD.finditer(line)]
    if len(starts) < 2 or starts[0] != 0:
        return []
    return [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)])]


def write_html(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """A saved government web page around ``text`` (see the module docstring)."""
    esc = html.escape
    crumbs, info, tools, body = [], [], [], []
    title = ""
    for line in _lines(text):
        if _CHROME_HINT.match(line):
            (tools if line.startswith(("打印本页", "关闭窗口")) else crumbs).append(line)
        elif _META_FIELD.match(line):
            info.append(line)
        elif not title and not body and _TITLE_HINT.match(line):
            title = line
        else:
            body.append(line)
    charset = "gbk" if encoding.lower().replace("-", "") in ("gbk", "gb2312", "gb18030") else encoding
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{esc(title)} - 台州市教育局</title>
<style>body {{ font-family: "SimSun"; }} .nav li {{ display: inline; }} /* 当前位置 */</style>
<script type="text/javascript">var _hmt = _hmt || []; document.write("打印本页 关闭窗口 浏览次数");</script>
</head>
<body>
<header class="top"><div class="logo">台州市教育局</div><div class="search">站内搜索</div></header>
<nav class="nav"><ul>
<li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li><li><a href="/bsfw/">办事服务</a></li>
<li><a href="/hdjl/">互动交流</a></li><li><a href="/jyzx/">教育资讯</a></li>
</ul></nav>
<div class="location">{"<br>".join(esc(c) for c in crumbs)}</div>
<div class="main">
<div class="article">
<h1 class="title">{esc(title)}</h1>
<div class="info">{"<br>".join(esc(i) for i in info)}<span id="views"></span></div>
<div class="content" id="zoom">
{chr(10).join(f"<p>{esc(p)}</p>" for p in body)}
</div>
<div class="tools">{" ".join(f'<a href="javascript:void(0)">{esc(t)}</a>' for t in tools)}</div>
<div class="pages"><p>上一篇：2024年教育工作总结</p><p>下一篇：2025年全市中小学招生工作方案</p></div>
</div>
<div class="side"><h3>相关链接</h3><ul><li><a href="#">浙江省教育厅</a></li><li><a href="#">台州市人民政府</a></li></ul></div>
</div>
<footer class="footer"><p>版权所有：台州市教育局 浙ICP备05000000号</p><p>网站标识码：3310000000</p></footer>
<script>document.getElementById("views").innerText = "1234";</script>
</body>
</html>
"""
    path.write_bytes(page.encode(encoding))
    return path


def write_docx(path: Path, text: str) -> Path:
    """A Word file: one paragraph per line, the metadata line as a one-row table."""
    import docx

    document = docx.Document()
    for line in _lines(text):
        cells = _meta_cells(line)
        if cells:
            table = document.add_table(rows=1, cols=len(cells))
            for cell, value in zip(table.rows[0].cells, cells):
                cell.text = value
        else:
            document.add_paragraph(line)
    document.save(str(path))
    return path


def _register_cid_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    name = "STSong-Light"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    return name


def _wrap(line: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    out, current = [], ""
    for ch in line:
        if current and stringWidth(current + ch, font, size) > width:
            out.append(current)
            current = ""
        current += ch
    if current:
        out.append(current)
    return out


def write_pdf(path: Path, text: str, *, header: str = PDF_RUNNING_HEADER, font_size: float = 11) -> Path:
    """A text-layer PDF: wrapped lines, a running header and '- N -' footers on every page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _register_cid_font()
    page_w, page_h = A4
    margin, leading = 60, font_size * 1.6
    c = canvas.Canvas(str(path), pagesize=A4)
    page_no = 1

    def furniture() -> None:
        c.setFont(font, 9)
        c.drawString(margin, page_h - 35, header)
        c.drawCentredString(page_w / 2, 30, f"- {page_no} -")
        c.setFont(font, font_size)

    furniture()
    y = page_h - margin - 10
    for line in _lines(text):
        for part in _wrap(line, font, font_size, page_w - 2 * margin):
            if y < margin + 10:
                c.showPage()
                page_no += 1
                furniture()
                y = page_h - margin - 10
            c.drawString(margin, y, part)
            y -= leading
        y -= leading * 0.4          # paragraph gap
    c.showPage()
    c.save()
    return path


def write_gb18030(path: Path, text: str) -> Path:
    """The text as GB18030 bytes with CRLF line endings (a file saved on Windows)."""
    path.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("gb18030"))
    return path
