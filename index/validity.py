"""Which policy is in force: validity facts read from a document's text, and its status at a date.

Two halves, both pure functions:

- ``extract(document)`` reads the facts a document states about itself, each kept
  with the sentence it came from (so answers can quote it):
  - ``effective``: 本条例自2011年9月1日起施行 / 本方案自印发之日起实施 / 自发布之日起施行,
    and the "2019年3月1日 施行" header line of a law;
  - ``expires``: 有效期5年 / 试行两年 (counted from the effective date; the last day in
    force is stored) and 有效期至2027年12月31日;
  - ``repeals``: 《……》同时废止 / 即行废止 / 停止执行 (the titles in 《》);
  - ``promulgated`` / ``amended``: the header lines of laws ("2011年4月16日 中华人民共和国
    国务院令第596号公布", "…第一次修订", "根据…修正").
  Relative dates (自印发之日起) are resolved against the document's own date (its
  发布时间, else the date line under its signature, else its promulgation line). A
  date that cannot be read is reported as a warning and the fact is dropped, never
  guessed. Only sentences whose subject is the document itself (本条例, 本方案 …) count:
  "许可证有效期3年" inside an article says nothing about the document.
- ``statuses(docs, today)`` decides each document's status at ``today`` from the
  facts of all indexed documents: ``not_yet_in_force`` before its effective date;
  ``repealed`` when a stated fact or another indexed document repeals it (from the
  repealing document's effective date on); ``expired`` after its last day in force;
  ``superseded`` when a newer edition of the same series (title without its year)
  from the same office is in force; else ``in_force`` (``basis: "assumed"`` when
  nothing was stated).

Contradictions (two effective dates) are resolved by one rule, the latest explicit
statement wins (document order, a sidecar after the text), and reported.
``read_sidecar`` reads the optional ``NAME.validity.toml`` next to a document.

This module does not read the index, embed or answer; the builder stores what
``extract`` returns in the manifest and the answering layer calls ``statuses``.
Date and numeral parsing here should move to ``core/numerals.py`` once it exists.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Document, Validity
from policy_assistant.core.text import DOCUMENT_KIND, split_sentences

# "这个文件还有效吗", "现行的是哪个", "最新版本", "is this still in force": answered from the status itself
VALIDITY_QUESTION = re.compile(
    r"还在有效期|过期了|失效|废止|作废|还能用吗|还适用吗|还执行吗|"
    r"现行(?:有效|的|版|文件|政策|规定|标准)|最新(?:版|一版|的(?:版本|文件|政策|规定|一版|是))|哪个是现行|"
    r"施行了吗|实施了吗|开始施行|何时施行|什么时候施行|什么时候开始实施|"
    r"still (?:valid|in force|apply|applies|current)|in force|expired?\b|repealed|superseded|latest (?:version|edition)|"
    r"current (?:version|edition)|is (?:it|this) valid",
    re.I)
# 有效 and 生效 are also said of legal acts ("这份合同是否有效", "条款有效吗", "遗嘱什么时候生效": 37 of STARD's
# 1,235 train questions): they ask about a document's status only when said of a document (a title or a kind
# of document: …法, 条例, 通知, 《…》, 文件, 政策), of a pointer alone (这个, 它, 该), or of nothing ("还有效吗").
SAID_OF_ANYTHING = re.compile(r"还有效|有效吗|是否还?有效|有没有效|仍然有效|生效了吗|什么时候生效")
_SUBJECT_TAIL = re.compile(r"(?:\s|[，,、]|的|还|是否|仍然|仍|现在|目前|如今|到底|究竟|已经)+$")
_DOCUMENT_SUBJECT = re.compile(r"(?:文件|政策|》|这个|这份|这|它|该|此)$")


def asks_validity(question: str) -> bool:
    """Does the question ask whether a document is in force ("这个文件还有效吗"), not whether an act is valid?"""
    question = question or ""
    if VALIDITY_QUESTION.search(question):
        return True
    for match in SAID_OF_ANYTHING.finditer(question):
        subject = _SUBJECT_TAIL.sub("", question[:match.start()])
        if not subject or DOCUMENT_KIND.search(subject) or _DOCUMENT_SUBJECT.search(subject):
            return True
    return False


STATUSES = ("in_force", "not_yet_in_force", "expired", "repealed", "superseded")
SIDECAR_SUFFIX = ".validity.toml"

# -- numerals and dates (to move to core/numerals.py) --------------------------------------------------
_CN_DIGIT = {"零": 0, "〇": 0, "○": 0, "Ｏ": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
             "七": 7, "八": 8, "九": 9}
NUM = r"[0-9０-９零〇○一二两三四五六七八九十]+"
DATE = rf"({NUM})\s*年\s*({NUM})\s*月\s*(?:({NUM})\s*日)?"
DATE_RE = re.compile(DATE)
ISO_RE = re.compile(r"((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})")


def number(text: str) -> int | None:
    """'12' / '１２' / '十二' / '二〇一一' (digit by digit) -> int; None when it is not a number."""
    text = (text or "").strip().translate({code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)})
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGIT and ch != "十" for ch in text):
        return None
    if "十" not in text:                       # 二〇一一: read digit by digit
        return int("".join(str(_CN_DIGIT[ch]) for ch in text))
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return None
    return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0)


def parse_date(match: re.Match) -> dt.date | None:
    """A ``DATE_RE`` match as a date (a missing day is the 1st); None when no such day exists."""
    year, month, day = number(match.group(1)), number(match.group(2)), number(match.group(3) or "1")
    try:
        if year is None or month is None or day is None or not 1900 <= year <= 2100:
            return None
        return dt.date(year, month, day)
    except ValueError:
        return None


def add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def cn_date(iso: str | None) -> str:
    """'2019-04-20' -> '2019年4月20日'."""
    if not iso:
        return ""
    day = dt.date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


# -- extraction -----------------------------------------------------------------------------------
# The document speaking of itself: 本条例, 本法, 本方案, 本实施细则, 本暂行办法 …
_KINDS = ("条例|法|规定|办法|方案|通知|意见|细则|规则|决定|措施|规划|计划|标准|制度|政策|文件|指引|指南|要点|纲要|"
          "准则|章程|公告|通告|解释|规范|目录|清单|协议|安排|实施方案|工作方案")
SELF = re.compile(rf"本(?:[\u4e00-\u9fff]{{0,6}}?)(?:{_KINDS})(?=\s*(?:[（(][^（）()]{{0,40}}[）)])?\s*(?:自|从|于|有效期|试行|施行|实施|执行|的有效期))")
EFFECTIVE = re.compile(r"(?:自|从|于)\s*(?P<when>[^，,。；;]{1,30}?)\s*(?:之日)?起\s*(?:开始)?(?:施行|实施|执行|生效|试行)")
RELATIVE = re.compile(r"^(?:修订|修改)?(?:印发|发布|公布|颁布|下发|发文|签发|公告)(?:之日)?$")
PERIOD = re.compile(rf"(?:有效期|试行期|试行)\s*(?:为|暂定为?|暂定)?\s*(?P<n>{NUM})\s*(?P<unit>年|个月)")
UNTIL = re.compile(r"有效期\s*(?:至|到|截至|截止(?:到|至)?)\s*(?P<when>[^，,。；;）)]{4,20})")
REPEAL = re.compile(r"(?:同时|即行|予以|一并)?\s*(?:废止|停止执行|不再执行)")
# The titles a repeal names stand right before it: 《A》、《B》和1993年…发布的《C》（…）同时废止
_LAST_TITLE = re.compile(r"《([^《》]{2,80})》\s*(?:[（(][^（）()《》]{0,40}[）)])?\s*$")
_LIST_JOIN = re.compile(r"(?:、|，|,|以及|和|及|与)\s*(?:[^《》。；、，]{0,40}的)?\s*$")
TITLE = re.compile(r"《([^《》]{2,80})》")
HEADER_DATE = re.compile(rf"^[（(]?\s*{DATE}")
HEADER_EVENT = re.compile(r"(修正|修订|公布|发布|通过|批准|施行|生效)")
SIGNATURE_DATE = re.compile(rf"^{DATE}$")


@dataclass
class Extraction:
    facts: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    date: str = ""                      # the document's own date used to resolve 自印发之日起 (ISO), if known


def own_date(document: Document, header: list[dict]) -> str:
    """The document's own date: its 发布时间, else the date line under its signature, else its promulgation."""
    if document.date:
        return document.date
    for line in reversed(document.text.splitlines()[-12:]):
        match = SIGNATURE_DATE.match(line.strip())
        if match and (day := parse_date(match)):
            return day.isoformat()
    promulgated = [fact["date"] for fact in header if fact["kind"] == "promulgated" and fact["date"]]
    return promulgated[0] if promulgated else ""


