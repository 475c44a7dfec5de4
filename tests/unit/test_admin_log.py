"""The conversation log (SQLite in tmp_path) and the console's gate, without a server:
records and votes, comments, stats, CSV/JSONL export, retention, the off switch, the
migration of the old feedback.jsonl, no lost rows under concurrency; login failures
rate-limited; the public key refused; loopback-only without credentials; upload checks."""
from __future__ import annotations

import csv
import io
import json
import threading
import zipfile

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request

from policy_assistant.core.errors import BadInput
from policy_assistant.core.settings import Settings
from policy_assistant.ui.admin import MAX_FAILURES, AdminGate
from policy_assistant.ui.conversations import ConversationLog
from policy_assistant.ui.documents import check_zip, numbering_warnings, safe_name


def settings(tmp_path, **changes) -> Settings:
    return Settings.load({"index_dir": tmp_path, **changes}, environ={})


def record(question="学前教育今年有什么要求", refused=False, **changes) -> dict:
    return {"question": question, "rewritten": None, "language": "zh", "refused": refused, "generator": "extractive",
            "answer": "文件中没有找到相关规定。" if refused else "加快建设公办幼儿园。[第12条]",
            "citations": [] if refused else [{"doc": "d", "item": "12", "path": ["五", "12"], "title": "要点",
                                               "text": "…", "source": "/srv/x.txt"}],
            "timing_ms": {"total": 12.5}, **changes}


def test_record_vote_comment_and_stats(tmp_path):
    log = ConversationLog(settings(tmp_path))
    good = log.record(record(), channel="chat")
    bad = log.record(record("火星移民政策是什么", refused=True), channel="api")
    log.record(record("火星移民政策是什么 ", refused=True), channel="api")
    assert log.vote(good, "up") and log.vote(bad, "down")
    assert log.vote(bad, "down", "  没有回答我的\n问题 ")
    assert log.vote(bad, "down")                          # the second click keeps the comment
    assert not log.vote(9999, "up")
    with pytest.raises(BadInput):
        log.vote(good, "meh")
    rows = log.rows()
    assert [r["channel"] for r in rows] == ["chat", "api", "api"]
    assert rows[0]["citations"] == [{"doc": "d", "item": "12", "path": ["五", "12"], "title": "要点"}]
    assert rows[0]["latency_ms"] == 12.5 and rows[0]["client"] is None
    assert rows[1]["comment"] == "没有回答我的 问题"
    stats = log.stats()
    assert stats["questions"] == 3 and stats["refusal_rate"] == round(2 / 3, 4)
    assert stats["up_rate"] == 0.5 and stats["down_rate"] == 0.5 and stats["votes"] == 2
    assert stats["top_refused"][0]["times"] == 2 and stats["top_refused"][0]["question"].startswith("火星")
    assert stats["most_disliked"][0]["comment"] == "没有回答我的 问题"
    assert stats["per_day"][0]["questions"] == 3 and stats["per_day"][0]["refused"] == 2


def test_export_csv_and_jsonl_and_since(tmp_path):
    log = ConversationLog(settings(tmp_path))
    log.record(record(), channel="chat", time_iso="2020-01-01T00:00:00+00:00")
    log.record(record("那高中呢"), channel="chat")
    lines = [json.loads(line) for line in log.export(fmt="jsonl").splitlines()]
    assert [line["question"] for line in lines] == ["学前教育今年有什么要求", "那高中呢"]
    table = list(csv.DictReader(io.StringIO(log.export(since="2021-01-01", fmt="csv"))))
    assert [row["question"] for row in table] == ["那高中呢"] and json.loads(table[0]["citations"])[0]["item"] == "12"
    with pytest.raises(BadInput):
        log.export(since="yesterday")
    with pytest.raises(BadInput):
        log.export(fmt="xml")


def test_retention_deletes_old_rows(tmp_path):
    log = ConversationLog(settings(tmp_path, log_days=30))
    log.record(record("旧问题"), channel="chat", time_iso="2000-01-01T00:00:00+00:00")
    log.record(record("新问题"), channel="chat")
    assert log.purge() == 1
    assert [r["question"] for r in log.rows()] == ["新问题"]


def test_off_switch_writes_nothing(tmp_path):
    log = ConversationLog(settings(tmp_path, log_conversations=False))
    assert log.record(record(), channel="chat") is None
    assert not log.vote(1, "up") and log.rows() == [] and log.stats()["enabled"] is False
    assert not (tmp_path / "conversations.sqlite").exists()


def test_client_address_only_when_configured(tmp_path):
    assert ConversationLog(settings(tmp_path / "a")).rows() == []
    plain = ConversationLog(settings(tmp_path / "a"))
    plain.record(record(), channel="api", client="10.1.2.3")
    kept = ConversationLog(settings(tmp_path / "b", log_client_address=True))
    kept.record(record(), channel="api", client="10.1.2.3")
    assert plain.rows()[0]["client"] is None and kept.rows()[0]["client"] == "10.1.2.3"


