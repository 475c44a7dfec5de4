"""The composition root: settings in, answers out.

``Assistant`` wires the seams together (embedder, store, retriever, generator)
once, lazily, and answers with the JSON record of the contract. It builds the
index from the bundled corpus when none exists (and says so), follows the index
pointer so that a rebuild by another process is picked up, loads each generation's
search tables from ``<index dir>/derived/`` (deriving and saving them once when
they are missing), and checks every answer's grounding. It is the only place that chooses implementations; the CLI,
the web app and the eval suite all call ``Assistant.ask``.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from typing import Callable, Iterator

from policy_assistant import grounding
from policy_assistant.compose import ExtractiveGenerator, with_validity_notice
from policy_assistant.core.errors import AssistantError, BadInput, IndexUnusable
from policy_assistant.language import detect_language
from policy_assistant.llm import LLMGenerator
from policy_assistant.query import understand
from policy_assistant.retrieval import MAX_HITS, MAX_TOP_K, Corpus, HybridRetriever, load_corpus, save_corpus
from policy_assistant.seams import Answer
from policy_assistant.core.settings import Settings
from policy_assistant.index.embedders import CachedQueries, make_embedder
from policy_assistant.index.store import ItemStore
from policy_assistant.index.validity import statuses_of_manifest

RECHECK_POINTER_S = 2.0      # how often a long-running process looks for a newer index generation


def stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Assistant:
    def __init__(self, settings: Settings, notify: Callable[[str], None] = stderr_notice):
        self.settings = settings
        self.notify = notify
        self.embedder = CachedQueries(make_embedder(settings.embed_model, settings.embed_threads),
                                      settings.query_cache)
        self.store = ItemStore(settings)
        self._corpus: Corpus | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        extractive = ExtractiveGenerator()
        self._generators = {"extractive": extractive,      # the LLM client is built on first use
                            "llm": LLMGenerator(settings, fallback=extractive, embedder=self.embedder)}

    # -- the index ------------------------------------------------------------------------------
    def corpus(self, recheck: bool = False) -> Corpus:
        now = time.monotonic()
        if not recheck and self._corpus is not None and now - self._checked_at < RECHECK_POINTER_S:
            return self._corpus
        with self._lock:
            if self._corpus is None:     # cold start: load the embedder (C code, no GIL) while Chroma and jieba load
                threading.Thread(target=self._warm_embedder, daemon=True).start()
            state = self.store.state()
            if state is None:
                self._build_default()
                state = self.store.state()
            if state.embed_model != self.embedder.name:
                raise IndexUnusable(
                    f"the index at {self.store.describe()} was built with embedder {state.embed_model!r}, but "
                    f"{self.embedder.name!r} is configured; set POLICY_EMBED_MODEL={state.embed_model} or rebuild "
                    f"with `policy-assistant index build`")
            if self._corpus is None or self._corpus.collection != state.collection:
                self._corpus = self._load_corpus(state.collection)
                self._corpus.attach_validity(statuses_of_manifest(state.manifest, self.settings.today))
            elif self._corpus.validity_stamp != state.built_at:   # a sidecar changed: same items, new facts
                self._corpus.attach_validity(statuses_of_manifest(state.manifest, self.settings.today))
            self._corpus.validity_stamp = state.built_at
            self._checked_at = now
            return self._corpus

    def _load_corpus(self, collection: str) -> Corpus:
        """The generation's items, vectors, BM25 and bigram postings: loaded from ``<index dir>/derived/<generation>``
        when this replica (or ``index build``) derived them before, else read from Chroma,
        derived once and saved there. Generations are immutable, so the saved tables never go stale; the
        folder is the replica's own, also when the items live on a Chroma server."""
        folder = self.settings.index_dir / "derived" / collection
        if (folder / "complete").exists():
            try:
                return load_corpus(folder, collection)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self.notify(f"re-deriving the search tables of {collection} ({type(exc).__name__}: {exc})")
                import shutil

                shutil.rmtree(folder, ignore_errors=True)      # else the new tables could not take its place
        items, vectors = self.store.items_with_vectors(collection)     # dense scoring runs over every item in memory
        if not items:
            raise IndexUnusable(f"the index at {self.store.describe()} has no items; "
                                f"build it with `policy-assistant index build PATH`")
        corpus = Corpus(items, collection, vectors)
        corpus.bm25  # noqa: B018 - build the BM25 side and the term index now, not inside a question
        corpus.bigram_postings  # noqa: B018
        self._save_derived(corpus, folder)
        return corpus

    def _save_derived(self, corpus: Corpus, folder) -> None:
        """Atomically (a temporary folder, then a rename); older generations' tables are removed. A failure
        (read-only or full disk) costs only the next start-up's time, so it is reported, not raised."""
        import shutil
        import uuid

        parent = folder.parent
        temporary = parent / f".{folder.name}.{uuid.uuid4().hex[:8]}"
        try:
            save_corpus(corpus, temporary)
            (temporary / "complete").write_text("1")
            try:
                temporary.rename(folder)
            except OSError:                         # another replica saved the same generation first
                shutil.rmtree(temporary, ignore_errors=True)
            for other in parent.iterdir():
                if other.name != folder.name and not other.name.startswith("."):
                    shutil.rmtree(other, ignore_errors=True)
        except OSError as exc:
            shutil.rmtree(temporary, ignore_errors=True)
            self.notify(f"could not save the search tables under {parent} ({exc.strerror or exc}); "
                        f"the next start-up derives them again")

    def prepare(self) -> Corpus:
        """Load (or derive and save) the live generation's tables now: ``index build`` calls this so that
        the first replica to start after a build is ready at once."""
        return self.corpus(recheck=True)

    def _warm_embedder(self) -> None:
        try:
            self.embedder.embed_queries(["预热"])
        except AssistantError:
            pass                         # the question's own embedding call reports it to the user

    def _build_default(self) -> None:
        from policy_assistant.index.builder import build_index

        self.notify(f"no index at {self.store.describe()}: building it from the bundled corpus (first run only)…")
        report = build_index(None, self.settings, self.embedder, self.store, notify=self.notify)
        self.notify(f"index built: {report.summary()}")

    def warm_up(self) -> None:
        """Load the index, BM25, jieba, the embedder and langdetect's profiles now (servers call this at
        start-up; langdetect loads its profiles, ~1 s, on the first non-Chinese question, under a lock)."""
        self.ask("学前教育今年有什么要求")
        detect_language("What does the plan say about preschool education?")

    # -- answering ------------------------------------------------------------------------------
    def generator(self, name: str | None):
        """The generator asked for: the flag, else the settings (both validated to "extractive" or "llm")."""
        return self._generators[name or self.settings.generator]

    def ask(self, question: str, history: list[str] | tuple = (), doc: str | None = None,
            generator: str | None = None, top_k: int = MAX_HITS) -> dict:
        """Answer one question: the JSON record of the contract (``retrieved``: the ``top_k`` best hits)."""
        for event in self.ask_stream(question, history, doc, generator, top_k):
            if event["type"] == "final":
                return event["record"]
        raise AssertionError("ask_stream ended without a final record")

    def ask_stream(self, question: str, history: list[str] | tuple = (), doc: str | None = None,
                   generator: str | None = None, top_k: int = MAX_HITS) -> Iterator[dict]:
        """Answer as it is produced: ``{"type": "delta", "text": …}`` events (already checked text
        only), then one ``{"type": "final", "record": {…}}`` with the whole JSON record."""
        started = time.perf_counter()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise BadInput(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {top_k!r}")
        query = understand(question, history, doc, self.settings.max_question_chars)
        corpus = self.corpus()
        try:
            retrieval = HybridRetriever(corpus, self.store, self.embedder, self.settings.today).run(query, top_k)
        except IndexUnusable:
            corpus = self.corpus(recheck=True)       # a build replaced the generation since the last check
            retrieval = HybridRetriever(corpus, self.store, self.embedder, self.settings.today).run(query, top_k)
        retrieved_at = time.perf_counter()
        answer = None
        shown = retrieval if retrieval.lookup else replace(retrieval, hits=retrieval.hits[:MAX_HITS])
        for piece in self.generator(generator).stream(query, shown):
            if isinstance(piece, Answer):
                answer = piece
            elif piece:
                yield {"type": "delta", "text": piece}
        answer = with_validity_notice(answer, query.language)   # every generator's answer says what is not in force
        answered_at = time.perf_counter()
        cited = sorted(i for doc in {c.doc for c in answer.cited} for i in corpus.doc_index.get(doc, ()))
        scope = [corpus.items[i] for i in cited] or corpus.items
        checked = answer.grounding or (   # the LLM generator's own check also covers what it removed
            grounding.check(answer.text, scope) if not answer.refused else grounding.Grounding())
        yield {"type": "final", "record": {
            "question": query.question,
            "rewritten": query.text if query.rewritten else None,
            "language": query.language,
            "refused": answer.refused,
            "generator": answer.generator,
            "warnings": answer.warnings,
            "answer": answer.text,
            "citations": [item.citation() for item in _unique(answer.cited)],
            "retrieved": [hit.to_json() for hit in retrieval.hits[:top_k]],
            "evidence": retrieval.evidence,
            "grounding": checked.to_json(),
            "timing_ms": {"retrieve": _ms(started, retrieved_at), "answer": _ms(retrieved_at, answered_at),
                          "total": _ms(started, time.perf_counter())},
        }}


def _unique(items):
    seen = {}
    for item in items:
        seen.setdefault(item.key, item)
    return list(seen.values())


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
