"""Split a cleaned policy document into citable items, keeping the hierarchy.

What it does
    ``chunk_document(document) -> list[Item]`` cuts ``document.text`` at its own
    numbering: 第一编/第一部分/第一章/第一节/第一条 · 一、 · （一）/(一) ·
    1. 1、 1． · （1）/(1) · ⑴ · ① — nested in any combination. The hierarchy is
    inferred from the order in which the styles first appear, not from a fixed
    table: a style seen first is higher, and a new style ranks right below the
    unit it first appears in. "1、" and "1." that alternate as siblings are one
    level. Two pieces of legal knowledge sit on top: 编/部分 > 章 > 节 > 条, and an
    article (第N条) is always one citable unit, so whatever is numbered inside it
    stays in its text.

    A line counts as a numbered unit only at the start of a line and only when
    its number fits the sequence (the next sibling, a first child, or numbering
    that runs on across sections); "1.5亿元", "2025年", "一、二、三级",
    "第三条规定的…" and sub-points inside an article stay body text.

    The citable item is the innermost numbered unit that carries body text.
    A heading-only unit with children ("五、聚力推进公共服务优享") becomes a heading
    of its descendants; when such a unit also has an intro paragraph before its
    children, that paragraph is an item of the unit itself. Text before the first
    numbered unit (after the title) is the item "引言". An unnumbered line belongs
    to the unit above it. Wrapped lines (no sentence-final punctuation at the end)
    are joined without a space; other line breaks are kept as "\\n", so
    ``text.replace("\\n", "")`` is a substring of the source with its line breaks
    (and the indentation around them) removed.

    Markdown headings ("# 第一编 总则", "## 第一章 总则", "### 第一节 …", as the
    laws of ``../shared/benchmarks/stard/laws/`` are written) are headings whatever
    they say: the "#" marks are dropped, a numbered one is a unit of its style, and
    an unnumbered one ("## 序言", "## 附则") is a unit named by its text that holds
    what follows until the next heading of its level or above. A heading wrapped
    onto the next line ("…、" + "…的生产和销售") is joined. The adoption/amendment
    record under a law's title (lines right after the title that open with a full
    date: "1984年3月12日 …会议通过", "（2025年2月18日…通过）") is residue, not an item.

    ``item`` is the label as printed without its separator ("12", "（三）",
    "第五条", "①"); where a label occurs more than once in the document, the
    enclosing labels are prefixed, as few as make it unique ("二（三）",
    "三（一）2"; "1.2" when two bare numbers meet). ``path`` keeps every label.

    ``chunk_with_residue`` also returns everything that is not in an item text
    (title lines, the adoption record, heading lines and their "#" marks, the printed labels "12." / "（一）", a closing
    issuer/date block), so that every non-whitespace character of the input is
    accounted for exactly once.

What it does not do
    No I/O, no cleaning of site chrome (当前位置/打印本页 are the loader's job), no
    metadata extraction (the title line is only recognised: ``document.title``,
    or a first line named like a policy, "……通知/意见/办法/要点"), no token
    windows: an item is never split however long it is. Decimal outlines
    ("1.1", "1.2.3"), "一是/二是" and unnumbered bold headings are not numbering;
    attachments (附件) after the last item stay in the last item.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict

from policy_assistant.core.model import Document, Item

__all__ = ["chunk_document", "chunk_with_residue"]

PREAMBLE = "引言"

_CN = "一二三四五六七八九十"
_DIGIT = "0-9０-９"

# One alternation, tried with .match() on a stripped line. Group names carry the style.
_LABEL_RE = re.compile(
    rf"""
    (?P<art>第(?P<artnum>[{_CN}百千零〇两{_DIGIT}]{{1,7}})(?P<unit>部分|编|章|节|条)
        (?![的之至和及或、，,款项第中所课]|规定))
  | (?P<cnp>[（(][ \t\u3000]*(?P<cnpnum>[{_CN}]{{1,3}})[ \t\u3000]*[）)](?:[ \t\u3000]*、)?)
  | (?P<arp>[（(][ \t\u3000]*(?P<arpnum>[{_DIGIT}]{{1,3}})[ \t\u3000]*[）)](?:[ \t\u3000]*、)?)
  | (?P<cn>(?P<cnnum>[{_CN}]{{1,3}})[ \t\u3000]*(?:、|[.．](?![{_DIGIT}])))
        (?![ \t\u3000]*[{_CN}]{{1,3}}[、.．])
  | (?P<ard>(?P<ardnum>[{_DIGIT}]{{1,3}})[ \t\u3000]*[.．](?![{_DIGIT}.．]))
  | (?P<arn>(?P<arnnum>[{_DIGIT}]{{1,3}})[ \t\u3000]*、)(?![ \t\u3000]*[{_DIGIT}]{{1,3}}[、.．])
  | (?P<circ>[\u2460-\u2473\u3251-\u325f\u32b1-\u32bf])
  | (?P<pd>[\u2474-\u2487])
    """,
    re.VERBOSE,
)

# Ranks among the "第X…" styles are fixed; everything else ranks by first appearance.
_GROUP_ORDER = {"第编": 0, "第部分": 1, "第章": 2, "第节": 3, "第条": 4}
_ARTICLE = "第条"
# Styles that are one family: alternating "1." / "2、" siblings are the same level.
_FAMILY = {"ard": "arabic", "arn": "arabic"}

_MD_PLAIN = "md"   # the style of an unnumbered markdown heading
_MD_HEADING_RE = re.compile(r"^(#{1,6})[ \t\u3000]+(\S.*?)[ \t\u3000]*$")

_TERMINAL = frozenset("。！？；：!?;:…")
_CLOSERS = "”’」』）)》〉】\"'"
_OPEN_END = frozenset("，,、（(《“‘—/～")  # a line ending like this is certainly mid-sentence
_HEADING_BREAKERS = frozenset("。！？；!?;")
_SEPARATORS = "、.．"
_HEADING_MAX = 30
_HEADING_MAX_WITH_COMMA = 20
_WS_RE = re.compile(r"\s+")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}


def _number(s: str) -> int | None:
    """'十二' -> 12, '一百零三' -> 103, '５' -> 5; None when it is not a plain number."""
    if s.isdigit():
        try:
            return int(s)
        except ValueError:
            return None
    total, num, has_unit = 0, 0, False
    for ch in s:
        if ch in _CN_DIGITS:
            num = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            has_unit = True
            total += (num or 1) * _CN_UNITS[ch]
            num = 0
        else:
            return None
    if len(s) > 1 and not has_unit:
        return None  # "一二" is not a number
    return total + num


def _terminated(line: str) -> bool:
    """Whether a line ends a sentence (so the next line starts a new one)."""
    s = line.rstrip(_CLOSERS)
    if not s:
        return True  # a line made only of closing marks: do not glue onto it
    return s[-1] in _TERMINAL


def _heading_like(rest: str) -> bool:
    """A short label-line text without sentence punctuation inside: a heading."""
    if not rest or len(rest) > _HEADING_MAX or rest[-1] in _OPEN_END:
        return False
    if len(rest) > _HEADING_MAX_WITH_COMMA and ("，" in rest or "," in rest):
        return False  # more likely the first line of a wrapped sentence
    return not any(ch in _HEADING_BREAKERS for ch in rest[:-1])


def _short_heading(line: str, raw_label: str, rest: str) -> str:
    """The heading part of a 'heading。body' line, for the headings of its children."""
    for i, ch in enumerate(rest):
        if ch in _TERMINAL:
            if i <= 40:
                return (raw_label + rest[:i]).strip()
            break
    return line if len(line) <= 40 else line[:40]


class _Cand:
    __slots__ = ("style", "family", "value", "raw_label", "rest")

    def __init__(self, style, family, value, raw_label, rest):
        self.style, self.family, self.value = style, family, value
        self.raw_label, self.rest = raw_label, rest


def _candidate(line: str) -> _Cand | None:
    m = _LABEL_RE.match(line)
    if m is None:
        return None
    kind = m.lastgroup
    if kind == "art" or m.group("art"):
        kind = "art"
        style = "第" + m.group("unit")
        value = _number(m.group("artnum"))
    elif kind in ("cnp", "arp", "cn", "ard", "arn"):
        value = _number(m.group(kind + "num"))
        style = kind
    elif kind == "circ":
        o = ord(m.group("circ"))
        value = (o - 0x2460 + 1 if o <= 0x2473 else
                 o - 0x3251 + 21 if o <= 0x325F else o - 0x32B1 + 36)
        style = "circ"
    else:  # pd: ⑴..⒇
        value = ord(m.group("pd")) - 0x2474 + 1
        style = "pd"
    if not value:
        return None
    raw = m.group(0)
    return _Cand(style, _FAMILY.get(kind), value, raw, line[len(raw):].strip())


class _Node:
    __slots__ = ("style", "value", "raw_label", "label", "line", "rest", "body", "children",
                 "last_child", "md")

    def __init__(self, style, value, raw_label, line, rest, md=None):
        self.style, self.value, self.raw_label = style, value, raw_label
        self.md = md                      # markdown heading level, None for an ordinary line
        self.label = _WS_RE.sub("", raw_label).rstrip(_SEPARATORS)
        self.line, self.rest = line, rest
        self.body: list[tuple[str, bool]] = []  # (line, starts a new paragraph)
        self.children: list[_Node] = []
        self.last_child: dict[str, int] = {}  # style/family -> value of the last such child


class _Tree:
    """Builds the numbered tree line by line; decides which labels are real."""

    def __init__(self):
        self.root = _Node(None, 0, "", "", "")
        self.stack: list[_Node] = []
        self.ranks: list[str] = []          # styles, highest first
        self.rank_of: dict[str, int] = {}
        self.last_value: dict[str, int] = {}  # per style and per family, anywhere in the doc
        self.any_label = False
        self.aliases: dict[str, str] = {}   # "1、" ranked like "1." when they alternate

    # -- ranks -------------------------------------------------------------
    def _rank(self, style: str) -> int | None:
        return self.rank_of.get(style)

    def _add_style(self, style: str) -> None:
        if style in _GROUP_ORDER:
            pos = len(self.ranks)
            for i, s in enumerate(self.ranks):
                if s in _GROUP_ORDER and _GROUP_ORDER[s] > _GROUP_ORDER[style]:
                    pos = i
                    break
            self.ranks.insert(pos, style)
        elif any(n.style in self.rank_of for n in self.stack):
            # a new style first appears as a child of the open unit: it ranks right below it
            top = next(n.style for n in reversed(self.stack) if n.style in self.rank_of)
            top = self.aliases.get(top, top)
            self.ranks.insert(self.ranks.index(top) + 1, style)
        else:
            self.ranks.append(style)
        self.rank_of = {s: i for i, s in enumerate(self.ranks)}
        for s, target in self.aliases.items():
            self.rank_of[s] = self.rank_of[target]

    # -- acceptance --------------------------------------------------------
    def _article_open(self) -> bool:
        return any(n.style == _ARTICLE for n in self.stack)

    def _ran_on(self, c: _Cand) -> bool:
        for key in (c.style, c.family):
            last = self.last_value.get(key) if key else None
            if last is not None and last < c.value <= last + 2:
                return True
        return False

    def offer(self, c: _Cand, line: str, md: int | None = None) -> bool:
        """Accept ``c`` as a numbered unit (and push it) or refuse it (it is body text).

        ``md`` is the markdown heading level when the line is a ``## …`` heading.
        """
        stack = self.stack
        # 1. a sibling of a unit that is open
        for i in range(len(stack) - 1, -1, -1):
            n = stack[i]
            same = n.style == c.style
            alias = (not same and c.family is not None and _FAMILY.get(n.style) == c.family
                     and c.value == n.value + 1)
            if same or alias:
                if not (n.value < c.value <= n.value + 2):
                    return False
                if alias and c.style not in self.rank_of:
                    self.aliases[c.style] = n.style
                    self.rank_of[c.style] = self.rank_of[n.style]
                del stack[i:]
                self._push(c, line, md)
                return True
        # 2. a first (or running-on) unit of its style below some open unit
        rank = self._rank(c.style)
        article_rank = self._rank(_ARTICLE)
        if rank is None:
            if c.value != 1 and self.any_label:
                return False
            if self._article_open() and c.style not in _GROUP_ORDER:
                return False
            self._add_style(c.style)
            rank = self.rank_of[c.style]
        else:
            if c.value != 1 and not self._ran_on(c):
                return False
            if article_rank is not None and rank > article_rank and self._article_open():
                return False
        j = len(stack)
        while j and self._closes(stack[j - 1], rank, md):
            j -= 1
        parent = stack[j - 1] if j else self.root
        for key in (c.style, c.family):
            if key and parent.last_child.get(key, 0) >= c.value:
                return False  # a second "1." under the same parent: not a new unit
        del stack[j:]
        self._push(c, line, md)
        return True

    def _closes(self, open_node: _Node, rank: int, md: int | None) -> bool:
        """Whether a new unit of ``rank`` (markdown level ``md``) closes ``open_node``."""
        if open_node.style == _MD_PLAIN:   # "## 附则": closed only by a heading of its level or above
            return md is not None and md <= open_node.md
        return self.rank_of.get(open_node.style, 0) >= rank

    def push_plain_heading(self, text: str, md: int) -> None:
        """An unnumbered markdown heading ("## 序言", "## 附则"): a unit named by its text.

        It closes every open unit down to the nearest markdown heading of a higher level.
        """
        while self.stack and not (self.stack[-1].md is not None and self.stack[-1].md < md):
            self.stack.pop()
        node = _Node(_MD_PLAIN, 0, text, text, "", md)
        (self.stack[-1] if self.stack else self.root).children.append(node)
        self.stack.append(node)
        self.any_label = True

    def _push(self, c: _Cand, line: str, md: int | None = None) -> None:
        node = _Node(c.style, c.value, c.raw_label, line, c.rest, md)
        parent = self.stack[-1] if self.stack else self.root
        parent.children.append(node)
        parent.last_child[c.style] = c.value
        if c.family:
            parent.last_child[c.family] = c.value
        self.stack.append(node)
        self.last_value[c.style] = c.value
        if c.family:
            self.last_value[c.family] = c.value
        self.any_label = True

    def add_body(self, line: str, new_paragraph: bool) -> None:
        (self.stack[-1] if self.stack else self.root).body.append((line, new_paragraph))


_TITLE_RE = re.compile(
    r"(通知|意见|办法|方案|要点|规定|规划|计划|条例|细则|决定|公告|通告|通报|批复|函|纲要|标准|指南"
    r"|清单|报告|总结|制度|规则|章程|守则|须知)[》”]?(?:[（(][^（）()]{1,20}[）)])?$")


def _title_lines(lines: list[str], title: str) -> tuple[set[int], str]:
    """Indices of the lines (before the first numbered line) that print the title."""
    head: list[int] = []
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            continue
        if _candidate(s) is not None or len(head) >= 20:
            break
        head.append(i)
    if not head:
        return set(), ""
    norm = _WS_RE.sub("", title).strip("《》") if title else ""
    if norm:
        for a in range(len(head)):
            joined = ""
            for b in range(a, min(a + 3, len(head))):
                joined += _WS_RE.sub("", lines[head[b]])
                if joined.strip("《》") == norm:
                    return set(head[a:b + 1]), title
                if len(joined) > len(norm) + 2:
                    break
    # otherwise: a short first line named like a policy document, with text after it
    first = lines[head[0]].strip()
    has_more = len(head) > 1 or any(s.strip() for s in lines[head[0] + 1:])
    if has_more and len(first) <= 60 and _TITLE_RE.search(first) and not any(
            ch in "。，；,;" for ch in first):
        return {head[0]}, first
    return set(), ""


_DATE_LINE_RE = re.compile(
    r"^[0-9０-９〇零一二三四五六七八九]{4}[ \t\u3000]*年[ \t\u3000]*[0-9０-９一二三四五六七八九十]{1,2}"
    r"[ \t\u3000]*月[ \t\u3000]*[0-9０-９〇一二三四五六七八九十]{1,3}[ \t\u3000]*日$")


_RECORD_RE = re.compile(
    r"^[（(]?[ \t\u3000]*[0-9０-９〇零一二三四五六七八九]{4}[ \t\u3000]*年[ \t\u3000]*[0-9０-９一二三四五六七八九十]{1,2}"
    r"[ \t\u3000]*月[ \t\u3000]*[0-9０-９〇一二三四五六七八九十]{1,3}[ \t\u3000]*日")


def _record_lines(lines: list[str], title_idx: set[int]) -> set[int]:
    """The adoption/amendment record under a law's title ("1984年3月12日 …会议通过",
    "（2025年2月18日…审议通过　自2025年4月1日起施行）"): the lines right after the
    title that each open with a full date. They are metadata, not an item."""
    if not title_idx:
        return set()
    found: set[int] = set()
    for i in range(max(title_idx) + 1, len(lines)):
        s = lines[i].strip()
        if not s:
            continue
        if not _RECORD_RE.match(s) or _candidate(s) is not None:
            break
        found.add(i)
    return found


def _signature_lines(lines: list[str]) -> set[int]:
    """The closing issuer/date block ("台州市教育局" / "2025年3月20日"): not part of the last item."""
    tail: list[int] = []
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            tail.append(i)
            if len(tail) == 4:
                break
    if len(tail) < 2 or not _DATE_LINE_RE.match(lines[tail[0]].strip()):
        return set()
    found = {tail[0]}
    for i in tail[1:3]:
        s = lines[i].strip()
        if (len(s) > 30 or _terminated(s) or _candidate(s) is not None
                or any(ch in "，。；,;" for ch in s)):
            break
        found.add(i)
    if len(found) == len(tail):
        return set()  # nothing but the block: leave the text alone
    return found


def _join(segments: list[tuple[str, bool]]) -> str:
    """Join lines: a wrapped line is glued to the next; other breaks stay as newlines."""
    out: list[str] = []
    prev = None
    for text, new_paragraph in segments:
        if prev is not None:
            if new_paragraph or _terminated(prev):
                out.append("\n")
        out.append(text)
        prev = text
    return "".join(out)


def chunk_with_residue(document: Document) -> tuple[list[Item], list[str]]:
    """Items of ``document`` plus every fragment not in an item text.

    The residue holds, in document order, the title line(s), the heading lines of
    units that have children ("五、聚力推进公共服务优享"), and the printed labels of the
    items ("12.", "（一）", "第五条"). Together with the item texts it contains every
    non-whitespace character of ``document.text`` exactly once.
    """
    text = document.text or ""
    if not text.strip():
        return [], []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    residue: list[str] = []
    md_level: dict[int, int] = {}    # line index -> markdown heading level ("## 第一章 总则" -> 2)
    for i, raw in enumerate(lines):
        m = _MD_HEADING_RE.match(raw.strip())
        if m:
            md_level[i] = len(m.group(1))
            residue.append(m.group(1))
            lines[i] = m.group(2)
    for i in md_level:                # "## 第五章 卷烟纸、滤嘴棒、" + "烟草专用机械的生产和销售"
        if lines[i][-1] in _OPEN_END:
            j = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
            if (j is not None and j not in md_level and _candidate(lines[j].strip()) is None
                    and len(lines[j].strip()) <= _HEADING_MAX):
                lines[i], lines[j] = lines[i] + lines[j].strip(), ""
    title_idx, title = _title_lines(lines, document.title or "")
    record_idx = _record_lines(lines, title_idx)
    signature_idx = _signature_lines(lines) - title_idx - record_idx

    tree = _Tree()
    prev: str | None = None          # the previous non-empty line's text (None after a blank)
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            prev = None
            continue
        if i in title_idx or i in record_idx:
            residue.append(s)
            prev = None
            continue
        if i in signature_idx:
            continue
        c = _candidate(s)
        md = md_level.get(i)
        if md is not None:                    # a markdown heading is a heading, whatever it says
            if c is None or not tree.offer(c, s, md):
                tree.push_plain_heading(s, md)
            prev = None
            continue
        if c is None:
            tree.add_body(s, False)
            prev = s
            continue
        if prev is not None and prev[-1] in _OPEN_END:
            tree.add_body(s, False)           # a wrapped line that happens to start with "3、"
            prev = s
            continue
        if (prev is not None and c.style in ("第条", "第章", "第节") and len(prev) >= 25
                and not _terminated(prev)):
            tree.add_body(s, False)           # "…按照本办法\n第三条规定的…"
            prev = s
            continue
        if tree.offer(c, s):
            prev = c.rest or None
        else:
            tree.add_body(s, True)
            prev = s

    items: list[Item] = []
    paths: list[list[str]] = []
    doc_title = document.title or title

    def emit(text_: str, path: list[str], headings: list[str]) -> None:
        items.append(Item(
            doc=document.doc, item=path[-1], path=list(path), text=text_, title=doc_title,
            year=document.year, section=headings[0] if headings else "",
            headings=list(headings), source=document.source, office=document.office,
            date=document.date, order=len(items)))
        paths.append(list(path))

    if tree.root.body:
        emit(_join(tree.root.body), [PREAMBLE], [])

    labels: Counter[str] = Counter()

    def walk(node: _Node, path: list[str], headings: list[str]) -> None:
        path = [*path, node.label]
        labels[_same_label(node.label)] += 1
        if node.md is not None and not node.children:
            # a markdown heading over plain paragraphs ("## 序言"): the heading names the item
            residue.append(node.line)
            if node.body:
                emit(_join(node.body), path, [*headings, node.line])
            return
        if node.style == _ARTICLE or not node.children:
            segs = ([(node.rest, False)] if node.rest else []) + node.body
            if node.rest and node.body and node.style != _ARTICLE and _heading_like(node.rest):
                segs[1] = (segs[1][0], True)
            body = _join(segs)
            if body:
                residue.append(node.raw_label)
                emit(body, path, headings)
            else:
                residue.append(node.line)
            for child in node.children:  # cannot happen for articles (leaf), kept for safety
                walk(child, path, headings)
            return
        if node.md is not None or not node.rest or _heading_like(node.rest):
            residue.append(node.line)
            own_heading = node.line
            segs = node.body
        else:
            residue.append(node.raw_label)
            own_heading = _short_heading(node.line, node.raw_label, node.rest)
            segs = [(node.rest, False), *node.body]
        child_headings = [*headings, own_heading]
        if segs:
            emit(_join(segs), path, child_headings)
        for child in node.children:
            walk(child, path, child_headings)

    for top in tree.root.children:  # pre-order: the order the lines came in
        walk(top, [], [])
    residue.extend(lines[i].strip() for i in sorted(signature_idx))

    _make_unique(items, paths, labels)
    return items, residue


_HALF_TO_FULL = str.maketrans("()", "（）")


def _same_label(label: str) -> str:
    """Labels that read the same: "(1)" and "（1）"."""
    return label.translate(_HALF_TO_FULL)


def _joined(labels: list[str]) -> str:
    """Enclosing labels + own label without separator ("二（三）"), but "1.2" for 1 → 2."""
    out = labels[0]
    for label in labels[1:]:
        if out[-1:].isdigit() and label[:1].isdigit():
            out += "."
        out += label
    return out


def _make_unique(items: list[Item], paths: list[list[str]], labels: Counter[str]) -> None:
    """Prefix repeated labels with the enclosing ones: the shortest unique suffix of the path.

    ``labels`` counts every numbered unit's label in the document (headings included), so
    "（一）" is prefixed ("四（一）") when other sections have a "（一）" too.
    """
    # identical paths cannot normally happen; guard anyway, the path is the item's key
    seen: Counter[tuple[str, ...]] = Counter()
    for it, p in zip(items, paths):
        key = tuple(p)
        seen[key] += 1
        if seen[key] > 1:
            p[-1] = f"{p[-1]}#{seen[key]}"
            it.path = list(p)
    depth = [2 if labels[_same_label(p[-1])] > 1 and len(p) > 1 else 1 for p in paths]
    names = [_joined(p[-d:]) for p, d in zip(paths, depth)]
    for _ in range(64):
        groups: dict[str, list[int]] = defaultdict(list)
        for i, n in enumerate(names):
            groups[_same_label(n)].append(i)
        changed = False
        for members in groups.values():
            if len(members) < 2:
                continue
            for i in members:
                p = paths[i]
                if (labels[_same_label(p[-1])] > 1 or depth[i] > 1) and depth[i] < len(p):
                    depth[i] += 1
                    names[i] = _joined(p[-depth[i]:])
                    changed = True
        if not changed:
            break
    counts = Counter(_same_label(n) for n in names)
    for i, it in enumerate(items):
        if counts[_same_label(names[i])] > 1 and depth[i] > 1:
            names[i] = "/".join(paths[i])
        it.item = names[i]


def chunk_document(document: Document) -> list[Item]:
    """The citable items of ``document`` in document order (see the module docstring)."""
    return chunk_with_residue(document)[0]
