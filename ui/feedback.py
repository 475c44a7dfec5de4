"""👍/👎 feedback from the chat, appended as JSON lines to ``<index_dir>/feedback.jsonl``.

One line per vote: time (UTC, ISO 8601), vote ("up"/"down"), question, history,
answer, citations (the whole cited items, as shown), document filter, generator,
refused, language. Appends hold a thread lock and an exclusive ``flock`` on the
file (several workers or processes may share one index dir) and write each
line with one ``write`` call, so no line is lost or interleaved. Reading or
analysing the votes is not done here.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the thread lock alone
    fcntl = None

FILE_NAME = "feedback.jsonl"


class FeedbackLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, vote: str, record: dict, history: list[str] | None = None, doc: str | None = None) -> dict:
        """Append one vote about one answer record; returns the line written."""
        line = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "vote": vote,
            "question": record.get("question", ""),
            "history": list(history or []),
            "answer": record.get("answer", ""),
            "citations": record.get("citations", []),
            "doc": doc or None,
            "generator": record.get("generator"),
            "refused": record.get("refused"),
            "language": record.get("language"),
        }
        self.append(line)
        return line

    def append(self, line: dict) -> None:
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                if fcntl:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:                      # os.write may write less than asked: finish the line
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)                     # closing releases the flock
