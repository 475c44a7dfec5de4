"""The parts that keep a large library fast: one percentile, length-sorted embedding batches, the numpy
bigram postings, the saved search tables, and a build that stops clearly on a full disk (fake embedder,
real Chroma in tmp_path)."""
from __future__ import annotations

import errno
import random

import numpy as np
import pytest

from policy_assistant.core.errors import IndexUnusable
from policy_assistant.core.model import Item
from policy_assistant.core.settings import Settings
from policy_assistant.core.stats import percentile
from policy_assistant.index.builder import EMBED_BATCH, build_index, length_batches
from policy_assistant.index.store import ItemStore
from policy_assistant.retrieval import BigramPostings, Corpus, load_corpus, save_corpus


def test_percentile_is_the_median_at_50_and_nearest_rank_otherwise():
    values = [float(v) for v in range(20, 0, -1)]          # unsorted on purpose
    assert percentile(values, 50) == 10.5
    assert percentile(values, 95) == 19.0                   # rank ceil(0.95 * 20) = 19
    assert percentile(values, 100) == 20.0 and percentile(values, 1) == 1.0
    assert percentile([3.0], 95) == 3.0 and percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 75) == 3.0


def test_length_batches_cover_every_text_once_and_sort_within_a_window():
    rng = random.Random(3)
    texts = ["字" * rng.randrange(1, 300) for _ in range(1000)]
    batches = length_batches(texts, batch=64, window=256)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(1000)) and all(len(b) <= 64 for b in batches)
    for start in range(0, 1000, 256):
        window = flat[start:start + 256]
        assert set(window) == set(range(start, min(start + 256, 1000)))        # never crosses a window
        assert [len(texts[i]) for i in window] == sorted(len(texts[i]) for i in window)


def _items(n_docs: int = 3, per_doc: int = 5) -> list[Item]:
    words = ["学前教育", "义务教育", "教师队伍", "校园安全", "招生入学", "课后服务", "𠀋字"]
    rng = random.Random(5)
    return [Item(doc=f"d{d}", item=str(i + 1), path=[f"第{i + 1}条"], text="".join(rng.sample(words, 3)) + "。",
                 title=f"文件{d}", order=i) for d in range(n_docs) for i in range(per_doc)]


def test_bigram_postings_equal_the_plain_python_ones():
    haystacks = [item.embedding_text().lower() for item in _items()] + ["", "a"]
    plain: dict[str, list[int]] = {}
    for index, hay in enumerate(haystacks):
        for gram in {hay[i:i + 2] for i in range(len(hay) - 1)}:
            plain.setdefault(gram, []).append(index)
    postings = BigramPostings.build(haystacks)
    assert len(postings) == len(plain)
    for gram, ids in plain.items():
        assert postings.get(gram).tolist() == ids
    assert postings.get("火星") is None and postings.get("x") is None


def test_saved_search_tables_load_as_the_same_corpus(tmp_path):
    corpus = Corpus(_items(), "items-test")
    save_corpus(corpus, tmp_path / "derived")
    loaded = load_corpus(tmp_path / "derived", "items-test")
    assert loaded.items == corpus.items and loaded.collection == "items-test"
    assert {d: v.tolist() for d, v in loaded.doc_index.items()} == {d: v.tolist() for d, v in corpus.doc_index.items()}
    terms = ["学前", "教育"]
    assert np.allclose(loaded.bm25.get_scores(terms), corpus.bm25.get_scores(terms))
    assert loaded.frequency("校园安全") == corpus.frequency("校园安全") > 0


def _folder(tmp_path, docs: int, items_per_doc: int):
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    for d in range(docs):
        lines = [f"关于第{d}号工作的通知"] + [f"{'一二三四五六七八九十'[i]}、第{d}号文件第{i + 1}项要求，学校应当落实。"
                                          for i in range(items_per_doc)]
        (folder / f"notice-{d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_report_counts_and_grammar(tmp_path, fake_embedder):
    settings = Settings.load({"index_dir": tmp_path / "index"}, environ={})
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.txt").write_text("关于安全的通知\n一、加强门卫管理。学校应当落实门卫登记制度。\n", encoding="utf-8")
    report = build_index([tmp_path / "one"], settings, fake_embedder, progress=False)
    assert report.summary().startswith("1 item from 1 document,")
    data = report.to_json()
    assert {"documents", "items", "embedded", "reused", "seconds", "embed_seconds", "items_per_s", "failed",
            "warnings"} <= set(data)
    assert (data["documents"], data["items"], data["embedded"], data["reused"]) == (1, 1, 1, 0)


def test_a_full_disk_stops_the_build_clearly_and_the_old_generation_stays(tmp_path, fake_embedder, monkeypatch):
    settings = Settings.load({"index_dir": tmp_path / "index"}, environ={})
    folder = _folder(tmp_path, docs=1, items_per_doc=3)
    build_index([folder], settings, fake_embedder, progress=False)
    store = ItemStore(settings)
    before = store.state()
    _folder(tmp_path, docs=4, items_per_doc=10) and (folder / "notice-0.txt").write_text(
        "关于第0号工作的通知\n一、改过的要求，学校应当落实。\n", encoding="utf-8")
    real_add, calls = ItemStore.add_items, []

    def add_until_full(self, collection, items, vectors):
        calls.append(len(items))
        if len(calls) > 1:                                    # the first batch fits, the second does not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, collection, items, vectors)

    monkeypatch.setattr(ItemStore, "add_items", add_until_full)
    monkeypatch.setattr("policy_assistant.index.builder.EMBED_BATCH", 8)
    monkeypatch.setattr("policy_assistant.index.builder.length_batches",
                        lambda texts, batch=8, window=1024: length_batches(texts, batch=8, window=window))
    with pytest.raises(IndexUnusable, match="disk is full.*previous index is unchanged"):
        build_index([folder], settings, fake_embedder, progress=False)
    after = ItemStore(settings)
    assert after.state().collection == before.collection and len(after.items(before.collection)) == 3
    names = [c.name for c in after.client.list_collections() if c.name.startswith("items-")]
    assert names == [before.collection]                      # the half-written generation is gone
    monkeypatch.setattr(ItemStore, "add_items", real_add)
    again = build_index([folder], settings, fake_embedder, progress=False)
    assert again.items == 31 and again.reused > 0              # what was embedded before the failure is kept
    assert EMBED_BATCH >= 8


def test_disk_full_is_recognised_from_chroma_and_sqlite_messages_too():
    from policy_assistant.index.builder import _disk_full

    assert _disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert _disk_full(IndexUnusable("cannot write the embedding cache /x.sqlite: database or disk is full"))
    assert _disk_full(RuntimeError("Error in compaction: No space left on device (os error 28)"))
    assert not _disk_full(OSError(errno.EACCES, "Permission denied"))
