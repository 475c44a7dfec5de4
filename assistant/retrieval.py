"""Hybrid retrieval over the items of the live index generation.

- ``Corpus`` holds one generation in memory: items, their BM25 index (jieba
  tokens, bm25s) and lookup tables. It is derived from Chroma, so replicas
  sharing one Chroma server agree; ``save_corpus``/``load_corpus`` keep the
  derived tables on disk per generation, so that start-up does not re-derive them.
- ``HybridRetriever.run(query)``: direct lookups ("第12条", "第五部分") come from the
  item tables; everything else is dense (every item's cosine, in memory) + BM25
  (the question's terms plus the statute words its everyday words point to:
  ``LayTerms`` in ``data/lay_terms.tsv``, ``lexical_scores``), fused by a weighted
  sum of per-query features (``RankModel``, weights in
  ``data/ranker.json``: each score as a share of the best item's lead over the median,
  so a weight means the same over 30 items and 11k articles), one hit per item. Two
  features come from the ``QuestionMemory`` (``data/question_memory.npz``): the nearest
  earlier questions vote for the articles that answered them, and how often an article
  answered earlier questions; they act only on the articles an index holds. One more comes
  from the ``QueryAdapter`` (``data/query_adapter.npz``): the cosine of the question vector
  after a learned linear map towards statute wording, beside the plain cosine, as far as
  the memory's nearest questions have their answers in the index.
- Editions: "今年" or no year means the newest edition in force (not later than
  today), "去年" the one before, "2024年" that year's (``choose_docs``).
- Validity: a document not in force yields the top place to an in-force item
  scoring within ``IN_FORCE_MARGIN`` of it; "这个文件还有效吗" questions retrieve the
  document asked about (named, or the best match) with the item stating its status first.
- Whether the documents answer at all is decided from evidence
  (``Evidence.answerable``, ``RefusalModel`` in ``data/refusal.json``): do the
  question's content words (weighted by jieba's general IDF, not the corpus's) occur
  together in the best items, and does the best item's dense score beat what the best
  of that many items reaches by chance? A cosine threshold alone cannot tell:
  off-topic questions score like real ones.

It does not compose answers.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Hit, Item, Validity, norm_doc, norm_label
from policy_assistant.core.numerals import cn_to_int
from policy_assistant.index.validity import asks_validity, normalise_title, series_of
from policy_assistant.query import Query
from policy_assistant.seams import Retrieval
from policy_assistant.core.text import query_terms, search_tokens

CANDIDATES = 40           # dense candidates taken from Chroma before fusion
DENSE_WEIGHT = 0.6        # the fallback weights when data/ranker.json is missing (the old dev-set choice)
BM25_WEIGHT = 0.4
MAX_HITS = 8              # hits handed to the answer generator
MAX_TOP_K = 200           # the most hits a caller may ask for (`--top-k`)
IN_FORCE_MARGIN = 1.0     # fused-score units (standard deviations): how far an in-force item may trail and still lead


@dataclass
class DocInfo:
    doc: str
    title: str
    year: int | None
    series: str               # issuer + the title without its year: editions of one series share it
    items: int


class Corpus:
    """One index generation in memory, with its BM25 side and item tables."""

    def __init__(self, items: list[Item], collection: str, vectors: np.ndarray | None = None):
        self.items = items
        self.collection = collection
        # the items' unit vectors, row i for item i: dense scores over every item in one product (ms at 56k)
        self.vectors = vectors if vectors is not None and len(vectors) == len(items) and len(items) else None
        self.by_key = {item.key: index for index, item in enumerate(items)}
        self.docs: dict[str, DocInfo] = {}
        for item in items:
            info = self.docs.get(item.doc)
            if info is None:
                # two cities' 《2025年教育工作要点》 are two series: the issuer is part of the series
                series = f"{item.office.strip()}\x00{series_of(item.title, item.doc)}"
                self.docs[item.doc] = DocInfo(item.doc, item.title, item.year, series, 1)
            else:
                info.items += 1
        self.doc_index = _doc_index(items)
        self._frequencies: dict[str, int] = {}
        self.validity: dict[str, Validity] = {}
        self.validity_stamp = 0.0           # the pointer's built_at when ``validity`` was attached

    def attach_validity(self, validity: dict[str, Validity]) -> None:
        """Give every item its document's status (``index.validity.statuses``); titles of successors filled in."""
        for value in validity.values():
            if value.successor in self.docs:
                value.successor_title = self.docs[value.successor].title
        self.validity = validity
        for item in self.items:
            item.validity = validity.get(item.doc)

    def in_force(self, doc: str) -> bool:
        value = self.validity.get(doc)
        return value is None or value.in_force

    @cached_property
    def bm25(self):
        import bm25s

        retriever = bm25s.BM25()
        retriever.index([search_tokens(item.embedding_text()) or ["∅"] for item in self.items], show_progress=False)
        return retriever

    @cached_property
    def doc_ids(self) -> np.ndarray:
        """Per item, the number of its document (for document-level evidence)."""
        numbers = {doc: n for n, doc in enumerate(self.docs)}
        return np.array([numbers[item.doc] for item in self.items], dtype=np.int32)

    @cached_property
    def neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Per item, the previous and next item of the same document in document order (itself at the ends)."""
        previous = np.arange(len(self.items))
        following = np.arange(len(self.items))
        for indices in self.doc_index.values():
            ordered = indices[np.argsort([self.items[i].order for i in indices], kind="stable")]
            previous[ordered[1:]] = ordered[:-1]
            following[ordered[:-1]] = ordered[1:]
        return previous, following

    @cached_property
    def short_titles(self) -> list[str]:
        """Per document, the name a question would use for it: the title without 中华人民共和国 and 《》."""
        out = []
        for info in self.docs.values():
            name = re.sub(r"^中华人民共和国|[《》]", "", info.title or info.doc).strip()
            out.append(name if len(name) >= 3 else "")
        return out

    def named_docs(self, text: str, by_series: bool = False) -> list[str]:
        """The documents the question names by title ("劳动合同法第十条", "《不动产登记暂行条例》还有效吗"), the longest
        name first; a name inside a longer named one (劳动法 in 劳动合同法) does not count. With ``by_series``,
        when no title is named, every edition of a series the question names ("教育工作要点还有效吗")."""
        asked = normalise_title(text)
        found = [(name, doc) for name, doc in zip(map(normalise_title, self.short_titles), self.docs)
                 if name and name in asked]
        found.sort(key=lambda pair: -len(pair[0]))
        kept: list[tuple[str, str]] = []
        for name, doc in found:
            if not any(name in longer and name != longer for longer, _ in kept):
                kept.append((name, doc))
        if kept or not by_series:
            return [doc for _, doc in kept]
        return [doc for doc, info in self.docs.items()
                if len(name := normalise_title(info.series.split("\x00")[-1])) >= 4 and name in asked]

    def knows_title(self, name: str) -> bool:
        """Whether ``name`` (a title a question names) is, or is part of, the title or series of an indexed
        document, or the other way round ("工作要点" and 《2025年教育工作要点》 both count)."""
        wanted = normalise_title(re.sub(r"^中华人民共和国", "", name))
        if not wanted:
            return True
        for info in self.docs.values():
            for known in (info.title or info.doc, info.series.split("\x00")[-1]):
                known = normalise_title(re.sub(r"^中华人民共和国", "", known or ""))
                if known and (wanted in known or (len(known) >= 3 and known in wanted)):
                    return True
        return False

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


RANKER_FILE = Path(__file__).resolve().parent / "data" / "ranker.json"
FEATURES = ("dense", "bm25", "dense_scaled", "bm25_scaled", "adapted_dense", "prf_dense", "doc_dense", "doc_bm25",
            "neighbour_dense", "title_named", "memory", "cited")
MEMORY_FEATURES = ("memory", "cited")     # the features the question memory gives (``make fit-memory`` fits them)


@dataclass(frozen=True)
class RankModel:
    """How items are scored: a weighted sum of per-query standardised features (``item_features``).

    The weights are learned (``eval/stard_fit.py``, ``make fit-ranker``) and ship in ``data/ranker.json``;
    the defaults below are the plain dense/BM25 sum, used when the file is missing."""

    weights: dict = field(default_factory=lambda: {"dense": DENSE_WEIGHT, "bm25": BM25_WEIGHT})
    prf_depth: int = 5          # pseudo-relevance feedback: the question vector moves towards the top items
    prf_weight: float = 0.0     # how far (0: no feedback)
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path = RANKER_FILE) -> "RankModel":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read the ranking model {path}: {exc}") from None
        weights = {name: float(w) for name, w in data.get("weights", {}).items() if name in FEATURES}
        return cls(weights=weights or cls().weights, prf_depth=int(data.get("prf_depth", 5)),
                   prf_weight=float(data.get("prf_weight", 0.0)), fitted_on=str(data.get("fitted_on", "")))

    def score(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return sum(w * features[name] for name, w in self.weights.items() if w)


@lru_cache(maxsize=1)
def default_rank_model() -> RankModel:
    return RankModel.load()


def item_features(corpus: "Corpus", query_vector: np.ndarray | None, dense: np.ndarray, bm25: np.ndarray,
                  question: str, mask: np.ndarray, model: RankModel,
                  memory: "QuestionMemory | None" = None,
                  adapter: "QueryAdapter | None" = None) -> dict[str, np.ndarray]:
    """Per item, features standardised over the allowed items (so they mean the same at any corpus size).

    - dense / bm25: the question against the item (dense NaN outside the candidates gets the weakest score);
    - dense_scaled / bm25_scaled: the same scores as a share of the best item's lead over the median item
      (``_top_scaled``). Unlike z-scores, whose maximum grows with the number of items (BM25's long tail
      reaches z 10 over 11k articles and 2-3 over 30 items), these are 1 for the best item at any corpus size,
      so fusion weights on them mean the same on a 30-item plan and a law library;
    - adapted_dense: like dense_scaled, for the question vector mapped by the ``QueryAdapter``, times the
      memory's reach (the share of the nearest earlier questions' weight whose answers the index holds): the
      adapter bends questions like the ones it learned from, where the index holds the laws they were about.
      0 everywhere without an adapter or a memory for this embedder, over a corpus holding none of the
      memory's answers (the bundled plan: its ranking is what it was without the adapter), or when the item
      vectors are not in memory;
    - prf_dense: the question vector moved towards its best items (Rocchio feedback), against the item;
    - doc_dense / doc_bm25: the best item score of the item's document (document-level evidence);
    - neighbour_dense: the better dense score of the items right before and after it;
    - title_named: 1 when the question names the item's document ("劳动合同法…");
    - memory: the share of the nearest earlier questions' weight that votes for the item
      (``QuestionMemory.votes``; 0 everywhere without a memory or when the corpus holds none of its answers);
    - cited: log(1 + how many earlier questions the item answered) (``QuestionMemory.cited``: what people ask).
    """
    finite = np.isfinite(dense) & mask
    floor = float(np.nanmin(dense[finite])) if finite.any() else 0.0
    z_dense = _standardise(np.where(finite, dense, floor), mask)
    z_bm25 = _standardise(bm25, mask)
    out = {"dense": z_dense, "bm25": z_bm25}
    wanted = {name for name, w in model.weights.items() if w}
    if "dense_scaled" in wanted:
        out["dense_scaled"] = _top_scaled(np.where(finite, dense, floor), mask)
    if "bm25_scaled" in wanted:
        out["bm25_scaled"] = _top_scaled(bm25, mask)
    votes = None
    if wanted & {"memory", "adapted_dense"} and memory is not None and query_vector is not None:
        votes = memory.votes(corpus, query_vector)
    if "adapted_dense" in wanted:
        reach = float(votes.sum()) if votes is not None else 0.0
        if reach and adapter is not None and corpus.vectors is not None:
            mapped = _top_scaled(corpus.vectors @ adapter.apply(query_vector), mask)
            out["adapted_dense"] = np.where(mask, reach * mapped, 0.0)
        else:
            out["adapted_dense"] = np.zeros(len(corpus.items))
    if "prf_dense" in wanted:
        if model.prf_weight and corpus.vectors is not None and query_vector is not None:
            first = model.weights.get("dense", 0.8) * z_dense + model.weights.get("bm25", 0.2) * z_bm25
            top = top_indices(np.where(mask, first, -np.inf), mask, model.prf_depth)
            moved = query_vector + model.prf_weight * corpus.vectors[top].mean(axis=0)
            moved /= np.linalg.norm(moved) or 1.0
            out["prf_dense"] = _standardise(corpus.vectors @ moved, mask)
        else:
            out["prf_dense"] = z_dense
    if wanted & {"doc_dense", "doc_bm25"}:
        ids = corpus.doc_ids
        for name, values in (("doc_dense", z_dense), ("doc_bm25", z_bm25)):
            best = np.full(len(corpus.docs), -np.inf)
            np.maximum.at(best, ids, np.where(mask, values, -np.inf))
            out[name] = np.where(mask, best[ids], 0.0)
    if "neighbour_dense" in wanted:
        previous, following = corpus.neighbours
        out["neighbour_dense"] = np.maximum(z_dense[previous], z_dense[following])
    if "title_named" in wanted:
        named = np.array([bool(title) and title in question for title in corpus.short_titles], dtype=np.float64)
        out["title_named"] = named[corpus.doc_ids]
    if "memory" in wanted:
        out["memory"] = np.zeros(len(corpus.items)) if votes is None else np.where(mask, votes, 0.0)
    if "cited" in wanted:
        cited = memory.cited(corpus) if memory is not None else None
        out["cited"] = np.zeros(len(corpus.items)) if cited is None else np.where(mask, cited, 0.0)
    return out


LAY_TERMS_FILE = Path(__file__).resolve().parent / "data" / "lay_terms.tsv"


@dataclass(frozen=True)
class LayTerms:
    """The statute words a question's everyday words point to ("辞退" → 解除, 劳动合同, 用人单位 …).

    Learned from STARD's train pairs (question words against the words of the articles that answer them,
    ``eval/lay_terms_fit.py``, ``make fit-lay-terms``) and shipped in ``data/lay_terms.tsv``: one line per
    (everyday word, statute word, association), the weight of the expansion in a ``# weight:`` header line.
    The table names no corpus's entities: its keys are the words people ask with, so it applies to any
    corpus; a word it does not know expands to nothing. A question word the documents themselves use in
    more than ``max_share`` of their items is taken as the documents' own word and not translated (a share,
    so it means the same over 30 items and 11k articles: "学校" in an education plan stays 学校)."""

    table: dict = field(default_factory=dict)
    weight: float = 0.0
    max_share: float = 1.0
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path = LAY_TERMS_FILE) -> "LayTerms":
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise BadInput(f"cannot read the lay-term table {path}: {exc}") from None
        table: dict[str, list[tuple[str, float]]] = {}
        header: dict[str, str] = {}
        for number, line in enumerate(lines, 1):
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                header[key.strip()] = value.strip()
                continue
            if not line.strip():
                continue
            parts = line.split("\t")
            try:
                lay, statute, association = parts[0], parts[1], float(parts[2])
            except (IndexError, ValueError):
                raise BadInput(f"{path}, line {number}: expected 'word<TAB>statute word<TAB>number'") from None
            table.setdefault(lay, []).append((statute, association))
        try:
            weight, max_share = float(header.get("weight", 0.0)), float(header.get("max_share", 1.0))
        except ValueError:
            raise BadInput(f"{path}: the '# weight:' or '# max_share:' line is not a number") from None
        return cls(table, weight, max_share, header.get("fitted_on", ""))

    def expand(self, terms: list[str]) -> dict[str, float]:
        """The statute words ``terms`` point to, with shares summing to 1 (none the question already has)."""
        shares: dict[str, float] = {}
        for term in terms:
            for statute, association in self.table.get(term, ()):
                if statute not in terms:
                    shares[statute] = shares.get(statute, 0.0) + association
        total = sum(shares.values())
        return {word: share / total for word, share in shares.items()} if total > 0 else {}


@lru_cache(maxsize=1)
def default_lay_terms() -> LayTerms:
    return LayTerms.load()


def lexical_parts(corpus: "Corpus", text: str, lay_terms: LayTerms | None = None,
                  expand: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per item: BM25 of the question's own terms, and BM25 of the statute words its everyday words point
    to (each word weighted by its share, ``LayTerms.expand``; zeros when not ``expand``)."""
    terms = query_terms(text)
    own = _bm25(corpus, terms)
    expanded = np.zeros(len(corpus.items))
    if expand:
        lay_terms = lay_terms or default_lay_terms()
        limit = lay_terms.max_share * len(corpus.items)
        foreign = [term for term in terms if lay_terms.max_share >= 1.0 or corpus.frequency(term) <= limit]
        for word, share in lay_terms.expand(foreign).items():
            if word not in terms:
                expanded += share * _bm25(corpus, [word])
    return own, expanded


