"""The plain data that flows between the stages: documents, items, hits, answers.

Only dataclasses and their (de)serialisation live here; no I/O, no models.
An ``Item`` is the citable unit of a policy document (an article 第N条, or the
innermost numbered unit that carries body text), with its full hierarchy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Document:
    """A loaded, cleaned policy file, before chunking."""

    doc: str                      # the file's stem: the document id
    text: str                     # the main text, site chrome removed, original line breaks kept
    source: str                   # the path it was read from
    title: str = ""
    year: int | None = None
    office: str = ""              # 信息来源 / issuing office
    date: str = ""                # 发布时间, ISO yyyy-mm-dd when known
    dropped: list[str] = field(default_factory=list)  # lines removed as site chrome


@dataclass
class Validity:
    """Whether a document is in force at a date (``index.validity.statuses`` decides it)."""

    status: str = "in_force"      # in_force | not_yet_in_force | expired | repealed | superseded
    basis: str = "assumed"        # "stated" (the text or a sidecar says so), "indexed" (another indexed document), "assumed"
    effective_from: str | None = None   # ISO dates or None
    expires: str | None = None          # the last day in force
    repealed_by: str | None = None      # doc ids (or a title when the repealing document is not indexed)
    superseded_by: str | None = None
    successor: str | None = None        # an indexed document to read instead
    successor_title: str = ""           # its title (filled when the corpus is loaded)
    since: str | None = None            # when the current status began (expired/repealed/effective on)
    fact: str = ""                      # the sentence the status rests on, quotable

    @property
    def in_force(self) -> bool:
        return self.status == "in_force"

    def to_json(self) -> dict:
        out = {"status": self.status, "basis": self.basis, "effective_from": self.effective_from,
               "expires": self.expires}
        for key in ("repealed_by", "superseded_by", "successor", "since"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.fact:
            out["fact"] = self.fact
        return out


@dataclass
class Item:
    """One citable unit of a document, with where it sits in the hierarchy."""

    doc: str
    item: str                     # the label as printed ("12", "（三）", "第五条"); prefixed when it repeats ("二（三）")
    path: list[str]               # labels from the top section down to this item, as printed
    text: str                     # the item's body, verbatim from the source (wrapped lines joined)
    title: str = ""
    year: int | None = None
    section: str = ""             # the top-level heading line, e.g. "五、聚力推进公共服务优享"
    headings: list[str] = field(default_factory=list)  # every enclosing heading line, top down
    source: str = ""
    office: str = ""
    date: str = ""
    order: int = 0                # position in the document
    validity: Validity | None = None   # the document's status, attached when the corpus is loaded (not stored)
    number: str = ""              # the document number (文号) from its letterhead, "津教委〔2016〕10号"

    @property
    def key(self) -> str:
        """Unique id across the index."""
        return f"{self.doc}::{'/'.join(self.path)}"

    @property
    def path_id(self) -> str:
        return "/".join(self.path)

    @property
    def marker(self) -> str:
        """The citation marker the answers use: [第12条] for bare numbers, else the label itself."""
        return f"[{marker_label(self.item)}]"

    def matches(self, ref: str) -> bool:
        """Whether a dataset/gold reference ("12", "二/（一）", "第五条") names this item."""
        ref = ref.strip()
        return ref in (self.item, self.path_id, marker_label(self.item)) or (
            is_number(ref) and self.item == ref)

    def embedding_text(self) -> str:
        """What is embedded: the document title and the enclosing headings give the item its context."""
        return "\n".join([part for part in (self.title, *self.headings) if part] + [self.text])

    def to_metadata(self) -> dict:
        """Flat metadata for the vector store (Chroma accepts str/int/float/bool only)."""
        return {
            "doc": self.doc, "item": self.item, "path": json.dumps(self.path, ensure_ascii=False),
            "title": self.title, "year": self.year or 0, "section": self.section,
            "headings": json.dumps(self.headings, ensure_ascii=False), "source": self.source,
            "office": self.office, "date": self.date, "order": self.order, "number": self.number,
        }

    @classmethod
    def from_metadata(cls, meta: dict, text: str) -> "Item":
        return cls(
            doc=meta["doc"], item=meta["item"], path=json.loads(meta["path"]), text=text,
            title=meta.get("title", ""), year=meta.get("year") or None, section=meta.get("section", ""),
            headings=json.loads(meta.get("headings", "[]")), source=meta.get("source", ""),
            office=meta.get("office", ""), date=meta.get("date", ""), order=int(meta.get("order", 0)),
            number=meta.get("number", ""),
        )

    def citation(self) -> dict:
        """The citation object of the JSON contract."""
        return {"doc": self.doc, "title": self.title, "year": self.year, "item": self.item,
                "path": list(self.path), "section": self.section, "text": self.text,
                "office": self.office, "date": self.date, "number": self.number, "source": self.source,
                **(self.validity or Validity()).to_json()}


def marker_label(label: str) -> str:
    """'12' -> '第12条'; labels that already say what they are stay as printed."""
    return f"第{label}条" if is_number(label) else label


def is_number(label: str) -> bool:
    """ASCII digits only: '12' is a number, '①' is a label (str.isdigit says otherwise)."""
    return label.isascii() and label.isdigit()


@dataclass
class Hit:
    item: Item
    score: float

    def to_json(self) -> dict:
        return {"doc": self.item.doc, "item": self.item.item, "path": list(self.item.path),
                "score": round(float(self.score), 4)}


# -- how a reference to a law's article is matched (STARD's gold pairs, the question memory) -------------
LAW_PREFIX = "中华人民共和国"


def norm_doc(doc: str) -> str:
    """A document as STARD matches it: the stem (last "/" part, no ".md"), leading 中华人民共和国 removed."""
    stem = str(doc).strip().split("/")[-1].strip()
    stem = stem[:-3] if stem.endswith(".md") else stem
    return stem[len(LAW_PREFIX):] if stem.startswith(LAW_PREFIX) else stem


def norm_label(item: str) -> str:
    """An article as STARD matches it: its label (the last "/" part), e.g. 第五十四条."""
    return str(item).strip().split("/")[-1].strip()
