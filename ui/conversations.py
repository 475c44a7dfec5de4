"""The conversation log: every question asked, its answer and the 👍/👎 it got, in SQLite.

One row per answered question in ``<index_dir>/conversations.sqlite``: time
(UTC, ISO 8601), channel ("chat" or "api"), question, rewritten question,
answer, citations (JSON), refused, generator, latency (ms), vote ("up"/"down"/
NULL), an optional comment on a 👎, the document filter, and the client address
only when ``Settings.log_client_address`` is on (HTTP API questions only; the
chat passes none). Rows older than ``Settings.log_days`` are deleted when the
log is opened and once a day after. ``Settings.log_conversations = False`` turns all of it off (``record``
returns None, nothing is written).

The console reads it through ``stats`` (questions per day, refusal rate,
vote rates, the most frequent refused questions, the most disliked answers)
and ``export`` (CSV or JSONL). The old ``feedback.jsonl`` of the chat is
imported once, then renamed ``feedback.jsonl.migrated``. SQLite in WAL mode
with one connection per call, so threads and processes can share the file.
This module does not answer questions or render pages.
"""
from __future__ import annotations

import contextvars
import csv
import datetime as dt
import io
import json
import sqlite3
import threading
import time
from pathlib import Path

from policy_assistant.core.errors import BadInput
from policy_assistant.core.settings import Settings

FILE_NAME = "conversations.sqlite"
OLD_FEEDBACK = "feedback.jsonl"
PURGE_EVERY_S = 24 * 3600
COLUMNS = ("id", "time", "channel", "question", "rewritten", "answer", "citations", "refused", "generator",
           "latency_ms", "vote", "comment", "doc", "client")
