"""Hybrid retrieval over the items of the live index generation.

- ``Corpus`` holds one generation in memory: items, their BM25 index (jieba
  tokens, bm25s) and lookup tables. It is derived from Chroma, so replicas
  sharing one Chroma server agree; ``save_corpus``/``load_corpus`` keep the
  derived tables on disk per generation, so that start-up does not re-derive them.
- ``HybridRetriever.run(query)``: direct lookups ("第12条", "第五部分") come from the
  item tables; everything else is dense (Chroma through llama-index) + BM25,
  fused by a weighted sum of per-query standardised scores (weights calibrated on
  ``eval/datasets/dev.jsonl``, see ``scripts/calibrate.py``), one hit per item.
- Editions: "今年" or no year means the newest edition not later than today,
  "去年" the one before, "2024年" that year's (``choose_docs``).
- Whether the documents answer at all is decided from evidence
  (``Evidence.answerable``): do the question's content words occur in the best
  items, and does the best item stand out from the rest? A cosine threshold alone
  cannot tell: off-topic questions score like real ones.

It does not compose answers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

import numpy as np

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Hit, Item
from policy_assistant.query import Query, cn_to_int
from policy_assistant.seams import Retrieval
from policy_assistant.core.text import query_terms, search_tokens

CANDIDATES = 40           # dense candidates taken from Chroma before fusion
DENSE_WEIGHT = 0.6        # fusion weights, calibrated on the dev set (eval/calibrate.py)
BM25_WEIGHT = 0.4
MAX_HITS = 8


@dataclass
class DocInfo:
    doc: str
    title: str
    year: int | None
    series: str               # the title without its year: editions of one series share it
    items: int


class Corpus:
    """One index generation in memory, with its BM25 side and item tables."""

    def __init__(self, items: list[Item], collection: str):
        self.items = items
        self.collection = collection
        self.by_key = {item.key: index for index, item in enumerate(items)}
        self.docs: dict[str, DocInfo] = {}
        for item in items:
            info = self.docs.get(item.doc)
            if info is None:
                series = re.sub(r"(19|20)\d{2}\s*(年度|年)?", "", item.title).strip() or item.doc
                self.docs[item.doc] = DocInfo(item.doc, item.title, item.year, series, 1)
            else:
                info.items += 1
        self.doc_index = _doc_index(items)
        self._frequencies: dict[str, int] = {}

    @cached_property
    def bm25(self):
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([search_tokens(item.embedding_text()) or ["∅"] for item in self.items], show_progress=False)
        return retriever

    @cached_property
    def haystacks(self) -> list[str]:
        return [item.embedding_text().lower() for item in self.items]

    @cached_property
    def series(self) -> dict[str, list[DocInfo]]:
        """The documents grouped by series (the title without its year): editions of one series share it."""
        grouped: dict[str, list[DocInfo]] = {}
        for info in self.docs.values():
            grouped.setdefault(info.series, []).append(info)
        return grouped

    @cached_property
    def one_edition_each(self) -> bool:
        return all(len(editions) == 1 for editions in self.series.values())

    @cached_property
    def bigram_postings(self) -> "BigramPostings":
        """Character bigram -> the items whose haystack contains it (narrows ``frequency``'s scan)."""
        return BigramPostings.build(self.haystacks)

    def frequency(self, term: str) -> int:
        """In how many items ``term`` occurs (as a substring of the haystack); cached per generation."""
        count = self._frequencies.get(term)
        if count is None:
            candidates: Iterable[int] = range(len(self.items))
            if len(term) >= 2:
                for gram in {term[i:i + 2] for i in range(len(term) - 1)}:
                    ids = self.bigram_postings.get(gram)
                    if ids is None:
                        candidates = ()
                        break
                    candidates = ids if isinstance(candidates, range) else np.intersect1d(candidates, ids,
                                                                                          assume_unique=True)
            count = sum(1 for i in candidates if term in self.haystacks[i])
            if len(self._frequencies) >= 100_000:
                self._frequencies.clear()
            self._frequencies[term] = count
        return count

    def idf(self, term: str) -> float:
        """How specific a term is here: a term in few items (or none) weighs more."""
        frequency = self.frequency(term)
        return float(np.log(1 + (len(self.items) - frequency + 0.5) / (frequency + 0.5)))

    def mask(self, docs: list[str] | None) -> np.ndarray:
        if not docs:
            return np.ones(len(self.items), dtype=bool)
        mask = np.zeros(len(self.items), dtype=bool)
        for doc in docs:
            mask[self.doc_index[doc]] = True
        return mask


def _doc_index(items: list[Item]) -> dict[str, np.ndarray]:
    """doc -> the positions of its items, in one pass (O(items), not O(documents × items))."""
    positions: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        positions.setdefault(item.doc, []).append(index)
    return {doc: np.array(ids, dtype=np.int64) for doc, ids in positions.items()}


class BigramPostings:
    """Character bigram -> sorted item positions, held as three numpy arrays (the distinct bigram codes,
    sorted; offsets into ``ids``; the item positions), built without a Python loop over bigrams and saved
    and loaded as one ``.npz`` file. ``get(gram)`` answers like ``dict.get``."""

    def __init__(self, codes: np.ndarray, offsets: np.ndarray, ids: np.ndarray):
        self.codes, self.offsets, self.ids = codes, offsets, ids

    @classmethod
    def build(cls, haystacks: list[str]) -> "BigramPostings":
        code_rows, item_rows = [], []
        for index, hay in enumerate(haystacks):
            points = np.frombuffer(hay.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            if len(points) < 2:
                continue
            grams = np.unique((points[:-1] << np.uint64(21)) | points[1:])     # code points fit in 21 bits
            code_rows.append(grams)
            item_rows.append(np.full(len(grams), index, dtype=np.int32))
        if not code_rows:
            return cls(np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.int32))
        codes, ids = np.concatenate(code_rows), np.concatenate(item_rows)
        order = np.lexsort((ids, codes))
        codes, ids = codes[order], ids[order]
        distinct, starts = np.unique(codes, return_index=True)
        return cls(distinct, np.append(starts, len(codes)).astype(np.int64), ids)

    @staticmethod
    def code(gram: str) -> int:
        return (ord(gram[0]) << 21) | ord(gram[1])

    def get(self, gram: str, default=None):
        if len(gram) != 2:
            return default
        code = np.uint64(self.code(gram))
        at = int(np.searchsorted(self.codes, code))
        if at >= len(self.codes) or self.codes[at] != code:
            return default
        return self.ids[self.offsets[at]:self.offsets[at + 1]]

    def __len__(self) -> int:
        return len(self.codes)

    def save(self, path) -> None:
        np.savez(path, codes=self.codes, offsets=self.offsets, ids=self.ids)

    @classmethod
    def load(cls, path) -> "BigramPostings":
        with np.load(path) as data:
            return cls(data["codes"], data["offsets"], data["ids"])


def save_corpus(corpus: Corpus, folder) -> None:
    """Write what a replica derives from a generation (items, BM25, bigram postings) into ``folder``,
    so that the next start-up loads it (``load_corpus``) instead of re-tokenising every item. The
    caller makes the write atomic (a temporary folder, then a rename)."""
    import dataclasses
    import json
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "items.jsonl", "w", encoding="utf-8") as out:
        for item in corpus.items:
            out.write(json.dumps(dataclasses.asdict(item), ensure_ascii=False) + "\n")     # one decode per item
    corpus.bm25.save(str(folder / "bm25"), show_progress=False)
    corpus.bigram_postings.save(folder / "bigrams.npz")