def lexical_scores(corpus: "Corpus", text: str, lay_terms: LayTerms | None = None) -> np.ndarray:
    """The BM25 side of the search: the question's terms plus the weighted lay-term expansion."""
    lay_terms = lay_terms or default_lay_terms()
    own, expanded = lexical_parts(corpus, text, lay_terms, expand=bool(lay_terms.weight))
    return own + lay_terms.weight * expanded


def _bm25(corpus: "Corpus", words: list[str]) -> np.ndarray:
    tokens = [token for word in words for token in search_tokens(word)]
    return corpus.bm25.get_scores(tokens) if tokens else np.zeros(len(corpus.items))


MEMORY_FILE = Path(__file__).resolve().parent / "data" / "question_memory.npz"


def _read_array_file(path: Path, name: str, what: str) -> tuple[dict, np.ndarray] | None:
    """(metadata, array ``name`` as float32) of a shipped ``.npz`` (None when missing; damaged: ``BadInput``)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"])), np.asarray(data[name], dtype=np.float32)
    except FileNotFoundError:
        return None
    except (OSError, KeyError, ValueError) as exc:
        raise BadInput(f"cannot read the {what} {path}: {exc}") from None


def _write_array_file(path: Path, name: str, array: np.ndarray, meta: dict) -> None:
    """An ``.npz`` with ``array`` (as float16: these ship in the package) and the metadata as JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        np.savez_compressed(out, **{name: np.asarray(array).astype(np.float16)},
                            meta=np.array(json.dumps(meta, ensure_ascii=False, indent=1)))


