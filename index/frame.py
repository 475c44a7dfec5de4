"""Find the frame of an official document: the header and footer blocks around its text.

What it does
    ``find_frame(lines, title_lines)`` looks at the lines of a cleaned document
    (one paragraph per line) and says which of them are not citable text but
    document metadata, and where the attachments (附件) are:

    - header, before the first numbered unit: the letterhead ("天津市教育委员会文件"),
      the document number ("津教委〔2016〕10号"), 签发人, the adoption/amendment
      record under a law's title ("1984年3月12日 …会议通过", "（…通过　自…起施行）"),
      and the addressees ("各区、县教育局，天铁集团教委：") when they are the first
      line of the body;
    - footer: the closing signature and issue date ("广州市教育局" / "2014年4月21日",
      found where the body ends, not only in the last lines), the list of
      attachments above it ("附件：1.…"), 此件主动公开, the printing line
      ("…办公室 2014年4月21日印发"), 抄送/抄报/主题词 lines;
    - attachments after the signature (or, without one, a line that is only
      "附件1" / "附件1：名称" after the body): each runs to the next attachment or
      footer line and becomes its own citable part, labelled as printed ("附件1").

    The result is a ``Frame``: ``kinds`` (line index -> what the line is),
    ``attachments`` (label, heading line indices, body line indices) and
    ``metadata`` (number, issuer, date, addressees, record, attachment names).

What it does not do
    No chunking and no I/O. It recognises the layout of Chinese official documents
    (GB/T 9704 党政机关公文格式) by the shape of lines, not by any one issuer's wording;
    a document that has none of these blocks comes back with an empty frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Frame", "Attachment", "find_frame", "ATTACHMENT_RE"]

_SP = r"[ \t\u3000]*"
_Y = r"[0-9０-９〇零一二三四五六七八九]{4}"
_M = r"[0-9０-９一二三四五六七八九十]{1,2}"
_D = r"[0-9０-９〇一二三四五六七八九十]{1,3}"
FULL_DATE = rf"{_Y}{_SP}年{_SP}{_M}{_SP}月{_SP}{_D}{_SP}日"
DATE_LINE_RE = re.compile(rf"^[（(]?{_SP}{FULL_DATE}{_SP}[）)]?$")
RECORD_RE = re.compile(rf"^[（(]?{_SP}{FULL_DATE}")
LETTERHEAD_RE = re.compile(r"^[^，。；：:,;、]{2,40}文件$")
DOC_NUMBER_RE = re.compile(r"^[^\s，。；]{1,16}[〔\[［(（]\s*(?:19|20)\d{2}\s*[〕\]］)）]\s*第?\s*\d+\s*号$")
SIGNER_RE = re.compile(r"^签发人[:：]")
PUBLIC_RE = re.compile(r"^[（(]?此件.{0,6}公开.{0,6}[）)]?$|^[（(]?此件不予?公开[）)]?$")
PRINTED_RE = re.compile(rf"^.{{0,40}}{FULL_DATE}{_SP}印发$")
CC_RE = re.compile(r"^(?:抄送|抄报|主题词|分送)[:：]")
ATTACHMENT_RE = re.compile(
    r"^附件" + _SP + r"(?P<num>[0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})?" + _SP
    + r"(?:[:：]" + _SP + r"(?P<rest>.*))?$")
_NUMBERED_NAME = re.compile(r"^[0-9０-９]{1,2}[.．、]")
_SENTENCE_MARKS = "，。；,;！？!?"


@dataclass
class Attachment:
    label: str                     # "附件1", "附件一", "附件" as printed (no colon, no spaces)
    heading: list[int]             # the heading line(s): "附件1" and its title line
    body: list[int]                # the lines of its text


@dataclass
class Frame:
    kinds: dict[int, str] = field(default_factory=dict)   # line index -> letterhead/number/record/...
    attachments: list[Attachment] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def set_aside(self, lines: list[str]) -> list[str]:
        """The frame lines in document order (what ``index show`` lists as set aside)."""
        return [lines[i].strip() for i in sorted(self.kinds)]


def _short_plain(s: str, limit: int = 30) -> bool:
    return 0 < len(s) <= limit and not any(ch in s for ch in _SENTENCE_MARKS)


def find_frame(lines: list[str], is_numbered, find_title, md_headings=frozenset()) -> tuple[Frame, set[int]]:
    """The frame of ``lines`` and the title line indices (see the module docstring).

    ``is_numbered(line)`` says whether a stripped line opens a numbered unit (the chunker's
    label test); ``find_title(skip)`` returns the indices of the title lines, not looking
    at the lines in ``skip``; ``md_headings`` are the indices of markdown heading lines.
    """
    frame = Frame()
    kinds = frame.kinds
    meta = frame.metadata
    filled = [i for i, raw in enumerate(lines) if raw.strip()]
    if not filled:
        return frame, set()
    text = {i: lines[i].strip() for i in filled}

    # -- lines that are frame wherever they are --------------------------------------------------
    for i in filled:
        s = text[i]
        if PUBLIC_RE.match(s):
            kinds[i] = "public"
        elif PRINTED_RE.match(s):
            kinds[i] = "printed"
        elif CC_RE.match(s):
            kinds[i] = "cc"

    # -- header: before the first numbered unit ----------------------------------------------------
    first_unit = next((i for i in filled if (i in md_headings and i != filled[0]) or is_numbered(text[i])), None)
    head = [i for i in filled if first_unit is None or i < first_unit]
    for i in head[:8]:                          # the letterhead block, above or around the title
        s = text[i]
        if LETTERHEAD_RE.match(s):
            kinds[i] = "letterhead"
        elif DOC_NUMBER_RE.match(s):
            kinds[i] = "number"
            meta.setdefault("number", s)
        elif SIGNER_RE.match(s):
            kinds[i] = "signer"
    title_idx = find_title(set(kinds))
    for i in head:
        s = text[i]
        if i in title_idx or i in kinds:
            continue
        whole_bracket = s[:1] in "（(" and s[-1:] in "）)"
        if RECORD_RE.match(s) and not DATE_LINE_RE.match(s) and (whole_bracket or not any(ch in s for ch in "，,。")):
            kinds[i] = "record"             # "1984年3月12日 …会议通过", "（2025年…通过　自…起施行）"
            meta.setdefault("record", []).append(s)
            continue
        if _addressees(s):
            kinds[i] = "addressee"
            meta["addressees"] = s.rstrip("：:")
        break                               # the body has begun

    # -- footer: the closing date, the signature above it, the attachment list --------------------
    body_from = first_unit if first_unit is not None else (head[0] if head else 0)
    closing = None
    for i in filled:
        if i <= body_from or i in kinds or not DATE_LINE_RE.match(text[i]):
            continue
        nxt = next((j for j in filled if j > i and j not in kinds), None)
        if nxt is None or _attachment_heading(text[nxt]):
            closing = i
            break
    if closing is not None:
        kinds[closing] = "date"
        meta["date"] = text[closing].strip("（）()")
        above = [j for j in filled if body_from < j < closing and j not in kinds][-3:]
        signature = []
        for j in reversed(above):
            s = text[j]
            if not _short_plain(s) or is_numbered(s) or ATTACHMENT_RE.match(s):
                break
            signature.append(j)
        if len(signature) == len([j for j in filled if body_from <= j < closing and j not in kinds]):
            signature = []                  # nothing but the block: it is the text itself
        for j in signature:
            kinds[j] = "signature"
        if signature:
            meta["issuer"] = "".join(text[j] for j in sorted(signature))
        start = min(signature) if signature else closing
        listing = _attachment_listing(filled, text, kinds, body_from, start)
        for j in listing:
            kinds[j] = "attachment list"
        if listing:
            meta["attachments"] = [text[j] for j in listing]

    # -- attachments: standalone "附件1" / "附件1：名称" lines after the body has begun ---------------
    starts = [i for i in filled if i > body_from and i not in kinds and _attachment_heading(text[i])]
    for n, i in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        part = [j for j in filled if i < j < end and j not in kinds]
        m = ATTACHMENT_RE.match(text[i])
        label = "附件" + (m.group("num") or "")
        heading = [i]
        if not (m.group("rest") or "").strip() and part and _short_plain(text[part[0]], 60) \
                and not is_numbered(text[part[0]]):
            heading.append(part.pop(0))          # "附件1" then its title on the next line
        frame.attachments.append(Attachment(label=label, heading=heading, body=part))
    return frame, title_idx


_NOT_ADDRESSEES = re.compile(r"^(?:为|根据|按照|依据|依照|现|经|近日|今年)|如下|以下|下列|。")


def _addressees(s: str) -> bool:
    """"各区、县教育局，天铁集团教委：": a short line ending in a colon that introduces nothing."""
    return s[-1] in "：:" and len(s) <= 100 and not _NOT_ADDRESSEES.search(s)


def _attachment_heading(s: str) -> bool:
    m = ATTACHMENT_RE.match(s)
    return bool(m) and len(s) <= 60 and not any(ch in (m.group("rest") or "") for ch in "。；;")


def _attachment_listing(filled, text, kinds, body_from, end) -> list[int]:
    """"附件：1.名称" (and the names on the lines below it) right above the signature."""
    lines_before = [j for j in filled if body_from < j < end and j not in kinds]
    for n in range(len(lines_before) - 1, max(len(lines_before) - 12, -1), -1):
        j = lines_before[n]
        if ATTACHMENT_RE.match(text[j]) or re.match(r"^附件" + _SP + r"[:：]", text[j]):
            rest = lines_before[n + 1:]
            if all(_NUMBERED_NAME.match(text[k]) or _short_plain(text[k], 60) for k in rest):
                return lines_before[n:]
            return []
    return []
