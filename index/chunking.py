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
    numbered unit (after the title and the frame) is the item "前言", the purpose
    paragraph ("为……，现就……通知如下："). An unnumbered line belongs to the unit
    above it. Wrapped lines (no sentence-final punctuation at the end) are joined
    without a space; table rows (tab-joined cells) never are; other line breaks are
    kept as "\\n", so
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

    The frame of an official document (``index.frame``: letterhead, 文号, addressees,
    signature and date, the list of attachments, 此件主动公开, 印发/抄送 lines) is set
    aside as metadata; an item's ``office``/``date`` come from the signature when the
    loader found none. Attachments after the signature are their own parts: one item
    "附件1" (a table stays one row per line), or, when numbered inside, items
    "附件1/一" with path ["附件1", "一"]. ``split_document`` returns all of it as a
    ``Chunked``, with warnings: numbering that goes backwards or repeats (the line is
    kept as text of the unit above), and a document without any numbering (indexed as
    paragraphs "第1段", "第2段" …).

    ``item`` is the label as printed without its separator ("12", "（三）",
    "第五条", "①"); where a label occurs more than once in the document, the
    enclosing labels are prefixed, as few as make it unique ("二（三）",
    "三（一）2"; "1.2" when two bare numbers meet). ``path`` keeps every label.

    ``chunk_with_residue`` also returns everything that is not in an item text
    (title lines, the frame, heading lines and their "#" marks, attachment headings,
    the printed labels "12." / "（一）"), so that every non-whitespace character of the
    input is accounted for exactly once.

What it does not do
    No I/O, no cleaning of site chrome (当前位置/打印本页 are the loader's job); the
    title line is only recognised (``document.title``, a markdown "# " line, or a first
    line named like a policy, "……通知/意见/办法/要点"); no token windows: an item is
    never split however long it is. Decimal outlines ("1.1", "1.2.3"), "一是/二是"
    and unnumbered bold headings are not numbering. Articles run together on one line
    ("第一条 …。 第二条 …。") are split only where their numbers run on one by one.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from policy_assistant.core.model import Document, Item
from policy_assistant.core.numerals import cn_to_int
from policy_assistant.index.frame import find_frame

__all__ = ["Chunked", "chunk_document", "chunk_with_residue", "split_document"]

PREAMBLE = "前言"

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
        value = cn_to_int(m.group("artnum"), positional=False)
    elif kind in ("cnp", "arp", "cn", "ard", "arn"):
        value = cn_to_int(m.group(kind + "num"), positional=False)
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
        self.lineno = 0                     # the line being offered, for warnings
        self.warnings: list[str] = []
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
                    if c.value <= n.value and same:
                        self.warnings.append(
                            f"line {self.lineno}: {c.raw_label.strip()} does not continue the numbering after "
                            f"{n.label}; kept as text of the unit above")
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


def _title_lines(lines: list[str], title: str, skip: set[int] = frozenset()) -> tuple[set[int], str]:
    """Indices of the lines (before the first numbered line, not in ``skip``) that print the title."""
    head: list[int] = []
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s or i in skip:
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


def _table_row(line: str) -> bool:
    """A table row as the loaders hand it over: cells joined by tabs (or a markdown "| a | b |")."""
    return "\t" in line or line.startswith("|")


def _join(segments: list[tuple[str, bool]]) -> str:
    """Join lines: a wrapped line is glued to the next; other breaks (and table rows) stay newlines."""
    out: list[str] = []
    prev = None
    for text, new_paragraph in segments:
        if prev is not None:
            if new_paragraph or _terminated(prev) or _table_row(prev) or _table_row(text):
                out.append("\n")
        out.append(text)
        prev = text
    return "".join(out)


@dataclass
class Chunked:
    """Everything the chunker makes of one document."""

    items: list[Item]
    residue: list[str]              # every fragment not in an item text (see ``chunk_with_residue``)
    set_aside: list[str]            # header/footer lines: letterhead, number, addressees, signature, ...
    metadata: dict                  # number, issuer, date, addressees, record, attachments (names)
    warnings: list[str]


def _grow(tree: "_Tree", lines: list[str], indices: list[int], md_level: dict[int, int]) -> None:
    """Feed the lines ``indices`` of ``lines`` to ``tree`` (blank lines end a paragraph)."""
    prev: str | None = None          # the previous non-empty line's text (None after a blank)
    last = None
    for i in indices:
        if last is not None and i != last + 1 and any(not lines[k].strip() for k in range(last + 1, i)):
            prev = None
        last = i
        s = lines[i].strip()
        if not s:
            prev = None
            continue
        tree.lineno = i + 1
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
                and not _terminated(prev) and not _parenthetical(prev)
                and not (c.style != _ARTICLE and _heading_like(c.rest))):
            tree.add_body(s, False)           # "…按照本办法\n第三条规定的…"
            prev = s
            continue
        if tree.offer(c, s):
            prev = c.rest or None
        else:
            tree.add_body(s, True)
            prev = s


