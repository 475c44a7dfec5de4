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


def write_pdf(path: Path, text: str, *, header: str = PDF_RUNNING_HEADER, font_size: float = 11,
              indent: bool = False) -> Path:
    """A text-layer PDF: wrapped lines, a running header and '- N -' footers on every page; with
    ``indent`` each paragraph but a heading starts with two ideographic spaces (GB/T 9704)."""
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
        if indent and not _HEADING_LINE.match(line):
            line = "\u3000\u3000" + line
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


# --------------------------------------------------------------------------- realistic layouts
# The writers below render any text (a law from ../shared/benchmarks/stard/laws/, the bundled corpus, a
# notice) the way government sites and offices lay it out, so the loaders meet real layouts:
# - ``write_html_flat``: the whole article on one line, one <p> per paragraph and no blank lines, headings
#   inside a centred <p><strong>, tab rows as a <table>, and the site around it;
# - ``write_docx_layout``: Word with automatic list numbering ("List Number", the printed "1." removed
#   from the text) and tab rows as a real Word table;
# - ``write_pdf`` above already adds a running header and "- N -" page numbers.

_HEADING_LINE = re.compile(r"^(?:第[一二三四五六七八九十百零〇]+[编章节](?:\s|　|$)|附件\s*\d*$|附\s*则$|序\s*言$)")
_NUMBERED_LINE = re.compile(r"^\d{1,3}[.．](?!\d)\s*")


def markdown_lines(text: str) -> list[str]:
    """A markdown law as a page shows it: the '#' marks gone, one paragraph per line, no blank lines."""
    return [re.sub(r"^#{1,6}\s+", "", line) for line in _lines(text)]


def _blocks(lines: list[str]) -> list[tuple[str, object]]:
    """('p', line) / ('table', [rows of cells]) in order; consecutive tab lines are one table."""
    out: list[tuple[str, object]] = []
    for line in lines:
        if "\t" in line:
            if out and out[-1][0] == "table":
                out[-1][1].append(line.split("\t"))
            else:
                out.append(("table", [line.split("\t")]))
        else:
            out.append(("p", line))
    return out


def write_html_flat(path: Path, lines: list[str], *, site: str = "天津市教育委员会") -> Path:
    """A government page whose article body is one line of <p> elements (see above); lines[0] is the title."""
    esc = html.escape
    title, body = lines[0], lines[1:]
    parts = []
    for kind, value in _blocks(body):
        if kind == "table":
            rows = "".join("<tr>" + "".join(f"<td><p>{esc(c)}</p></td>" for c in row) + "</tr>" for row in value)
            parts.append(f'<table border="1" cellspacing="0"><tbody>{rows}</tbody></table>')
        elif _HEADING_LINE.match(value):
            parts.append(f'<p style="text-align:center"><strong>{esc(value)}</strong></p>')
        else:
            parts.append(f'<p style="text-indent:2em">{esc(value)}</p>')
    page = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{esc(title)}_{esc(site)}</title>"
        '<script>var _hmt=_hmt||[];</script><style>.nav li{display:inline}</style></head><body>'
        f'<div class="header"><div class="logo">{esc(site)}</div><div class="search">站内搜索</div></div>'
        '<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk/">政务公开</a></li>'
        '<li><a href="/zcwj/">政策文件</a></li></ul></div>'
        '<div class="position">当前位置：首页 &gt; 政务公开 &gt; 政策文件</div>'
        f'<div class="article"><h1>{esc(title)}</h1>'
        '<div class="info">发布时间：2016-03-28 信息来源：办公室 浏览次数：<span id="c">0</span></div>'
        f'<div class="TRS_Editor" id="zoom">{"".join(parts)}</div>'
        '<div class="tools"><a href="javascript:window.print()">【打印本页】</a>'
        '<a href="javascript:window.close()">【关闭窗口】</a></div></div>'
        f'<div class="footer"><p>版权所有：{esc(site)}</p><p>网站标识码：1200000000 津ICP备05000000号</p></div>'
        "</body></html>")
    path.write_text(page, encoding="utf-8")
    return path


def write_docx_layout(path: Path, lines: list[str], *, auto_numbers: bool = True) -> Path:
    """Word as offices write it: "1." items as automatic "List Number" paragraphs (``auto_numbers``),
    tab rows as a Word table."""
    import docx

    document = docx.Document()
    for kind, value in _blocks(lines):
        if kind == "table":
            table = document.add_table(rows=len(value), cols=max(len(row) for row in value))
            for r, row in enumerate(value):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif auto_numbers and _NUMBERED_LINE.match(value):
            document.add_paragraph(_NUMBERED_LINE.sub("", value), style="List Number")
        else:
            document.add_paragraph(value)
    document.save(str(path))
    return path