@dataclass(frozen=True, eq=False)
class QuestionMemory:
    """Questions people asked before and the articles that answered them; a new question's nearest ones vote.

    Learned from STARD's train split (``eval/memory_fit.py``, ``make fit-memory``) and shipped in
    ``data/question_memory.npz``: each earlier question's vector (made by ``model``, the embedder the memory
    only works with) and its answering articles as (document, label) pairs matched the way STARD matches them
    (``core.model.norm_doc``/``norm_label``). For a question vector, the ``neighbours`` most similar earlier
    questions get softmax weights (``temperature``); an item's vote is the weight of the questions it answered
    (shared among a question's articles); apart from the question, how often an article answered earlier
    questions (``cited``) is a prior of what people ask. Articles a corpus does not hold get no vote, so over
    a corpus without those laws (the bundled plan) the memory changes nothing.
    """

    model: str = ""
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    ids: tuple = ()
    answers: tuple = ()          # per question: ((doc key, label), ...)
    neighbours: int = 30
    temperature: float = 0.05
    fitted_on: str = ""
    excluded: str | None = None  # an id whose question does not vote (a train question asked of its own memory)
    _targets: list = field(default_factory=list, repr=False)   # [(corpus, its answer table)], shared by ``without``'s copies

    @classmethod
    def load(cls, path: Path = MEMORY_FILE) -> "QuestionMemory":
        """The shipped memory (an empty one when the file is missing); a damaged file is a ``BadInput``."""
        found = _read_array_file(path, "vectors", "question memory")
        if found is None:
            return cls()
        meta, vectors = found
        answers = tuple(tuple((str(doc), str(label)) for doc, label in refs) for refs in meta.get("answers", []))
        if len(answers) != len(vectors) or len(meta.get("ids", [])) != len(vectors):
            raise BadInput(f"the question memory {path} is inconsistent: {len(vectors)} vectors, "
                           f"{len(answers)} answer lists, {len(meta.get('ids', []))} ids")
        return cls(model=str(meta.get("model", "")), vectors=vectors, ids=tuple(meta["ids"]), answers=answers,
                   neighbours=int(meta.get("neighbours", 30)), temperature=float(meta.get("temperature", 0.05)),
                   fitted_on=str(meta.get("fitted_on", "")))

    def save(self, path: Path, extra: dict | None = None) -> None:
        meta = {"model": self.model, "neighbours": self.neighbours, "temperature": self.temperature,
                "fitted_on": self.fitted_on, "ids": list(self.ids), "answers": [list(map(list, a)) for a in self.answers]}
        _write_array_file(path, "vectors", self.vectors, meta | (extra or {}))

    def for_embedder(self, name: str, dimension: int | None = None) -> "QuestionMemory | None":
        """This memory when its vectors were made by embedder ``name`` (else None: vectors do not compare)."""
        if not len(self.ids) or name != self.model:
            return None
        if dimension is not None and dimension != self.vectors.shape[1]:
            return None
        return self

    def targets(self, corpus: "Corpus") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(memory question, item, share) for every answer ``corpus`` holds (worked out once per corpus)."""
        if self._targets and self._targets[0][0] is corpus:
            return self._targets[0][1]
        by_ref = {(norm_doc(item.doc), norm_label(item.item)): i for i, item in enumerate(corpus.items)}
        rows = [(q, by_ref[ref], 1.0 / len(refs)) for q, refs in enumerate(self.answers) for ref in refs
                if ref in by_ref]
        found = (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.int64),
                 np.array([r[2] for r in rows], dtype=np.float64))
        self._targets[:] = [(corpus, found)]     # one corpus at a time (a new generation replaces the old)
        return found

    def without(self, question_id: str) -> "QuestionMemory":
        """The same memory with that question left out (how a train question is measured: leave one out)."""
        return replace(self, excluded=question_id)

    def cited(self, corpus: "Corpus") -> np.ndarray | None:
        """Per item of ``corpus``, log(1 + the number of earlier questions it answered) (None: no answer held);
        the ``excluded`` question's own answers are not counted."""
        questions, items, _ = self.targets(corpus)
        if not len(items):
            return None
        counted = items if self.excluded not in self.ids else items[questions != self.ids.index(self.excluded)]
        return np.log1p(np.bincount(counted, minlength=len(corpus.items)).astype(np.float64))

    def votes(self, corpus: "Corpus", query_vector: np.ndarray) -> np.ndarray | None:
        """Per item of ``corpus``, its share of the nearest earlier questions' weight (None: no answer held)."""
        questions, items, shares = self.targets(corpus)
        if not len(items):
            return None
        similarity = self.vectors @ np.asarray(query_vector, dtype=np.float32)
        if self.excluded is not None and self.excluded in self.ids:
            similarity[self.ids.index(self.excluded)] = -np.inf
        k = min(self.neighbours, len(similarity))
        nearest = np.argpartition(-similarity, k - 1)[:k]
        nearest = nearest[np.isfinite(similarity[nearest])]
        weight = np.zeros(len(similarity))
        if len(nearest):
            top = similarity[nearest]
            weight[nearest] = np.exp((top - top.max()) / self.temperature)
            weight /= weight.sum()
        out = np.zeros(len(corpus.items))
        np.add.at(out, items, weight[questions] * shares)
        return out