_RUN_ON_ARTICLE = re.compile(rf"(?<=[。；！？”])[ \t\u3000]+(?=第[{_CN}百千零〇两]{{1,7}}条[ \t\u3000])")
_ARTICLE_AT = re.compile(rf"^第([{_CN}百千零〇两]{{1,7}})条[ \t\u3000]")
_ARTICLE_NUMBER = re.compile(rf"第([{_CN}百千零〇两]{{1,7}})条")


def _split_run_on_articles(lines: list[str]) -> list[str]:
    """"第一条 …。 第二条 …。" on one line (a source that flattened its paragraphs) becomes one line per
    article, cut only before the article whose number follows the last one cut; only the spaces
    between them are dropped, and "…第二条规定的…" (no sentence end before it) is never a cut."""
    out: list[str] = []
    for line in lines:
        first = _ARTICLE_AT.match(line.strip())
        last = cn_to_int(first.group(1), positional=False) if first else None
        if last is None or not _RUN_ON_ARTICLE.search(line):
            out.append(line)
            continue
        start = 0
        for m in _RUN_ON_ARTICLE.finditer(line):
            number = cn_to_int(_ARTICLE_NUMBER.match(line, m.end()).group(1), positional=False)
            if number == last + 1:
                out.append(line[start:m.start()])
                start, last = m.end(), number
        out.append(line[start:])
    return out


def _parenthetical(line: str) -> bool:
    """A whole line in brackets ("（2016年…通过）"): complete, whatever its last word."""
    return line[:1] in "（(" and line[-1:] in "）)"


