"""Talking to an OpenAI-compatible chat endpoint (Ollama, vLLM, DeepSeek, Qwen …): the reply's text, piece by piece.

``Transport(settings).deltas(messages, streaming)`` uses the ``openai`` client as it is meant to be used:
its own retries (``max_retries = settings.llm_retries``: connection errors, timeouts, 408/409/429 and 5xx,
with its exponential backoff; other 4xx never) and its own timeout. ``settings.llm_timeout`` is the budget
for one whole answer: each attempt's timeout is that budget shared by the attempts, and a stream is cut
once the budget is spent, counting only the time spent waiting for the server (not the caller's time
between pieces). Every failure becomes an ``LLMFailure`` whose message says why, for the answer's warning.
It does not build prompts, cut sentences or judge anything.
"""
from __future__ import annotations

import threading
import time
from typing import Iterator

from policy_assistant.core.settings import Settings

PLACEHOLDER_KEY = "not-needed"   # local servers (Ollama, vLLM) want some key, not a real one
TEMPERATURE = 0.1


class LLMFailure(Exception):
    """The LLM gave no usable answer: the message says why, for the warning."""


class Transport:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._client = None
        self._lock = threading.Lock()

    def client(self):
        """The ``openai`` client, made once (importing it is not the server's time)."""
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError:
                    raise LLMFailure("the openai package is not installed") from None
                attempts = self.settings.llm_retries + 1
                self._client = openai.OpenAI(base_url=self.settings.llm_base_url,
                                             api_key=self.settings.llm_api_key or PLACEHOLDER_KEY,
                                             max_retries=self.settings.llm_retries,
                                             timeout=self.settings.llm_timeout / attempts)
                self._client.chat.completions            # noqa: B018 - the client loads its resources lazily:
                import openai.lib.streaming.chat         # noqa: F401   not the server's time
            return self._client

    def deltas(self, messages: list[dict], streaming: bool) -> Iterator[str]:
        """The reply's text, piece by piece; ``LLMFailure`` when there is none, or the budget runs out."""
        client = self.client()
        budget = self.settings.llm_timeout
        waited, got_text, started = 0.0, False, time.monotonic()
        try:
            if not streaming:
                reply = client.chat.completions.create(model=self.settings.llm_model, messages=messages,
                                                       temperature=TEMPERATURE, stream=False)
                text = reply.choices[0].message.content if reply.choices else None
                if text is None:
                    raise LLMFailure("malformed reply: no message in it")
                if not text.strip():
                    raise LLMFailure("empty answer")
                yield text
                return
            events = 0
            stream = client.chat.completions.create(model=self.settings.llm_model, messages=messages,
                                                    temperature=TEMPERATURE, stream=True)
            for event in stream:
                events += 1
                waited += time.monotonic() - started
                if waited > budget:
                    stream.close()
                    raise LLMFailure(f"no complete answer within {budget:g} s")
                delta = event.choices[0].delta.content if event.choices and event.choices[0].delta else None
                if delta:
                    got_text = True
                    yield delta
                started = time.monotonic()              # the caller's time between pieces is not counted
            if not events:
                raise LLMFailure("malformed reply: no server-sent events in the stream")
            if not got_text:
                raise LLMFailure("empty answer")
        except LLMFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - every client error is classified for the warning
            failure = classify(exc, self.settings.llm_base_url, budget)
            if got_text:
                raise LLMFailure(f"the stream broke off: {failure}") from None
            raise failure from None


def classify(exc: BaseException, base_url: str, budget: float) -> LLMFailure:
    """An exception from the client (after its retries), as the failure the warning names."""
    import httpx
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return LLMFailure(f"no complete answer within {budget:g} s")
    if isinstance(exc, openai.APIConnectionError):
        return LLMFailure(f"cannot reach {base_url}: {_short(exc.__cause__ or exc)}")
    if isinstance(exc, openai.APIStatusError):
        return LLMFailure(f"HTTP {exc.status_code}: {_short(exc.message)}")
    if isinstance(exc, httpx.TransportError):
        return LLMFailure(f"{type(exc).__name__}: {_short(exc)}")
    return LLMFailure(f"malformed reply: {type(exc).__name__}: {_short(exc)}")


def _short(value, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