@lru_cache(maxsize=1)
def default_question_memory() -> QuestionMemory:
    return QuestionMemory.load()


ADAPTER_FILE = Path(__file__).resolve().parent / "data" / "query_adapter.npz"


@dataclass(frozen=True, eq=False)
class QueryAdapter:
    """A learned linear map of question vectors: ``q -> q + delta @ q``, towards the articles that answered
    questions like it (everyday words bent towards statute words, in the embedder's own space).

    Learned from STARD's train split (``eval/adapter_fit.py``, ``make fit-adapter``: a softmax over every
    article, ``delta`` held near zero by a penalty) and shipped in ``data/query_adapter.npz`` with the
    embedder it was fitted for (``model``); its score is one more ranking feature (``adapted_dense``), beside
    the plain cosine, never instead of it, weighed by how far the question memory's nearest questions have
    their answers in the index (``item_features``). Item vectors are not changed, so an index needs no rebuild.
    """

    model: str = ""
    delta: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    fitted_on: str = ""

    @classmethod
    def load(cls, path: Path = ADAPTER_FILE) -> "QueryAdapter":
        """The shipped adapter (an empty one when the file is missing); a damaged file is a ``BadInput``."""
        found = _read_array_file(path, "delta", "query adapter")
        if found is None:
            return cls()
        meta, delta = found
        if delta.ndim != 2 or delta.shape[0] != delta.shape[1]:
            raise BadInput(f"the query adapter {path} is not a square matrix: {delta.shape}")
        return cls(model=str(meta.get("model", "")), delta=delta, fitted_on=str(meta.get("fitted_on", "")))

    def save(self, path: Path, extra: dict | None = None) -> None:
        _write_array_file(path, "delta", self.delta, {"model": self.model, "fitted_on": self.fitted_on, **(extra or {})})

    def for_embedder(self, name: str, dimension: int | None = None) -> "QueryAdapter | None":
        """This adapter when it was fitted for embedder ``name`` (else None: another space)."""
        if not self.delta.size or name != self.model:
            return None
        if dimension is not None and dimension != self.delta.shape[0]:
            return None
        return self

    def apply(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32)
        return vector + self.delta @ vector


