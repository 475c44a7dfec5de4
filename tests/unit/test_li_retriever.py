"""The hybrid retriever inside an ordinary llama-index pipeline (RetrieverQueryEngine, scripted LLM)."""
from __future__ import annotations

import datetime as dt

from policy_assistant.core.model import Item
from policy_assistant.retrieval import Corpus, HybridRetriever

ITEMS = [
    Item(doc="law", item="第一条", path=["第一章", "第一条"], text="为了保护劳动者的合法权益，制定本法。", title="劳动合同法", order=0),
    Item(doc="law", item="第十条", path=["第二章", "第十条"], text="建立劳动关系，应当订立书面劳动合同。", title="劳动合同法", order=1),
    Item(doc="law", item="第十九条", path=["第二章", "第十九条"], text="劳动合同期限三个月以上不满一年的，试用期不得超过一个月。",
         title="劳动合同法", order=2),
]


def make_retriever(fake_embedder):
    corpus = Corpus(ITEMS, "test", fake_embedder.embed_passages([it.embedding_text() for it in ITEMS]))
    return HybridRetriever(corpus, None, fake_embedder, dt.date(2025, 6, 1))


def test_pipeline_over_the_hybrid_retriever(fake_embedder):
    from llama_index.core.llms import CustomLLM, CompletionResponse, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback
    from llama_index.core.query_engine import RetrieverQueryEngine

    from policy_assistant.li_retriever import PolicyRetriever

    prompts = []

    class ScriptedLLM(CustomLLM):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=256, model_name="scripted")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            prompts.append(prompt)
            return CompletionResponse(text="试用期不得超过一个月。[第十九条]")

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            yield self.complete(prompt)

    retriever = PolicyRetriever(make_retriever(fake_embedder), top_k=2)
    engine = RetrieverQueryEngine.from_args(retriever, llm=ScriptedLLM())
    response = engine.query("劳动合同的试用期最长多久")
    assert str(response) == "试用期不得超过一个月。[第十九条]"
    assert response.source_nodes[0].node.metadata["item"] == "第十九条"
    assert response.source_nodes[0].node.get_content() == ITEMS[2].text      # verbatim item text
    assert len(response.source_nodes) == 2
    assert "试用期不得超过一个月" in prompts[0]                                  # the LLM saw the retrieved item


def test_lookup_through_the_retriever(fake_embedder):
    from policy_assistant.li_retriever import PolicyRetriever

    nodes = PolicyRetriever(make_retriever(fake_embedder)).retrieve("第十条是什么")
    assert [n.node.metadata["item"] for n in nodes] == ["第十条"]
    assert nodes[0].node.metadata["marker"] == "[第十条]"