def load_corpus(folder, collection: str) -> Corpus:
    """The ``Corpus`` that ``save_corpus`` wrote (BM25 memory-mapped: its matrix is paged in as used)."""
    import json
    from pathlib import Path

    import bm25s

    folder = Path(folder)
    with open(folder / "items.jsonl", encoding="utf-8") as lines:
        items = [Item(**row) for row in map(json.loads, lines)]    # a changed Item raises TypeError: re-derive
    corpus = Corpus(items, collection)
    corpus.__dict__["bm25"] = bm25s.BM25.load(str(folder / "bm25"), mmap=True, show_progress=False)
    corpus.__dict__["bigram_postings"] = BigramPostings.load(folder / "bigrams.npz")
    return corpus


VALUE_ASKED = {   # a question that asks for a value of this kind needs an item that states one
    "money": re.compile(r"多少钱|收多少|收费|学费|费用|价格|贵不贵|how much|tuition|\bfees?\b|\bcost", re.I),
    "date": re.compile(r"几月|几号|哪天|哪一天|几点|具体日期|哪个月|what date|which day|start dates?", re.I),
    "count": re.compile(r"多少人|多少名|招多少|几个人|how many people", re.I),
    "score": re.compile(r"分数线|多少分|几分|分值|cut-?off|score", re.I),
    "duration": re.compile(r"多长时间|多久|几个小时|几小时|how long", re.I),
}
VALUE_STATED = {
    "money": re.compile(r"\d[\d,.]*\s*(?:元|万元|亿元|块)"),
    "date": re.compile(r"\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|\d{4}-\d{2}-\d{2}|[一二三四五六七八九十]{1,2}月"),
    "count": re.compile(r"\d+\s*(?:人|名)|[一二三四五六七八九十百千万]+(?:人|名)"),
    "score": re.compile(r"\d+\s*分"),
    "duration": re.compile(r"(?:\d+|[一二三四五六七八九十百两半]+)\s*(?:个)?(?:小时|分钟|天|日|周|个?月|年|学期|工作日)"),
}
WEAK_COVERAGE = 0.2       # below this share (IDF-weighted) of the question's terms found, the dense side must vouch
WEAK_GAP = 0.025           # ...by the best item standing this far above the median candidate
RESCUE_GAP = 0.033        # with no term found at all, only a clear margin keeps the question
UNMATCHED_GAP = 0.02      # with no term to look for, the dense margin alone decides