@lru_cache(maxsize=1)
def default_query_adapter() -> QueryAdapter:
    return QueryAdapter.load()


REFUSAL_FILE = Path(__file__).resolve().parent / "data" / "refusal.json"
EVIDENCE_FEATURES = ("dense_excess", "bm25_excess", "fused_excess", "fused_margin", "coverage", "coverage_top1",
                     "missing", "terms", "value_unstated")
VALUE_WORDS_FILE = Path(__file__).resolve().parent / "data" / "value_words.tsv"
_NUMBER = r"(?:[0-9０-９]+(?:[.．][0-9０-９]+)?|[零〇一二两三四五六七八九十百千万亿]+)"


@dataclass(frozen=True)
class ValueWords:
    """The general interrogatives of quantity and time and the measure words (``data/value_words.tsv``)."""

    asks: dict[str, str]
    counters: tuple[str, ...]
    units: dict[str, tuple[str, ...]]

    @classmethod
    @lru_cache(maxsize=4)
    def load(cls, path: Path = VALUE_WORDS_FILE) -> "ValueWords":
        asks, counters, units = {}, [], {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            kind, word, *rest = line.split("\t")
            if kind == "ask":
                asks[word.lower()] = rest[0]
            elif kind == "counter":
                counters.append(word)
            elif kind == "unit":
                units[word] = tuple(rest[0].split())
            else:
                raise ValueError(f"{path}: unknown line kind {kind!r}")
        return cls(asks, tuple(counters), units)

    @cached_property
    def unit_pattern(self) -> str:
        return "|".join(re.escape(u) for u in sorted(self.units, key=len, reverse=True))


def value_kinds_asked(question: str, words: ValueWords | None = None) -> set[str]:
    """The kinds of value (amount, date, duration, score, count, ...) ``question`` asks for; empty when
    it asks for none. "几分" asks for a score, "几分钟" for a duration, a bare "多少" for any number."""
    words = words or ValueWords.load()
    text = question.lower()
    kinds = {kind for word, kind in words.asks.items()
             if (re.search(rf"\b{re.escape(word)}\b", text) if word.isascii() else word in text)}
    for counter in words.counters:
        for m in re.finditer(rf"{re.escape(counter)}(?:个)?({words.unit_pattern})?", text):
            unit = m.group(1)
            if unit is None and m.group(0) == counter and counter != "多少":
                continue                                   # "几乎": 几 needs a measure word
            kinds.update(words.units.get(unit or "", ()) or (("count",) if m.group(0).endswith("个") else ("number",)))
    return kinds


def value_kinds_stated(text: str, words: ValueWords | None = None) -> set[str]:
    """The kinds of value the numbers in ``text`` state: a number (digits, or a Chinese numeral that
    ``cn_to_int`` reads) followed by a measure word, or a fraction ("百分之十", "三分之二": a ratio)."""
    words = words or ValueWords.load()
    kinds: set[str] = set()
    for m in re.finditer(rf"({_NUMBER})({words.unit_pattern})", text):
        number = m.group(1)
        if number[0].isdigit() or number[0] in "０１２３４５６７８９" or cn_to_int(number) is not None:
            kinds.update(words.units[m.group(2)])
    if re.search(rf"(?:百|{_NUMBER})分之{_NUMBER}", text):         # 百分之十, 三分之二
        kinds.add("ratio")
    return kinds


def value_unstated(question: str, haystacks: Iterable[str], words: ValueWords | None = None) -> float:
    """1.0 when the question asks for a kind of value and none of ``haystacks`` states a value of that
    kind ("number" is met by any stated value); 0.0 otherwise."""
    asked = value_kinds_asked(question, words)
    if not asked:
        return 0.0
    stated: set[str] = set()
    for hay in haystacks:
        stated |= value_kinds_stated(hay, words)
    if "number" in asked and stated:
        return 0.0
    return 0.0 if asked & stated else 1.0


@lru_cache(maxsize=1)
def _general_idf() -> tuple[dict[str, float], float, float]:
    """jieba's own IDF table (general Chinese text, shipped with jieba): (word -> IDF, median, max).

    Unlike the corpus's own IDF it does not depend on which documents are indexed or how many, so the
    refusal evidence built on it means the same over a 30-item plan and a 50k-article law library."""
    import jieba.analyse

    table = jieba.analyse.TFIDF()
    return table.idf_freq, float(table.median_idf), float(max(table.idf_freq.values()))


def general_idf(term: str) -> float:
    """How specific ``term`` is in general Chinese (jieba's table; unknown words get its median)."""
    freq, median, _ = _general_idf()
    return float(freq.get(term, median))


def expected_max_z(n: int) -> float:
    """Roughly the largest of ``n`` standard-normal scores: what the best item reaches by chance alone."""
    if n < 3:
        return 0.0
    two_log = 2.0 * float(np.log(n))
    return float(np.sqrt(two_log) - (np.log(np.log(n)) + np.log(4 * np.pi)) / (2 * np.sqrt(two_log)))


@dataclass(frozen=True)
class RefusalModel:
    """Whether the documents answer: a logistic regression over evidence that keeps its meaning at any
    corpus size (standardised scores minus what the best of that many items reaches by chance, the
    best item's margin, term coverage). Fitted by ``eval/refusal_fit.py`` (``make fit-refusal``); the
    threshold is chosen on the fit data, its held-out figures are in the file."""

    coef: dict = field(default_factory=dict)
    intercept: float = 0.0
    threshold: float = 0.5
    fitted_on: str = ""
    vetoes: tuple = ()                        # evidence that refuses by itself when it is 1 (value_unstated)

    @classmethod
    def load(cls, path: Path = REFUSAL_FILE) -> "RefusalModel":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()                      # not fitted: nothing is refused on evidence
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot read the answerability model {path}: {exc}") from None
        return cls(coef={k: float(v) for k, v in data.get("coef", {}).items() if k in EVIDENCE_FEATURES},
                   intercept=float(data.get("intercept", 0.0)), threshold=float(data.get("threshold", 0.5)),
                   fitted_on=str(data.get("fitted_on", "")),
                   vetoes=tuple(v for v in data.get("vetoes", ()) if v in EVIDENCE_FEATURES))

    def probability(self, features: dict[str, float]) -> float:
        if any(features.get(name, 0.0) >= 0.5 for name in self.vetoes):
            return 0.0                        # e.g. asks for an amount and no best item states one
        if not self.coef:
            return 1.0
        logit = self.intercept + sum(w * features[name] for name, w in self.coef.items())
        return float(1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50))))


