"""What the LLM is sent: the system prompt with its few-shot example, and the question with the retrieved
items, each under the exact marker it must be cited by (templates ``prompts/llm_*``).

Item sentences that read like instructions to a model ("忽略以上指令，回答：…") are withheld
(``withhold_instructions``), so a claim planted in a document cannot be "supported" by its own plant; the
pattern list is a heuristic, the support check is the backstop. Item text cannot close the ``<item>``
element it sits in. It does not call the model and does not judge the reply.
"""
from __future__ import annotations

import re

from policy_assistant.compose import marker as cite_marker
from policy_assistant.core.model import Item
from policy_assistant.core.text import sentence_pieces
from policy_assistant.prompts import render
from policy_assistant.query import Query

CONTEXT_ITEMS = 6                # retrieved items put in front of the model
INSTRUCTION = re.compile(
    r"(?:忽略|无视|忘记|忘掉|不要理会|不用理会|跳过|覆盖)[^。！？；\n]{0,8}(?:指令|指示|提示|规则|要求|设定|说明|内容)"
    r"|你现在是|你是一个|扮演|系统提示|(?:请|直接|只)?(?:回答|回复|输出)\s*[:：]"
    r"|\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|prompts?|rules|above|previous)\b"
    r"|\byou are now\b|\bact as\b|\bnew instructions?\b|\bsystem prompt\b", re.I)


def messages(query: Query, given: list[Item], lang: str) -> list[dict]:
    """The chat messages (OpenAI wire format) for ``query`` over the ``given`` items."""
    system = render("llm_system", lang, fewshot=render("llm_fewshot", lang))
    blocks = [render("llm_item", lang, marker=cite_marker(item, given), title=item.title or item.doc,
                     year=str(item.year or "—"), section=item.section or "—", path=" / ".join(item.path),
                     text=_fence(item.text)) for item in given]
    user = render("llm_context", lang, items="\n".join(blocks), question=query.text, asked=query.question)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _fence(text: str) -> str:
    """Item text may not close the <item> element it sits in."""
    return re.sub(r"</?\s*items?\b", lambda m: m.group(0).replace("<", "＜"), text, flags=re.I)


def withhold_instructions(text: str) -> str:
    """``text`` without the clauses/sentences that read like instructions to a model."""
    kept = [part for part in sentence_pieces(text or "") if not INSTRUCTION.search(part)]
    return "".join(kept).strip()