def split_document(document: Document) -> Chunked:
    """Items, residue, the set-aside frame, document metadata and warnings of ``document``."""
    text = document.text or ""
    if not text.strip():
        return Chunked([], [], [], {}, [])
    lines = _split_run_on_articles(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
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

    found_title = [""]

    def find_title(skip: set[int]) -> set[int]:
        idx, found_title[0] = _title_lines(lines, document.title or "", skip)
        first = next((i for i, raw in enumerate(lines) if raw.strip()), None)
        if not idx and md_level.get(first) == 1 and _candidate(lines[first].strip()) is None:
            idx, found_title[0] = {first}, lines[first].strip()   # "# 最高人民法院关于……的解释"
        return idx

    frame, title_idx = find_frame(lines, lambda s: _candidate(s) is not None, find_title, set(md_level))
    title = found_title[0]
    in_attachment = {j for a in frame.attachments for j in (*a.heading, *a.body)}
    warnings: list[str] = []
    doc_title = document.title or title
    office = document.office or frame.metadata.get("issuer", "")
    date = document.date or _iso_date(frame.metadata.get("date", ""))

    residue.extend(lines[i].strip() for i in sorted(title_idx))
    main = [i for i in range(len(lines))
            if i not in title_idx and i not in frame.kinds and i not in in_attachment]
    tree = _Tree()
    _grow(tree, lines, main, md_level)
    warnings.extend(tree.warnings)

    items: list[Item] = []

    def make(text_: str, path: list[str], headings: list[str]) -> Item:
        return Item(doc=document.doc, item=path[-1], path=list(path), text=text_, title=doc_title,
                    year=document.year, section=headings[0] if headings else "",
                    headings=list(headings), source=document.source, office=office, date=date,
                    number=frame.metadata.get("number", ""))

    if not tree.root.children and tree.root.body and not frame.attachments:
        paragraphs = [p for p in _join(tree.root.body).split("\n") if p.strip()]
        if len(paragraphs) > 1 or not (frame.kinds or title_idx):
            warnings.append(f"no numbering found; indexed as {len(paragraphs)} paragraph(s)")
            part = [make(p, [f"第{n}段"], []) for n, p in enumerate(paragraphs, 1)]
            items.extend(part)
            tree.root.body = []
    part, labels = _emit(tree, make, residue)
    warnings.extend(_make_unique(part, labels))
    items.extend(part)

    for attachment in frame.attachments:
        heading = "".join(lines[j].strip() for j in attachment.heading[:1])
        heading_text = "　".join(lines[j].strip() for j in attachment.heading)
        residue.extend(lines[j].strip() for j in attachment.heading)
        sub = _Tree()
        _grow(sub, lines, attachment.body, md_level)
        warnings.extend(f"{attachment.label}: {w}" for w in sub.warnings)
        if not sub.root.children:
            if sub.root.body:
                items.append(make(_join(sub.root.body), [attachment.label], [heading_text]))
            continue
        part, labels = _emit(sub, make, residue, heading=heading_text)
        warnings.extend(_make_unique(part, labels))
        for it in part:
            it.path = [attachment.label, *it.path]
            it.item = f"{attachment.label}/{it.item}"
        items.extend(part)
        del heading

    for i in sorted(frame.kinds):
        residue.append(lines[i].strip())
    for n, it in enumerate(items):
        it.order = n
    seen: Counter[str] = Counter(it.item for it in items)
    for label, count in seen.items():
        if count > 1:  # cannot normally happen: labels are made unique per part
            warnings.append(f"label {label} occurs {count} times")
    metadata = dict(frame.metadata)
    if doc_title:
        metadata.setdefault("title", doc_title)
    return Chunked(items, residue, frame.set_aside(lines), metadata, warnings)


def _iso_date(value: str) -> str:
    m = re.match(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日", value or "")
    return f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else ""


def _emit(tree: "_Tree", make, residue: list[str], heading: str = "") -> tuple[list[Item], Counter]:
    """The items of a grown tree, in document order, and the count of every unit label."""
    items: list[Item] = []
    labels: Counter[str] = Counter()
    top = [heading] if heading else []

    def emit(text_: str, path: list[str], headings: list[str]) -> None:
        items.append(make(text_, path, headings))

    if tree.root.body:
        emit(_join(tree.root.body), [PREAMBLE], list(top))

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

    for node in tree.root.children:  # pre-order: the order the lines came in
        walk(node, [], list(top))
    return items, labels


def chunk_with_residue(document: Document) -> tuple[list[Item], list[str]]:
    """Items of ``document`` plus every fragment not in an item text.

    The residue holds the title line(s), the header/footer frame (letterhead, number,
    addressees, record, signature, date, 印发/抄送), the heading lines of units that have
    children ("五、聚力推进公共服务优享") and of attachments, markdown "#" marks, and the
    printed labels of the items ("12.", "（一）", "第五条"). Together with the item texts it
    contains every non-whitespace character of ``document.text`` exactly once.
    """
    chunked = split_document(document)
    return chunked.items, chunked.residue


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


def _make_unique(items: list[Item], labels: Counter[str]) -> list[str]:
    """Prefix repeated labels with the enclosing ones: the shortest unique suffix of the path.

    ``labels`` counts every numbered unit's label in the document (headings included), so
    "（一）" is prefixed ("四（一）") when other sections have a "（一）" too.
    """
    # identical paths cannot normally happen (a repeated label is refused as a unit); guard anyway,
    # the path is the item's key
    warnings: list[str] = []
    paths = [list(it.path) for it in items]
    seen: Counter[tuple[str, ...]] = Counter()
    for it, p in zip(items, paths):
        key = tuple(p)
        seen[key] += 1
        if seen[key] > 1:
            warnings.append(f"duplicate item {'/'.join(p)}: kept as {p[-1]}#{seen[key]}")
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
    return warnings


def chunk_document(document: Document) -> list[Item]:
    """The citable items of ``document`` in document order (see the module docstring)."""
    return split_document(document).items