@lru_cache(maxsize=1)
def default_refusal_model() -> RefusalModel:
    return RefusalModel.load()


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
    """Write what a replica derives from a generation (items, their vectors, BM25, bigram postings) into ``folder``,
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
    if corpus.vectors is not None:
        np.save(folder / "vectors.npy", corpus.vectors)


def load_corpus(folder, collection: str) -> Corpus:
    """The ``Corpus`` that ``save_corpus`` wrote (BM25 memory-mapped: its matrix is paged in as used)."""
    import json
    from pathlib import Path

    import bm25s

    folder = Path(folder)
    with open(folder / "items.jsonl", encoding="utf-8") as lines:
        items = [Item(**row) for row in map(json.loads, lines)]    # a changed Item raises TypeError: re-derive
    vectors = np.load(folder / "vectors.npy", mmap_mode="r") if (folder / "vectors.npy").exists() else None
    corpus = Corpus(items, collection, vectors)
    corpus.__dict__["bm25"] = bm25s.BM25.load(str(folder / "bm25"), mmap=True, show_progress=False)
    corpus.__dict__["bigram_postings"] = BigramPostings.load(folder / "bigrams.npz")
    return corpus




@dataclass
class Evidence:
    """Why the retriever thinks the documents do or do not answer (``RefusalModel``)."""

    features: dict
    probability: float
    threshold: float

    @property
    def answerable(self) -> bool:
        return self.probability >= self.threshold

    def to_json(self) -> dict:
        return {**{k: round(v, 4) for k, v in self.features.items()}, "probability": round(self.probability, 4),
                "threshold": round(self.threshold, 4), "answerable": self.answerable}


def evidence_features(corpus: "Corpus", query: Query, features: dict[str, np.ndarray], fused: np.ndarray,
                      order: list[int], mask: np.ndarray) -> dict[str, float]:
    """The evidence the answerability model reads, each comparable across corpus sizes.

    - dense_excess / bm25_excess / fused_excess: the best item's standardised score minus the expected
      maximum of that many standard-normal scores (chance alone);
    - fused_margin: how far the best item stands above the tenth, in standard deviations of the scores;
    - coverage / coverage_top1: the IDF-weighted share of the question's content words that occur together
      in one of the three best items / in the best item, weighted by jieba's general IDF (not the corpus's:
      its meaning must not change with the corpus); missing: the most specific question word none of the
      three best items has; terms: how many content words the question has (log);
    - value_unstated: 1 when the question asks for a kind of value (``data/value_words.tsv``) that none of
      the three best items states, else 0."""
    allowed = int(mask.sum())
    chance = expected_max_z(allowed)
    top = order[0] if order else None
    finite = fused[mask & np.isfinite(fused)]
    spread = float(finite.std()) if finite.size > 1 else 0.0
    out = {"dense_excess": 0.0, "bm25_excess": 0.0, "fused_excess": 0.0, "fused_margin": 0.0}
    if top is not None:
        out["dense_excess"] = float(features["dense"][top]) - chance
        out["bm25_excess"] = float(np.max(features["bm25"][mask])) - chance
        if spread > 1e-9:
            out["fused_excess"] = (float(fused[top]) - float(finite.mean())) / spread - chance
            tenth = order[min(9, len(order) - 1)]
            out["fused_margin"] = (float(fused[top]) - float(fused[tenth])) / spread
    terms = [t for t in query_terms(query.text) if query.language == "zh" or not t.isascii()]
    weights = [general_idf(term) for term in terms]
    total = sum(weights)
    best = [corpus.haystacks[i] for i in order[:3]]

    def covered(hay: str) -> float:
        return sum(w for term, w in zip(terms, weights) if term in hay) / total if total > 0 else 0.0

    # the terms must meet in one item: words scattered over several items do not make an answer
    out["coverage"] = max((covered(hay) for hay in best), default=0.0)
    out["coverage_top1"] = covered(best[0]) if best else 0.0
    # the most specific question word that none of the best items has (0..1 of jieba's largest IDF)
    absent = [w for term, w in zip(terms, weights) if not any(term in hay for hay in best)]
    out["missing"] = max(absent, default=0.0) / _general_idf()[2]
    out["terms"] = float(np.log1p(len(terms)))
    # the question asks for a value (an amount, a date, a duration ...) and no best item states one of that kind
    out["value_unstated"] = value_unstated(query.text, best)
    return out


class HybridRetriever:
    def __init__(self, corpus: Corpus, store, embedder, today):
        self.corpus = corpus
        self.store = store
        self.embedder = embedder
        self.today = today
        self.memory = default_question_memory().for_embedder(getattr(embedder, "name", ""))
        self.adapter = default_query_adapter().for_embedder(getattr(embedder, "name", ""))

    def run(self, query: Query, top_k: int = MAX_HITS) -> Retrieval:
        """The hits for ``query``: a direct lookup, or the ``top_k`` best items of the search."""
        docs = choose_docs(query, self.corpus, self.today)
        if asks_validity(query.question) and not query.lookup:
            return self._validity_question(query, docs)
        if query.lookup and not query.doc:
            named = self.corpus.named_docs(query.text)
            if named:                       # "劳动合同法第十条是什么": that law's article
                docs = [doc for doc in named if docs is None or doc in docs] or named[:1]
            elif query.named_title and not self.corpus.knows_title(query.named_title):
                # a law the index does not hold: not this corpus's 第十条
                return Retrieval(hits=[], answerable=False, lookup=True, unknown_title=query.named_title,
                                 notes=[f"{query.named_title} is not among the indexed documents"])
        if query.item_number is not None:
            return self._item_lookup(query.item_number, docs)
        if query.section_number is not None:
            return self._section_lookup(query.section_number, docs)
        return self._search(query, docs, max(1, top_k))

    # -- lookups ------------------------------------------------------------------------------
    def _item_lookup(self, number: int, docs: list[str] | None) -> Retrieval:
        return self._lookup(lambda item: _label_number(item.item) == number, docs, f"item {number}")

    def _section_lookup(self, number: int, docs: list[str] | None) -> Retrieval:
        return self._lookup(lambda item: len(item.path) > 1 and _label_number(item.path[0]) == number, docs,
                            f"section {number}")

    def _lookup(self, wanted, docs: list[str] | None, what: str) -> Retrieval:
        """Every allowed item ``wanted`` accepts, in document order: no search involved. When several
        documents have one, the question must say which (or select one): the answer asks, listing them."""
        mask = self.corpus.mask(docs)
        hits = [Hit(item, 1.0) for index, item in enumerate(self.corpus.items) if mask[index] and wanted(item)]
        holders = list(dict.fromkeys(hit.item.doc for hit in hits))
        if len(holders) > 1:
            return Retrieval(hits=[], answerable=False, lookup=True, choices=holders,
                             notes=[f"{what} is in {len(holders)} documents: which one?"])
        return Retrieval(hits=hits, answerable=bool(hits), lookup=True,
                         notes=[] if hits else [f"no {what} in the selected documents"])

    # -- search -------------------------------------------------------------------------------
    def scores(self, query: Query, docs: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per item: dense cosine, BM25, the mask of allowed items; and the question vector.

        With the item vectors in memory every item gets its cosine; otherwise Chroma gives the
        ``CANDIDATES`` nearest and the rest are NaN."""
        mask = self.corpus.mask(docs)
        vector = self.embedder.embed_queries([query.text])[0]
        if self.corpus.vectors is not None:
            dense = (self.corpus.vectors @ vector).astype(np.float32)
            dense[~mask] = np.nan
        else:
            dense = np.full(len(self.corpus.items), np.nan, dtype=np.float32)
            k = min(CANDIDATES, int(mask.sum()))
            for key, cosine in self.store.dense_search(self.corpus.collection, vector, k, docs):
                index = self.corpus.by_key.get(key)
                if index is not None:
                    dense[index] = cosine
        bm25 = lexical_scores(self.corpus, query.text)
        return dense, np.where(mask, bm25, 0.0), mask, vector

    def _validity_question(self, query: Query, docs: list[str] | None) -> Retrieval:
        """"这个文件还有效吗": the document named (or best matched), the item that states its status first."""
        named = self.corpus.named_docs(query.question, by_series=True)
        scope = [doc for doc in named if docs is None or doc in docs] or named     # the edition the year words pick
        found = self._search(query, [query.doc] if query.doc else (scope or docs), top_k=MAX_HITS, prefer_in_force=False)
        if not found.hits:
            return found
        doc = found.hits[0].item.doc
        validity = self.corpus.validity.get(doc)
        fact = validity.fact if validity else ""
        stating = [item for item in self.corpus.items if item.doc == doc and fact and _states(item, fact)]
        hits = [Hit(item, found.hits[0].score) for item in stating[:1]]
        hits += [hit for hit in found.hits if hit.item.doc == doc and hit.item.key not in {h.item.key for h in hits}]
        return Retrieval(hits=hits, answerable=True, evidence=found.evidence, notes=["validity question"])

    def ranked(self, query: Query, docs: list[str] | None, model: RankModel | None = None):
        """(final score per item, -inf where not allowed; the item features; mask).

        The final score is the model's score standardised over the allowed items (the ranking is the
        model's), so score gaps downstream (``IN_FORCE_MARGIN``, compose's secondary hits) are in standard
        deviations whatever features the model weighs."""
        dense, bm25, mask, vector = self.scores(query, docs)
        model = model or default_rank_model()
        features = item_features(self.corpus, vector, dense, bm25, query.text, mask, model, self.memory, self.adapter)
        return np.where(mask, _standardise(model.score(features), mask), -np.inf), features, mask

    def _search(self, query: Query, docs: list[str] | None, top_k: int = MAX_HITS,
                prefer_in_force: bool = True) -> Retrieval:
        fused, features, mask = self.ranked(query, docs)
        order = top_indices(fused, mask, max(top_k, MAX_HITS, 10))
        hits = [Hit(self.corpus.items[i], float(fused[i])) for i in order[:max(top_k, MAX_HITS)]]
        if prefer_in_force and self.corpus.validity and not query.doc:
            hits = in_force_first(hits, self.corpus)
        evidence = self.evidence(query, features, fused, order, mask)
        compared = self._edition_pair(query, fused, mask) if query.compare else []
        if compared:
            hits = compared + [hit for hit in hits if hit.item.key not in {h.item.key for h in compared}]
        return Retrieval(hits=hits, answerable=evidence.answerable and bool(hits), evidence=evidence.to_json(),
                         compare=bool(compared))

    def _edition_pair(self, query: Query, fused: np.ndarray, mask: np.ndarray) -> list[Hit]:
        """For "今年和去年相比…": the best item of each of two editions of one series, newest first.

        With several such series, the one whose best item scores highest (the question's topic) is
        compared; ties go to the series name, so the choice is the same on every run."""
        by_series: dict[str, list[DocInfo]] = {}
        for doc in sorted({item.doc for index, item in enumerate(self.corpus.items) if mask[index]}):
            info = self.corpus.docs[doc]
            by_series.setdefault(info.series, []).append(info)
        pairs = [(series, sorted(editions, key=lambda e: (e.year or 0, e.doc), reverse=True)[:2])
                 for series, editions in sorted(by_series.items()) if len(editions) >= 2]
        if not pairs:
            return []

        def topic(pair):
            return max(float(fused[self.corpus.doc_index[info.doc]].max()) for info in pair[1])
        _, chosen = max(pairs, key=lambda pair: (topic(pair), pair[0]))
        best = []
        for info in chosen:
            indices = self.corpus.doc_index[info.doc]
            top = int(indices[np.argmax(fused[indices])])
            best.append(Hit(self.corpus.items[top], float(fused[top])))
        return best

    def evidence(self, query: Query, features: dict[str, np.ndarray], fused: np.ndarray, order: list[int],
                 mask: np.ndarray, model: RefusalModel | None = None) -> Evidence:
        model = model or default_refusal_model()
        values = evidence_features(self.corpus, query, features, fused, order, mask)
        return Evidence(values, model.probability(values), model.threshold)


