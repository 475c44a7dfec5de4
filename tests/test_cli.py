"""The command line as users run it: a subprocess per call, exit codes and one-line messages."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run(*args, env=None, index_dir=None):
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if index_dir is not None:
        environment["POLICY_INDEX_DIR"] = str(index_dir)
    return subprocess.run([sys.executable, "-m", "policy_assistant", *args], capture_output=True, text=True,
                          env=environment, timeout=300, cwd=REPO)


def test_ask_json_follows_the_contract(built_index):
    result = run("ask", "学前教育今年有什么要求", "--json", index_dir=built_index.index_dir)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["citations"][0]["item"] == "12" and record["grounding"]["score"] == 1.0
    assert record["timing_ms"]["total"] > 0


def test_ask_text_prints_answer_and_sources(built_index):
    result = run("ask", "那高中呢？", "--history", "学前教育今年有什么要求", index_dir=built_index.index_dir)
    assert result.returncode == 0 and "[第13条]" in result.stdout and "来源" in result.stdout


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_2_with_one_line(built_index, question):
    result = run("ask", question, index_dir=built_index.index_dir)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(built_index):
    result = run("ask", "  ", "--debug", index_dir=built_index.index_dir)
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_first_run_builds_the_bundled_index_and_says_so(tmp_path):
    result = run("ask", "学前教育今年有什么要求", index_dir=tmp_path / "fresh")
    assert result.returncode == 0 and "[第12条]" in result.stdout
    assert "building it from the bundled corpus" in result.stderr


def test_index_list_json(built_index):
    result = run("index", "list", "--json", index_dir=built_index.index_dir)
    rows = json.loads(result.stdout)
    assert rows == [{"doc": "taizhou-2025-education-work-points", "title": "2025年教育工作要点", "year": 2025,
                     "items": 30, "source": rows[0]["source"], "status": "in_force", "basis": "assumed",
                     "effective_from": None, "expires": None}]
    assert rows[0]["source"].endswith("taizhou-2025-education-work-points.txt")


def test_index_build_with_a_bad_file_exits_1_and_names_it(tmp_path):
    good = tmp_path / "notice.txt"
    good.write_text("关于加强校园安全的通知\n一、加强门卫管理。学校应当落实门卫登记制度。\n", encoding="utf-8")
    bad = tmp_path / "junk.txt"
    bad.write_bytes(os.urandom(2000))
    result = run("index", "build", str(good), str(bad), "--index-dir", str(tmp_path / "ix"))
    assert result.returncode == 1
    assert "junk.txt" in result.stderr and "Traceback" not in result.stderr
    listed = json.loads(run("index", "list", "--json", "--index-dir", str(tmp_path / "ix")).stdout)
    assert [row["doc"] for row in listed] == ["notice"]


def test_unknown_generator_setting_is_bad_input(built_index):
    result = run("ask", "学前教育", env={"POLICY_GENERATOR": "gpt"}, index_dir=built_index.index_dir)
    assert result.returncode == 2 and "generator" in result.stderr


def test_eval_on_a_small_dataset_writes_records(built_index, tmp_path):
    dataset = tmp_path / "mini.jsonl"
    dataset.write_text('{"id": "q1", "question": "学前教育今年有什么要求", "gold_items": ["12"], '
                       '"answer_keywords": ["公办幼儿园"]}\n{"id": "q2", "question": "寒假什么时候放", '
                       '"gold_items": [], "answer_keywords": []}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run("eval", str(dataset), "--out", str(out), index_dir=built_index.index_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hit@1" in result.stdout
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["q1", "q2"] and records[1]["refused"]