def _header_lines(text: str) -> list[str]:
    """The lines after the title and before the first article or chapter: where laws print their history."""
    from policy_assistant.index.cleaning import looks_numbered

    out = []
    for line in text.splitlines()[1:40]:
        line = line.strip().lstrip("#").strip()
        if not line:
            continue
        if looks_numbered(line) or len(out) >= 20:
            break
        out.append(line)
    return out


def _header_facts(lines: list[str], warnings: list[str]) -> list[dict]:
    """'2011年4月16日 …令第596号公布', '…第一次修订', '2019年3月1日 施行', '（… 公布 根据…修订 自…起施行）'."""
    facts = []
    for line in lines:
        for part in re.split(r"\s*根据\s*", line.strip("（()）")):
            part = part.strip()
            match = HEADER_DATE.match(part)
            effective = EFFECTIVE.search(part)
            if effective and DATE_RE.search(effective.group("when")):
                day = _resolve(effective.group("when").strip(), "", line, warnings)
                if day is not None:
                    facts.append({"kind": "effective", "date": day.isoformat(), "sentence": line, "source": "text"})
                part = part[:effective.start()]
            event = HEADER_EVENT.search(part)
            if not match or not event:
                continue
            day = parse_date(match)
            if day is None:
                warnings.append(f"unreadable date {match.group(0)!r} in the header line {line!r}; ignored")
                continue
            kind = ("amended" if re.search("修正|修订", part) else
                    "effective" if re.search("施行|生效", part) and not re.search("公布|发布|通过|批准", part)
                    else "promulgated")
            facts.append({"kind": kind, "date": day.isoformat(), "sentence": line, "source": "text"})
    return facts