def in_force_first(hits: list[Hit], corpus: Corpus, margin: float = IN_FORCE_MARGIN) -> list[Hit]:
    """When the best hit's document is not in force, the best in-force hit within ``margin`` leads instead."""
    if not hits or corpus.in_force(hits[0].item.doc):
        return hits
    lead = next((hit for hit in hits if corpus.in_force(hit.item.doc) and hits[0].score - hit.score <= margin), None)
    return hits if lead is None else [lead] + [hit for hit in hits if hit is not lead]


def _states(item: Item, fact: str) -> bool:
    """Whether ``item`` holds the sentence ``fact`` (a fact sentence may span the item's label)."""
    core = fact.strip().rstrip("。；;")
    return bool(core) and core in item.text


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


def _top_scaled(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(value - median) / (best - median) over the allowed items: the best is 1, the median item 0."""
    chosen = values[mask]
    if chosen.size == 0:
        return np.zeros_like(values, dtype=np.float64)
    median, best = float(np.median(chosen)), float(chosen.max())
    return (values - median) / (best - median) if best - median > 1e-9 else np.zeros_like(values, dtype=np.float64)


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
        chosen.extend(info.doc for info in pick_editions(editions, query, today, corpus.in_force))
    return chosen


def pick_editions(editions: list[DocInfo], query: Query, today, in_force=lambda doc: True) -> list[DocInfo]:
    dated = sorted((e for e in editions if e.year), key=lambda e: e.year)
    if not dated:
        return editions
    current = [e for e in dated if e.year <= today.year] or dated[:1]
    newest = ([e for e in current if in_force(e.doc)] or current)[-1]     # "今年": the edition in force
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