MAX_COMMENT = 500
CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("policy_client", default=None)

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    channel TEXT NOT NULL,
    question TEXT NOT NULL,
    rewritten TEXT,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    refused INTEGER NOT NULL,
    generator TEXT,
    latency_ms REAL,
    vote TEXT,
    comment TEXT,
    doc TEXT,
    client TEXT
);
CREATE INDEX IF NOT EXISTS conversations_time ON conversations(time);
"""


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class ConversationLog:
    def __init__(self, settings: Settings, clock=time.time):
        self.enabled = settings.log_conversations
        self.days = settings.log_days
        self.keep_client = settings.log_client_address
        self.path = settings.index_dir / FILE_NAME
        self.clock = clock
        self._purged_at = 0.0
        self._lock = threading.Lock()
        if self.enabled:
            with self._connect() as db:
                db.executescript(SCHEMA)
            self.migrate(settings.index_dir / OLD_FEEDBACK)
            self.purge()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.row_factory = sqlite3.Row
        return db

    # -- writing --------------------------------------------------------------------------------
    def record(self, record: dict, *, channel: str, latency_ms: float | None = None, doc: str | None = None,
               client: str | None = None, time_iso: str | None = None) -> int | None:
        """Log one answer record of the ask contract; returns its row id (None when logging is off)."""
        if not self.enabled:
            return None
        citations = [{"doc": c.get("doc"), "item": c.get("item"), "path": c.get("path"), "title": c.get("title")}
                     for c in record.get("citations") or []]
        if latency_ms is None:
            latency_ms = (record.get("timing_ms") or {}).get("total")
        row = (time_iso or now_iso(), channel, record.get("question", ""), record.get("rewritten"),
               record.get("answer", ""), json.dumps(citations, ensure_ascii=False), int(bool(record.get("refused"))),
               record.get("generator"), latency_ms, doc, client if self.keep_client else None)
        with self._lock, self._connect() as db:
            cursor = db.execute("INSERT INTO conversations (time, channel, question, rewritten, answer, citations, "
                                "refused, generator, latency_ms, doc, client) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
            row_id = cursor.lastrowid
        if self.clock() - self._purged_at > PURGE_EVERY_S:
            self.purge()
        return row_id

    def vote(self, row_id: int, vote: str, comment: str | None = None) -> bool:
        """Store a 👍 ("up") or 👎 ("down") and, with a 👎, an optional one-line comment. False: no such row."""
        if vote not in ("up", "down"):
            raise BadInput(f"vote must be 'up' or 'down', not {vote!r}")
        if not self.enabled:
            return False
        comment = " ".join((comment or "").split())[:MAX_COMMENT] or None
        with self._lock, self._connect() as db:
            if comment is None:     # a second click (👎 then its comment) must not erase the comment
                cursor = db.execute("UPDATE conversations SET vote=?, comment=CASE WHEN ?='down' THEN comment END "
                                    "WHERE id=?", (vote, vote, row_id))
            else:
                cursor = db.execute("UPDATE conversations SET vote=?, comment=? WHERE id=?", (vote, comment, row_id))
            return cursor.rowcount == 1

    def purge(self) -> int:
        """Delete the rows older than the retention period; returns how many."""
        self._purged_at = self.clock()
        if not self.enabled:
            return 0
        cutoff = dt.datetime.fromtimestamp(self.clock() - self.days * 86400, dt.timezone.utc)
        with self._lock, self._connect() as db:
            return db.execute("DELETE FROM conversations WHERE time < ?",
                              (cutoff.isoformat(timespec="seconds"),)).rowcount

    def migrate(self, old: Path) -> int:
        """Import the chat's old ``feedback.jsonl`` (one vote per line) once; returns the rows imported."""
        if not old.is_file():
            return 0
        imported = 0
        with self._lock, self._connect() as db:
            for line in old.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    vote = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(vote, dict):
                    continue
                citations = [{"doc": c.get("doc"), "item": c.get("item"), "path": c.get("path"),
                              "title": c.get("title")} for c in vote.get("citations") or [] if isinstance(c, dict)]
                db.execute("INSERT INTO conversations (time, channel, question, answer, citations, refused, generator, "
                           "vote, doc) VALUES (?,?,?,?,?,?,?,?,?)",
                           (vote.get("time") or now_iso(), "chat", vote.get("question", ""), vote.get("answer", ""),
                            json.dumps(citations, ensure_ascii=False), int(bool(vote.get("refused"))),
                            vote.get("generator"), vote.get("vote") if vote.get("vote") in ("up", "down") else None,
                            vote.get("doc")))
                imported += 1
        old.rename(old.with_name(old.name + ".migrated"))
        return imported

    # -- reading --------------------------------------------------------------------------------
    def rows(self, since: str | None = None) -> list[dict]:
        if not self.enabled:
            return []
        since = _since(since)
        with self._connect() as db:
            rows = db.execute("SELECT * FROM conversations WHERE time >= ? ORDER BY id", (since,)).fetchall()
        out = []
        for row in rows:
            entry = dict(row)
            entry["citations"] = json.loads(entry["citations"] or "[]")
            entry["refused"] = bool(entry["refused"])
            out.append(entry)
        return out

    def export(self, since: str | None = None, fmt: str = "jsonl") -> str:
        rows = self.rows(since)
        if fmt == "jsonl":
            return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "citations": json.dumps(row["citations"], ensure_ascii=False)})
            return buffer.getvalue()
        raise BadInput(f"format must be 'csv' or 'jsonl', not {fmt!r}")

    def stats(self, since: str | None = None, top: int = 10) -> dict:
        """What the console shows: per-day counts, rates, what was refused most, what was disliked."""
        empty = {"enabled": self.enabled, "questions": 0, "per_day": [], "refusal_rate": None, "up_rate": None,
                 "down_rate": None, "votes": 0, "top_refused": [], "most_disliked": []}
        if not self.enabled:
            return empty
        since = _since(since)
        with self._connect() as db:
            total, refused, up, down = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(refused),0), COALESCE(SUM(vote='up'),0), COALESCE(SUM(vote='down'),0) "
                "FROM conversations WHERE time >= ?", (since,)).fetchone()
            per_day = db.execute("SELECT substr(time,1,10) AS day, COUNT(*) AS questions, SUM(refused) AS refused "
                                 "FROM conversations WHERE time >= ? GROUP BY day ORDER BY day", (since,)).fetchall()
            top_refused = db.execute(
                "SELECT question, COUNT(*) AS times, MAX(time) AS last FROM conversations WHERE refused=1 AND time >= ? "
                "GROUP BY lower(trim(question)) ORDER BY times DESC, last DESC LIMIT ?", (since, top)).fetchall()
            disliked = db.execute(
                "SELECT id, time, question, answer, comment, citations FROM conversations WHERE vote='down' "
                "AND time >= ? ORDER BY (comment IS NOT NULL) DESC, id DESC LIMIT ?", (since, top)).fetchall()
        votes = up + down
        return {**empty, "questions": total, "votes": votes,
                "per_day": [dict(row) for row in per_day],
                "refusal_rate": round(refused / total, 4) if total else None,
                "up_rate": round(up / votes, 4) if votes else None,
                "down_rate": round(down / votes, 4) if votes else None,
                "top_refused": [dict(row) for row in top_refused],
                "most_disliked": [{**dict(row), "citations": json.loads(row["citations"] or "[]")} for row in disliked]}


def _since(since: str | None) -> str:
    """An ISO date or date-time (UTC) as the lower bound of ``time``; '' means everything."""
    if not since:
        return ""
    try:
        value = dt.datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"since must be an ISO date or date-time (e.g. 2026-01-31), not {since!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


class LoggedAssistant:
    """The served ``Assistant`` seen by one channel ("chat", "api"): every final answer is logged and
    carries its row id as ``log_id`` (the chat's 👍/👎 use it). Everything else is the assistant's."""

    def __init__(self, assistant, log: ConversationLog, channel: str):
        self._assistant, self._log, self._channel = assistant, log, channel

    def __getattr__(self, name):
        return getattr(self._assistant, name)

    def ask_stream(self, question, history=(), doc=None, generator=None):
        for event in self._assistant.ask_stream(question, history, doc, generator):
            if event["type"] == "final":
                row_id = self._log.record(event["record"], channel=self._channel, doc=doc, client=CLIENT.get())
                if row_id is not None:
                    event = {**event, "record": {**event["record"], "log_id": row_id}}
            yield event

    def ask(self, question, history=(), doc=None, generator=None) -> dict:
        for event in self.ask_stream(question, history, doc, generator):
            if event["type"] == "final":
                return event["record"]
        raise AssertionError("ask_stream ended without a final record")


class RememberClient:
    """ASGI middleware: the HTTP client's address, for ``LoggedAssistant`` (stored only when configured)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        token = CLIENT.set((scope.get("client") or (None,))[0]) if scope["type"] == "http" else None
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                CLIENT.reset(token)
