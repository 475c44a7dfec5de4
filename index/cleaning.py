"""Shared text cleaning for every loader: drop site-chrome lines, read the metadata.

``clean_text(raw, doc=..., source=...)`` turns the text a loader extracted into a
``Document``:

- line endings are normalised (``\\r\\n``, ``\\r``, form feeds -> ``\\n``), each line is
  stripped of surrounding white space (ASCII, ``\\u3000``, ``\\xa0``) and runs of blank
  lines collapse to one;
- whole lines of web-page chrome are dropped and listed in ``Document.dropped``:
  当前位置/您的位置 breadcrumbs, lines starting with ">" or "首页 >", 打印本页,
  关闭窗口, 【字体：大 中 小】, 分享到, 上一篇/下一篇, 浏览次数, copyright and ICP
  lines, and the 信息来源/发布时间 info bar (after reading its values);
- metadata is read: ``title`` (the first line that looks like a document title,
  e.g. "2025年教育工作要点", "关于……的通知", "……办法"), ``office`` (信息来源/来源/
  发布机构), ``date`` (发布时间/发布日期/成文日期 as yyyy-mm-dd) and ``year`` (from
  the title's "2025年", else from the date).

It never edits inside a line: a line is either kept verbatim or dropped whole, so
numbered items stay exactly as printed, and the title line stays in the text.
It does not read files, detect encodings or join wrapped lines (the loaders do),
and it never raises: any string gives a ``Document`` (maybe with empty text).
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata

from policy_assistant.core.model import Document

__all__ = ["clean_text", "is_chrome_line", "looks_numbered", "looks_like_title", "normalise_date", "year_of",
           "finish_metadata"]

_MAX_CHROME_LEN = 160

# Keys of the info bar / the government "信息公开" table. Specific ones only: a bare
# "时间：" or "作者：" also opens body lines of notices, so those are not listed.
_OFFICE_KEYS = ("信息来源", "发布机构", "发文机关", "发布单位", "文章来源", "来源")
_DATE_KEYS = ("发布时间", "发布日期", "成文日期")
_OTHER_KEYS = ("浏览次数", "阅读次数", "访问次数", "访问量", "点击数", "点击量", "点击次数", "浏览量",
               "更新时间", "索引号", "主题分类", "组配分类", "体裁分类", "服务对象", "发文字号",
               "有效性", "公开方式", "公开范围", "统一编号", "字体", "字号")
_KEYS = sorted((*_OFFICE_KEYS, *_DATE_KEYS, *_OTHER_KEYS), key=len, reverse=True)
_KEY_RE = re.compile(r"(?:%s)\s*[:：]" % "|".join(map(re.escape, _KEYS)))
_BRACKETS = "【】[]〔〕()（）<>《》|｜/·•・,，;；-—_ \t\u3000\xa0"

# Lines that *start* with one of these are chrome.
_CHROME_START = re.compile(
    r"^[\s【\[]*(?:当前位置|您当前的位置|您现在的位置|您的位置|你的位置|你当前的位置|当前所在位置|所在位置"
    r"|首页\s*[>＞»›/]|(?:上一篇|下一篇|上一条|下一条)(?:\s*[:：]|\s*$)|上一页\s*下一页|分享到|分享至|扫一扫在手机|"
    r"打印本页|关闭窗口|【\s*字体|字体\s*[:：]|字号\s*[:：]|网站标识码|技术支持\s*[:：]|Copyright|©)",
    re.I,
)
# Lines that *contain* one of these (and are short) are chrome.
_CHROME_ANYWHERE = re.compile(r"打印本页|关闭窗口|关闭本页|版权所有|ICP备|公网安备|网站标识码|浏览次数|【\s*打印\s*】|【\s*关闭\s*】")
# Tokens a toolbar line may consist of, and nothing else.
_TOOL_TOKENS = re.compile(
    r"首页|打印本页|打印|关闭窗口|关闭本页|关闭|返回顶部|返回|收藏本页|加入收藏|收藏|设为首页|保存本页|"
    r"我要纠错|纠错|分享|大\s*中\s*小|字体|字号|默认|【|】|\[|\]|[|｜/·•\s:：]"
)
_CRUMB_SEP = re.compile(r"\s*[>＞»›]+\s*")
_SENTENCE_PUNCT = re.compile(r"[。，；！？,;!?]")

_CN_NUM = "一二三四五六七八九十百零〇两"
NUMBERED_RE = re.compile(
    r"^\s*(?:"
    rf"[（(]\s*[{_CN_NUM}]+\s*[）)]"                 # （二）
    r"|[（(]\s*\d+\s*[）)]"                          # (3)
    rf"|[{_CN_NUM}]+\s*[、．.]"                       # 一、
    rf"|第\s*[{_CN_NUM}\d]+\s*[章节条款部分篇编项]"     # 第五条
    r"|\d+\s*[.．、](?!\d)"                          # 13.   (but not 3.5)
    r"|[\u2460-\u2473\u2474-\u2487\u2488-\u249b]"    # ① ⑴ ⒈
    r"|附件\s*\d*\s*[:：]|附件\s*\d+|附件$"           # 附件1：
    r")"
)

_TITLE_END = (r"(?:要点|计划|方案|办法|规定|通知|意见|决定|批复|报告|函|公告|通告|通报|条例|细则|规则|制度|指南|"
              r"纲要|规划|总结|标准|清单|措施|安排|要求|守则|章程|公示|说明|解读|指引|名单|决议|命令|问答|公报)")
_TITLE_END_RE = re.compile(_TITLE_END + r"[)）]?$")
_STRONG_TITLE = [
    re.compile(r"^.{0,24}(?:19|20)\d{2}\s*年度?.{0,40}" + _TITLE_END + r"[)）]?$"),
    re.compile(r"^关于.{2,80}$"),
    re.compile(r"^.{2,60}" + _TITLE_END + r"(?:[(（].{1,20}[)）])?$"),
]
_NOT_TITLE_END = tuple("。；;，,：:、！!？?")
_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_YEAR_IN_TITLE = re.compile(r"(?<![\d\-–—~～至])((?:19|20)\d{2})\s*年(?!\s*[-–—~～至]\s*(?:19|20)?\d{2})")
_DOC_NUMBER = re.compile(r"^\S{1,12}[〔\[［(（]\s*(?:19|20)\d{2}\s*[〕\]］)）]\s*\d+\s*号$")
_LETTERHEAD = re.compile(r"^[^，。；：:,;、]{2,40}文件$")     # "天津市教育委员会文件" heads the page, it is no title
_STRIP = " \t\u3000\xa0\ufeff\u200b\u200c\u200d\u2060"


def looks_numbered(line: str) -> bool:
    """Whether a line opens a numbered unit: "13." "（二）" "第五条" "一、" "①" "附件1"."""
    return bool(NUMBERED_RE.match(line))


def normalise_date(value: str) -> str:
    """'2025-03-26 14:42' / '2025年3月26日' / '2025/3/26' -> '2025-03-26'; '' if no valid date."""
    for m in _DATE_RE.finditer(value or ""):
        try:
            return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            continue
    return ""


def year_of(title: str, date: str = "") -> int | None:
    """The document's year: "2025年" in the title first (not a range end), else the date's year."""
    m = _YEAR_IN_TITLE.search(title or "")
    if m:
        return int(m.group(1))
    if date and re.match(r"^\d{4}-", date):
        return int(date[:4])
    return None


def _meta_fields(line: str) -> list[tuple[str, str]] | None:
    """Parse an info-bar line 'k: v k: v ...' into fields; None unless the line is only that."""
    body = line.strip(_STRIP + "【[")
    matches = list(_KEY_RE.finditer(body))
    if not matches or matches[0].start() != 0:
        return None
    fields = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        key = re.sub(r"\s*[:：]$", "", m.group(0)).strip()
        value = body[m.end():end].strip(_BRACKETS + _STRIP)
        fields.append((key, value))
    return fields


def _is_breadcrumb(s: str) -> bool:
    """'> 政务公开 > 工作信息' or '政务公开 > 工作信息 > 计划总结': short segments, no sentences."""
    parts = _CRUMB_SEP.split(s)
    seps = len(parts) - 1
    if seps == 0 or (seps < 2 and not s.startswith((">", "＞", "»", "›"))):
        return False
    return all(len(p) <= 20 and not _SENTENCE_PUNCT.search(p) for p in parts)


def is_chrome_line(line: str) -> bool:
    """Whether a (stripped) line is web-page chrome rather than document text."""
    s = line.strip(_STRIP)
    if not s or len(s) > _MAX_CHROME_LEN:
        return False
    if _meta_fields(s) is not None:
        return True
    if _CHROME_START.match(s) or _CHROME_ANYWHERE.search(s):
        return True
    if _is_breadcrumb(s):
        return True
    return not _TOOL_TOKENS.sub("", s)


def looks_like_title(line: str) -> bool:
    """Whether a line reads like a document title ("2025年…要点", "关于…的通知", "…办法")."""
    s = line.strip(_STRIP)
    return any(p.match(s) for p in _STRONG_TITLE)


def _title_candidate(line: str) -> str:
    """The title text of a line (markdown '#'/'**' removed), or '' when it cannot be a title."""
    s = re.sub(r"^#{1,6}\s*", "", line.strip(_STRIP)).strip("*_ ").strip(_STRIP)
    if not (2 <= len(s) <= 80) or s.endswith(_NOT_TITLE_END) or looks_numbered(s):
        return ""
    if _DOC_NUMBER.match(s) or (normalise_date(s) and len(s) <= 16) or _LETTERHEAD.match(s):
        return ""
    if not any("\u4e00" <= ch <= "\u9fff" or ch.isalpha() for ch in s):
        return ""
    return s


def _find_title(lines: list[str]) -> str:
    """The first line that looks like a title among the lines before the first numbered unit.

    A markdown document's level-1 heading ("# 最高人民法院关于……的解释") is its title, however long.
    """
    first = next((line for line in lines if line), "")
    if re.match(r"^#\s+\S", first) and not looks_numbered(first[1:].strip()):
        return first[1:].strip(_STRIP)
    head: list[str] = []
    for line in lines:
        if not line:
            continue
        if looks_numbered(line) or len(head) >= 20:
            break
        head.append(line)
    candidates = [_title_candidate(x) for x in head]
    for i, c in enumerate(candidates):
        if not (c and looks_like_title(c)):
            continue
        prev = candidates[i - 1] if i else ""
        nxt = candidates[i + 1] if i + 1 < len(candidates) else ""
        if prev and "关于" in prev and not looks_like_title(prev) and len(prev + c) <= 80:
            return prev + c          # "台州市教育局关于印发" / "2025年教育工作要点的通知"
        if nxt and c.startswith("关于") and not _TITLE_END_RE.search(c) and _TITLE_END_RE.search(nxt) \
                and len(c + nxt) <= 80:
            return c + nxt           # "关于印发《……" / "……》的通知"
        return c
    for a, b in zip(candidates, candidates[1:]):   # a title printed on two lines
        if a and b and len(a) + len(b) <= 80 and looks_like_title(a + b):
            return a + b
    for c in candidates:
        if c and 4 <= len(c) <= 40:
            return c
    return ""


def finish_metadata(document: Document, *, title: str = "", office: str = "", date: str = "") -> Document:
    """Fill metadata a loader found elsewhere (e.g. an HTML <h1> or <meta>), then recompute the year.

    A given ``title`` replaces the detected one; ``office`` and ``date`` only fill gaps.
    """
    if title:
        document.title = title.strip(_STRIP)
    if office and not document.office:
        document.office = office.strip(_BRACKETS + _STRIP)
    if date and not document.date:
        document.date = normalise_date(date)
    document.year = year_of(document.title, document.date)
    return document


def clean_text(raw: str, *, doc: str, source: str) -> Document:
    """Drop chrome lines, read title/office/date/year, keep every other line verbatim."""
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\f", "\n").replace("\v", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    offices: dict[str, str] = {}
    dates: dict[str, str] = {}
    kept: list[str] = []
    dropped: list[str] = []
    for raw_line in text.split("\n"):
        line = raw_line.strip(_STRIP)
        if not line:
            if kept and kept[-1]:
                kept.append("")
            continue
        if is_chrome_line(line):
            dropped.append(line)
            for key, value in _meta_fields(line) or []:
                if key in _OFFICE_KEYS and value:
                    offices.setdefault(key, value)
                elif key in _DATE_KEYS and normalise_date(value):
                    dates.setdefault(key, normalise_date(value))
            continue
        kept.append(line)
    while kept and not kept[-1]:
        kept.pop()
    office = next((offices[k] for k in _OFFICE_KEYS if k in offices), "")
    date = next((dates[k] for k in _DATE_KEYS if k in dates), "")
    body = "\n".join(kept)
    body = "".join(ch for ch in body if unicodedata.category(ch) != "Cs")   # lone surrogates cannot be stored
    title = _find_title(kept)
    document = Document(doc=doc, text=body, source=source, title=title, office=office, date=date, dropped=dropped)
    document.year = year_of(title, date)
    return document