def extract(document: Document) -> Extraction:
    """The validity facts ``document`` states about itself, in document order (see the module docstring)."""
    out = Extraction()
    header = _header_facts(_header_lines(document.text), out.warnings)
    out.date = own_date(document, header)
    out.facts.extend(header)
    effective: dt.date | None = next((dt.date.fromisoformat(f["date"]) for f in reversed(header)
                                      if f["kind"] == "effective"), None)
    header_lines = {fact["sentence"] for fact in header}
    for sentence in split_sentences(document.text):
        if sentence in header_lines:
            continue
        sentence = _without_label(sentence)
        speaks_of_itself = SELF.search(sentence)
        match = EFFECTIVE.search(sentence)
        if match and speaks_of_itself and speaks_of_itself.start() < match.start():
            when = match.group("when").strip()
            day = _resolve(when, out.date, sentence, out.warnings)
            if day is not None:
                effective = day
                out.facts.append({"kind": "effective", "date": day.isoformat(), "sentence": sentence,
                                  "source": "text"})
        if speaks_of_itself or match:
            for period in PERIOD.finditer(sentence):
                count = number(period.group("n"))
                if count is None or count == 0:
                    out.warnings.append(f"unreadable validity period {period.group(0)!r} in {sentence!r}; ignored")
                    continue
                if effective is None:
                    out.warnings.append(f"validity period {period.group(0)!r} but no effective date known "
                                        f"({sentence!r}); ignored")
                    continue
                months = count * 12 if period.group("unit") == "年" else count
                last = add_months(effective, months) - dt.timedelta(days=1)
                out.facts.append({"kind": "expires", "date": last.isoformat(), "sentence": sentence,
                                  "period": period.group(0), "source": "text"})
            for until in UNTIL.finditer(sentence):
                day = _resolve(until.group("when").strip(), "", sentence, out.warnings)
                if day is not None:
                    out.facts.append({"kind": "expires", "date": day.isoformat(), "sentence": sentence,
                                      "source": "text"})
        for repeal in REPEAL.finditer(sentence):
            for title in _repealed_titles(sentence[:repeal.start()]):
                out.facts.append({"kind": "repeals", "title": title, "sentence": sentence, "source": "text"})
    return out


def _repealed_titles(before: str) -> list[str]:
    """The 《titles》 directly before a repeal word, walking back over a list of them."""
    titles = []
    while (match := _LAST_TITLE.search(before)):
        titles.insert(0, match.group(1))
        before = before[:match.start()]
        join = _LIST_JOIN.search(before)
        if join is None:
            break
        before = before[:join.start()]
    return titles