def test_old_feedback_jsonl_is_migrated_once(tmp_path):
    old = tmp_path / "feedback.jsonl"
    old.write_text(json.dumps({"time": "2026-11-30T10:00:00+00:00", "vote": "down", "question": "那高中呢",
                               "history": ["学前教育"], "answer": "……[第13条]",
                               "citations": [{"doc": "d", "item": "13", "path": ["五", "13"], "title": "要点"}],
                               "doc": None, "generator": "extractive", "refused": False}, ensure_ascii=False)
                   + "\nnot json\n", encoding="utf-8")
    log = ConversationLog(settings(tmp_path))
    rows = log.rows()
    assert len(rows) == 1 and rows[0]["vote"] == "down" and rows[0]["citations"][0]["item"] == "13"
    assert not old.exists() and (tmp_path / "feedback.jsonl.migrated").exists()
    assert len(ConversationLog(settings(tmp_path)).rows()) == 1          # not imported twice


def test_no_row_lost_under_concurrency(tmp_path):
    log = ConversationLog(settings(tmp_path))

    def asker(n):
        for i in range(25):
            row = log.record(record(f"问题{n}-{i}", answer="长" * 5000), channel="chat")
            log.vote(row, "up" if i % 2 else "down", f"意见{i}")

    threads = [threading.Thread(target=asker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = log.rows()
    assert len(rows) == 150 and len({r["question"] for r in rows}) == 150 and all(r["vote"] for r in rows)


# -- the gate ---------------------------------------------------------------------------------------
def request(client: str, headers: dict | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/api/documents", "headers": raw,
                    "client": (client, 5555), "query_string": b""})


class Bearer:
    def __init__(self, token):
        self.scheme, self.credentials = "Bearer", token


def test_login_failures_are_rate_limited(tmp_path):
    now = [1000.0]
    gate = AdminGate(settings(tmp_path, admin_users="staff:s3cret:x"), clock=lambda: now[0])
    assert gate.session_user(gate.login("1.2.3.4", "staff", "s3cret:x")) == "staff"
    for _ in range(MAX_FAILURES):
        with pytest.raises(HTTPException) as failed:
            gate.login("1.2.3.4", "staff", "wrong")
        assert failed.value.status_code == 401
    with pytest.raises(HTTPException) as limited:
        gate.login("1.2.3.4", "staff", "s3cret:x")           # even the right password, for a while
    assert limited.value.status_code == 429 and "Retry-After" in limited.value.headers
    assert gate.login("5.6.7.8", "staff", "s3cret:x")          # another client is not affected
    now[0] += 61
    assert gate.login("1.2.3.4", "staff", "s3cret:x")


def test_keys_and_loopback(tmp_path):
    gate = AdminGate(settings(tmp_path, admin_key="adm", api_key="pub"))
    assert gate.check(request("10.0.0.9"), Bearer("adm")) == "key"
    for token, status in (("pub", 403), ("nope", 401)):
        with pytest.raises(HTTPException) as refused:
            gate.check(request("10.0.0.9"), Bearer(token))
        assert refused.value.status_code == status
    with pytest.raises(HTTPException) as missing:
        gate.check(request("127.0.0.1"), None)                # loopback is no excuse once a key is set
    assert missing.value.status_code == 401

    open_gate = AdminGate(settings(tmp_path))
    assert open_gate.check(request("127.0.0.1"), None) == "local"
    assert open_gate.check(request("::1"), None) == "local"
    with pytest.raises(HTTPException) as remote:
        open_gate.check(request("192.168.1.20"), None)
    assert remote.value.status_code == 403 and "loopback" in remote.value.detail


# -- upload checks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x.txt", "a/b.txt", "..\\x.txt", ".hidden.txt", "..", "", "x\x00.txt",
                                  "x\n.txt"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(BadInput):
        safe_name(name)


def test_plain_names_pass():
    assert safe_name(" 2025年 工作要点.docx ") == "2025年 工作要点.docx"


def test_zip_bomb_and_non_zip_docx_refused():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * 50_000_000)
    with pytest.raises(BadInput, match="zip bomb"):
        check_zip("bomb.docx", bomb.getvalue(), 20 * 1024 * 1024)
    with pytest.raises(BadInput, match="not a zip"):
        check_zip("fake.docx", b"plain text, not a zip", 20 * 1024 * 1024)


def test_numbering_that_goes_backwards_is_a_warning():
    from policy_assistant.core.model import Item

    items = [Item("d", n, ["一", n], "…") for n in ("1", "2", "2", "3", "1")]
    assert len(numbering_warnings(items)) == 2
