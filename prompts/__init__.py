"""Prompt and answer templates, kept as files beside this module.

``render("answer_intro", "zh", title=…)`` reads ``answer_intro.zh.txt`` and fills
its ``$name`` placeholders (``string.Template``). A missing variable or template
fails loudly with ``PromptError``: a half-filled prompt must never reach a user or
an LLM. Templates are read once and cached. This module knows nothing of what
the templates say.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

from policy_assistant.core.errors import AssistantError

HERE = Path(__file__).resolve().parent


class PromptError(AssistantError):
    exit_code = 2
    status = 500


@lru_cache(maxsize=None)
def template(name: str, language: str = "") -> Template:
    path = HERE / (f"{name}.{language}.txt" if language else f"{name}.txt")
    if not path.is_file() and language and language != "en":
        path = HERE / f"{name}.en.txt"          # other languages get the English frame
    if not path.is_file():
        raise PromptError(f"prompt template {path.name} is missing from {HERE}")
    return Template(path.read_text(encoding="utf-8").rstrip("\n"))


def render(name: str, language: str = "", **values) -> str:
    try:
        return template(name, language).substitute(values)
    except KeyError as exc:
        raise PromptError(f"prompt template {name}.{language} needs a value for ${exc.args[0]}") from None
    except ValueError as exc:
        raise PromptError(f"prompt template {name}.{language} is malformed: {exc}") from None