@dataclass
class Evidence:
    """Why the retriever thinks the documents do or do not answer (calibrated on the dev set)."""

    coverage: float           # IDF-weighted share of the question's terms found in the best items
    dense_gap: float          # best cosine minus the median of the candidates'
    missing_value: str        # the kind of value asked for ("money", "date" …) that the best items do not state
    terms: int

    @property
    def answerable(self) -> bool:
        if self.missing_value:
            return False
        if self.terms == 0:              # nothing to match lexically (an English question the glossary misses)
            return self.dense_gap >= UNMATCHED_GAP
        if self.coverage == 0:
            return self.dense_gap >= RESCUE_GAP
        if self.coverage < WEAK_COVERAGE:
            return self.dense_gap >= WEAK_GAP
        return True

    def to_json(self) -> dict:
        return {"coverage": round(self.coverage, 3), "dense_gap": round(self.dense_gap, 4),
                "missing_value": self.missing_value, "terms": self.terms, "answerable": self.answerable}


class HybridRetriever:
    def __init__(self, corpus: Corpus, store, embedder, today):
        self.corpus = corpus
        self.store = store
        self.embedder = embedder
        self.today = today

    def run(self, query: Query) -> Retrieval:
        docs = choose_docs(query, self.corpus, self.today)
        if query.item_number is not None:
            return self._item_lookup(query.item_number, docs)
        if query.section_number is not None:
            return self._section_lookup(query.section_number, docs)
        return self._search(query, docs)

    # -- lookups ------------------------------------------------------------------------------
    def _item_lookup(self, number: int, docs: list[str] | None) -> Retrieval:
        return self._lookup(lambda item: _label_number(item.item) == number, docs, f"item {number}")

    def _section_lookup(self, number: int, docs: list[str] | None) -> Retrieval:
        return self._lookup(lambda item: len(item.path) > 1 and _label_number(item.path[0]) == number, docs,
                            f"section {number}")

    def _lookup(self, wanted, docs: list[str] | None, what: str) -> Retrieval:
        """Every allowed item ``wanted`` accepts, in document order: no search involved."""
        mask = self.corpus.mask(docs)
        hits = [Hit(item, 1.0) for index, item in enumerate(self.corpus.items) if mask[index] and wanted(item)]
        return Retrieval(hits=hits, answerable=bool(hits), lookup=True,
                         notes=[] if hits else [f"no {what} in the selected documents"])

    # -- search -------------------------------------------------------------------------------
    def scores(self, query: Query, docs: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per item: dense cosine (NaN outside the candidates), BM25, and the mask of allowed items."""
        mask = self.corpus.mask(docs)
        vector = self.embedder.embed_queries([query.text])[0]
        dense = np.full(len(self.corpus.items), np.nan, dtype=np.float32)
        k = min(CANDIDATES, int(mask.sum()))
        for key, cosine in self.store.dense_search(self.corpus.collection, vector, k, docs):
            index = self.corpus.by_key.get(key)
            if index is not None:
                dense[index] = cosine
        terms = [token for term in query_terms(query.text) for token in search_tokens(term)]
        bm25 = self.corpus.bm25.get_scores(terms) if terms else np.zeros(len(self.corpus.items))
        return dense, np.where(mask, bm25, 0.0), mask

    def _search(self, query: Query, docs: list[str] | None) -> Retrieval:
        dense, bm25, mask = self.scores(query, docs)
        fused = fuse(dense, bm25, mask)
        order = top_indices(fused, mask, MAX_HITS)
        hits = [Hit(self.corpus.items[i], float(fused[i])) for i in order]
        evidence = self.evidence(query, order, dense)
        compared = self._edition_pair(query, fused, mask) if query.compare else []
        if compared:
            hits = compared + [hit for hit in hits if hit.item.key not in {h.item.key for h in compared}]
        return Retrieval(hits=hits, answerable=evidence.answerable and bool(hits), evidence=evidence.to_json(),
                         compare=bool(compared))

    def _edition_pair(self, query: Query, fused: np.ndarray, mask: np.ndarray) -> list[Hit]:
        """For "今年和去年相比…": the best item of each of two editions of one series, newest first."""
        by_series: dict[str, list[DocInfo]] = {}
        for doc in {item.doc for index, item in enumerate(self.corpus.items) if mask[index]}:
            info = self.corpus.docs[doc]
            by_series.setdefault(info.series, []).append(info)
        pairs = [sorted(editions, key=lambda e: e.year or 0, reverse=True)[:2]
                 for editions in by_series.values() if len(editions) >= 2]
        if not pairs:
            return []
        best = []
        for info in pairs[0]:
            indices = self.corpus.doc_index[info.doc]
            top = int(indices[np.argmax(fused[indices])])
            best.append(Hit(self.corpus.items[top], float(fused[top])))
        return best

    def evidence(self, query: Query, order: list[int], dense: np.ndarray) -> Evidence:
        terms = [t for t in query_terms(query.text) if query.language == "zh" or not t.isascii()]
        best = [self.corpus.haystacks[i] for i in order[:3]]
        weights = [self.corpus.idf(term) for term in terms]
        # the terms must meet in one item: words scattered over several items do not make an answer
        found = max((sum(w for term, w in zip(terms, weights) if term in hay) for hay in best), default=0.0)
        candidates = dense[np.isfinite(dense)]
        gap = float(candidates.max() - np.median(candidates)) if candidates.size else 0.0
        stated = " ".join(best[:2])
        missing = next((kind for kind, asked in VALUE_ASKED.items()
                        if asked.search(query.text) and not VALUE_STATED[kind].search(stated)), "")
        return Evidence(coverage=found / sum(weights) if terms else 0.0, dense_gap=gap, missing_value=missing,
                        terms=len(terms))


def fuse(dense: np.ndarray, bm25: np.ndarray, mask: np.ndarray,
         dense_weight: float = DENSE_WEIGHT, bm25_weight: float = BM25_WEIGHT) -> np.ndarray:
    """Weighted sum of standardised scores. Items outside the dense candidates get the weakest dense score."""
    finite = np.isfinite(dense) & mask
    if not finite.any():
        return np.where(mask, _standardise(bm25, mask), -np.inf)
    floor = float(np.nanmin(dense[finite]))
    dense_filled = np.where(finite, dense, floor)
    fused = dense_weight * _standardise(dense_filled, mask) + bm25_weight * _standardise(bm25, mask)
    return np.where(mask, fused, -np.inf)


def top_indices(scores: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    """The ``k`` best allowed, finite scores, best first: O(n) in numpy, not a Python loop over every item."""
    allowed = np.flatnonzero(mask & np.isfinite(scores))
    if allowed.size > k:
        allowed = allowed[np.argpartition(-scores[allowed], k - 1)[:k]]
    return [int(i) for i in allowed[np.argsort(-scores[allowed], kind="stable")]]


def _standardise(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    chosen = values[mask]
    spread = float(chosen.std()) if chosen.size > 1 else 0.0
    return (values - float(chosen.mean())) / spread if spread > 1e-9 else np.zeros_like(values, dtype=np.float64)


def _label_number(label: str) -> int | None:
    core = re.sub(r"^第|[条章节部分、.．\s]+$", "", label.strip())
    return cn_to_int(core)


def choose_docs(query: Query, corpus: Corpus, today) -> list[str] | None:
    """Which documents this question may draw on (None: all)."""
    if query.doc:
        if query.doc not in corpus.docs:
            known = ", ".join(sorted(corpus.docs)) or "none"
            raise BadInput(f"unknown document {query.doc!r}; indexed documents: {known}")
        return [query.doc]
    if corpus.one_edition_each:
        return None
    chosen = []
    for editions in corpus.series.values():
        if len(editions) == 1:
            chosen.append(editions[0].doc)
            continue
        chosen.extend(info.doc for info in pick_editions(editions, query, today))
    return chosen


def pick_editions(editions: list[DocInfo], query: Query, today) -> list[DocInfo]:
    dated = sorted((e for e in editions if e.year), key=lambda e: e.year)
    if not dated:
        return editions
    current = [e for e in dated if e.year <= today.year] or dated[:1]
    newest = current[-1]
    picked = []
    for ref in query.years or []:
        if ref.kind == "exact":
            picked += [e for e in dated if e.year == ref.year]
        elif ref.kind == "last":
            picked += [e for e in dated if e.year == newest.year - 1] or current[-2:-1]
        else:
            picked.append(newest)
    picked = list({e.doc: e for e in picked}.values())
    return picked or [newest]