def _without_label(sentence: str) -> str:
    """'第三十二条 本条例自…起施行。' -> '本条例自…起施行。' (as the item's text has it, for quoting)."""
    from policy_assistant.index.cleaning import NUMBERED_RE

    match = NUMBERED_RE.match(sentence)
    return sentence[match.end():].strip() if match and sentence[match.end():].strip() else sentence


def _resolve(when: str, anchor: str, sentence: str, warnings: list[str]) -> dt.date | None:
    """'2011年9月1日' -> that day; '印发' / '发布之日' -> the document's own date; else a warning and None."""
    if RELATIVE.match(when):
        if anchor:
            return dt.date.fromisoformat(anchor)
        warnings.append(f"{sentence!r}: the document's own date is unknown, so '{when}' cannot be resolved; ignored")
        return None
    match = DATE_RE.search(when) or None
    if match:
        day = parse_date(match)
        if day is not None:
            return day
    elif (iso := ISO_RE.search(when)):
        try:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            pass
    warnings.append(f"unreadable date {when!r} in {sentence!r}; ignored")
    return None


# -- sidecars --------------------------------------------------------------------------------------
SIDECAR_KEYS = {"effective_from", "expires", "repealed_by", "repealed_on", "superseded_by", "status", "note"}


def sidecar_for(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> tuple[list[dict], list[str]]:
    """The facts a ``NAME.validity.toml`` adds (they come after, so they win over, the text's).

    Keys: ``effective_from``, ``expires`` (the last day in force), ``repealed_on``, ``repealed_by``
    / ``superseded_by`` (a doc id), ``status`` (one of ``STATUSES``), ``note`` (the sentence to quote,
    e.g. where the repeal was announced). Unknown keys or bad TOML are an error naming the file; an
    unreadable date is a warning and is ignored.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the validity sidecar ({exc})") from None
    unknown = set(data) - SIDECAR_KEYS
    if unknown:
        raise BadInput(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(SIDECAR_KEYS))}")
    if "status" in data and data["status"] not in STATUSES:
        raise BadInput(f"{path}: status must be one of {', '.join(STATUSES)}, not {data['status']!r}")
    note = str(data.get("note") or "")
    sentence = note or f"{path.name}"
    facts, warnings = [], []
    source = f"sidecar:{path.name}"
    for key, kind in (("effective_from", "effective"), ("expires", "expires"), ("repealed_on", "repealed")):
        if key not in data:
            continue
        value = data[key]
        day = value if isinstance(value, dt.date) else None
        if day is None:
            try:
                day = dt.date.fromisoformat(str(value))
            except ValueError:
                warnings.append(f"{path}: unreadable date {key} = {value!r}; ignored")
                continue
        facts.append({"kind": kind, "date": day.isoformat(), "sentence": sentence, "source": source})
    if data.get("repealed_by"):
        facts.append({"kind": "repealed", "by": str(data["repealed_by"]), "sentence": sentence, "source": source})
    if data.get("superseded_by"):
        facts.append({"kind": "superseded", "by": str(data["superseded_by"]), "sentence": sentence, "source": source})
    if data.get("status"):
        facts.append({"kind": "status", "status": data["status"], "sentence": sentence, "source": source})
    return facts, warnings


def sidecar_doc_refs(facts: list[dict]) -> list[str]:
    return [fact["by"] for fact in facts if fact.get("by")]


def contradictions(doc: str, facts: list[dict]) -> list[str]:
    """Warnings for facts that disagree (two effective dates …): the latest statement wins."""
    out = []
    for kind, what in (("effective", "effective dates"), ("expires", "expiry dates")):
        dates = [fact for fact in facts if fact["kind"] == kind and fact.get("date")]
        if len({fact["date"] for fact in dates}) > 1:
            used = dates[-1]
            out.append(f"{doc}: {len(dates)} different {what} stated "
                       f"({', '.join(f['date'] for f in dates)}); the latest statement wins: {used['date']} "
                       f"({used['sentence'][:60]!r})")
    return out


# -- status at a date -------------------------------------------------------------------------------
@dataclass
class DocFacts:
    """What ``statuses`` needs of one document (the builder keeps it in the manifest)."""

    doc: str
    title: str = ""
    year: int | None = None
    office: str = ""
    date: str = ""
    facts: list[dict] = field(default_factory=list)

    @classmethod
    def from_manifest(cls, entry: dict) -> "DocFacts":
        validity = entry.get("validity") or {}
        return cls(doc=entry["doc"], title=entry.get("title", ""), year=entry.get("year"),
                   office=validity.get("office", ""), date=validity.get("date", ""),
                   facts=list(validity.get("facts", [])) + list(entry.get("sidecar", [])))


def series_of(title: str, doc: str = "") -> str:
    """The title without its year: the editions of one series share it."""
    return re.sub(r"(19|20)\d{2}\s*(年度|年)?", "", title or "").strip() or doc


def normalise_title(title: str) -> str:
    return re.sub(r"[\s《》〈〉<>]", "", title or "")


def _last(facts: list[dict], kind: str) -> dict | None:
    found = [fact for fact in facts if fact["kind"] == kind and fact.get("date")]
    return found[-1] if found else None


def _names(repealed_title: str, doc: DocFacts) -> bool:
    """Whether the title a repeal names is this document's (also inside a 关于印发《…》的通知 title)."""
    wanted = normalise_title(repealed_title)
    own = normalise_title(doc.title)
    return bool(wanted) and (wanted == own or bool(re.search(
        rf"(?:印发|发布|公布|颁布|下发)《{re.escape(repealed_title.strip())}》", doc.title or "")))


def statuses(docs: list[DocFacts], today: dt.date) -> dict[str, Validity]:
    """Each document's status at ``today`` (see the module docstring for the rules)."""
    by_id = {doc.doc: doc for doc in docs}
    effective = {doc.doc: (_last(doc.facts, "effective") or {}).get("date") for doc in docs}
    started = {doc.doc: _started(doc, effective[doc.doc], today) for doc in docs}
    out: dict[str, Validity] = {}
    for doc in docs:
        facts = doc.facts
        eff, exp = _last(facts, "effective"), _last(facts, "expires")
        validity = Validity(effective_from=eff["date"] if eff else None, expires=exp["date"] if exp else None,
                            basis="stated" if (eff or exp) else "assumed",
                            fact=(exp or eff or {}).get("sentence", ""))
        # repealed: by a stated fact, or by another indexed document that names this one
        repeal = None
        for fact in facts:
            if fact["kind"] == "repealed":
                by, on = fact.get("by"), fact.get("date") or (effective.get(fact.get("by")) if fact.get("by") else None)
                repeal = (by, on, fact["sentence"], fact["source"])
        for other in docs:
            if other.doc == doc.doc:
                continue
            for fact in other.facts:
                if fact["kind"] == "repeals" and _names(fact["title"], doc) and _older(doc, other):
                    repeal = (other.doc, effective.get(other.doc) or other.date or None, fact["sentence"], "indexed")
        if repeal and (repeal[1] is None or dt.date.fromisoformat(repeal[1]) <= today):
            validity.status, validity.repealed_by, validity.since = "repealed", repeal[0], repeal[1]
            validity.fact, validity.basis = repeal[2], "indexed" if repeal[3] == "indexed" else "stated"
        elif eff and dt.date.fromisoformat(eff["date"]) > today:
            validity.status, validity.since, validity.fact = "not_yet_in_force", eff["date"], eff["sentence"]
        elif exp and dt.date.fromisoformat(exp["date"]) < today:
            validity.status, validity.since, validity.fact = "expired", exp["date"], exp["sentence"]
        else:
            newer = _newer_edition(doc, docs, started)
            if newer:
                validity.status, validity.superseded_by, validity.basis = "superseded", newer.doc, "indexed"
                validity.since = effective.get(newer.doc)
        for fact in facts:                      # a sidecar's explicit status or successor has the last word
            if fact["kind"] == "superseded":
                validity.superseded_by = fact["by"]
                if validity.status == "in_force":
                    validity.status, validity.basis, validity.fact = "superseded", "stated", fact["sentence"]
            elif fact["kind"] == "status":
                validity.status, validity.basis, validity.fact = fact["status"], "stated", fact["sentence"]
        if validity.status in ("repealed", "superseded", "expired") and not validity.successor:
            validity.successor = _successor(doc, docs, out_of=validity, by_id=by_id, started=started)
        out[doc.doc] = validity
    return out


def _started(doc: DocFacts, effective: str | None, today: dt.date) -> bool:
    """In force yet by its dates: the effective date, else its own date or year, has come."""
    if effective:
        return dt.date.fromisoformat(effective) <= today
    if doc.date:
        return dt.date.fromisoformat(doc.date) <= today
    return doc.year is None or doc.year <= today.year


def _older(doc: DocFacts, other: DocFacts) -> bool:
    """A repeal names an earlier document: not a later edition that happens to share the title."""
    mine, theirs = doc.date or str(doc.year or ""), other.date or str(other.year or "")
    return not (mine and theirs) or mine <= theirs


def _edition_key(doc: DocFacts) -> tuple:
    return (doc.year or 0, doc.date or "")


def _newer_edition(doc: DocFacts, docs: list[DocFacts], started: dict[str, bool]) -> DocFacts | None:
    """The newest edition of the same series from the same office that is newer than ``doc`` and has started."""
    series = series_of(doc.title, doc.doc)
    newer = [other for other in docs if other.doc != doc.doc and series_of(other.title, other.doc) == series
             and other.office == doc.office and _edition_key(other) > _edition_key(doc)
             and (other.year or other.date) and started[other.doc]]
    return max(newer, key=_edition_key) if newer else None


def _successor(doc: DocFacts, docs: list[DocFacts], out_of: Validity, by_id: dict, started: dict) -> str | None:
    """An in-force document to name instead: the repealing document, else the newest edition."""
    for candidate in (out_of.repealed_by, out_of.superseded_by):
        if candidate and candidate in by_id:
            return candidate
    newer = _newer_edition(doc, docs, started)
    return newer.doc if newer else None


def count_by_status(validity: dict[str, Validity]) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for value in validity.values():
        counts[value.status] = counts.get(value.status, 0) + 1
    return counts


# -- what the builder calls -------------------------------------------------------------------------
def find_sidecars(paths: list[Path], files: list[Path]) -> dict[Path, Path]:
    """Document file -> its ``NAME.validity.toml``; a sidecar with no document beside it is an error naming it."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p.resolve() for p in path.rglob("*" + SIDECAR_SUFFIX) if p.is_file())
        elif path.is_file() and is_sidecar(path):
            found.add(path.resolve())
    for path in files:
        if sidecar_for(path).is_file():
            found.add(sidecar_for(path).resolve())
    by_name = {(path.parent, path.stem): path for path in files}
    out = {}
    for sidecar in sorted(found):
        document = by_name.get((sidecar.parent, sidecar.name[:-len(SIDECAR_SUFFIX)]))
        if document is None:
            raise BadInput(f"{sidecar}: this validity sidecar names no document "
                           f"(expected {sidecar.name[:-len(SIDECAR_SUFFIX)]}.<txt|md|html|docx|pdf> beside it)")
        out[document] = sidecar
    return out


def manifest_entry(document: Document) -> tuple[dict, list[str]]:
    """What the manifest keeps of a document's own statements (``DocFacts.from_manifest`` reads it back)."""
    extraction = extract(document)
    return ({"facts": extraction.facts, "date": extraction.date, "office": document.office},
            [f"{document.doc}: {warning}" for warning in extraction.warnings])


def apply_sidecars(manifest: dict, sidecars: dict[Path, Path]) -> list[str]:
    """Read every sidecar into its document's manifest entry; check the documents they name. Returns warnings."""
    warnings = []
    docs = {entry["doc"] for entry in manifest.values()}
    for key, entry in manifest.items():
        sidecar = sidecars.get(Path(key))
        entry.pop("sidecar", None)
        if sidecar is None:
            continue
        facts, problems = read_sidecar(sidecar)
        for ref in sidecar_doc_refs(facts):
            if ref not in docs:
                raise BadInput(f"{sidecar}: names the document {ref!r}, which is not indexed; "
                               f"indexed: {', '.join(sorted(docs))}")
        entry["sidecar"] = facts
        warnings += problems
    for entry in manifest.values():
        doc = DocFacts.from_manifest(entry)
        warnings += contradictions(doc.doc, doc.facts)
    return warnings


def statuses_of_manifest(manifest: dict, today: dt.date) -> dict[str, Validity]:
    return statuses([DocFacts.from_manifest(entry) for entry in manifest.values()], today)
