"""What every format loader shares: reading the bytes, one-line errors, quiet libraries, byte-order marks.

This module does not decode or parse any format.
"""
from __future__ import annotations

import contextlib
import logging
import unicodedata
import warnings
from pathlib import Path

from policy_assistant.core.errors import BadInput

MAX_BYTES = 200 * 1024 * 1024
_MAX_BYTES = MAX_BYTES

_BOMS = [(b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")]


def fail(path: Path, reason: object) -> BadInput:
    return BadInput(f"{path}: {' '.join(str(reason).split())}")


def read_bytes(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise fail(path, "is a directory, not a file")
        if not path.exists():
            raise fail(path, "no such file")
        if path.stat().st_size > _MAX_BYTES:
            raise fail(path, f"file is larger than {_MAX_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except PermissionError:
        raise fail(path, "cannot read the file (permission denied)") from None
    except OSError as exc:
        raise fail(path, f"cannot read the file ({exc.strerror or exc})") from None
    if not data:
        raise fail(path, "empty file (0 bytes)")
    return data


@contextlib.contextmanager
def quiet(*loggers: str):
    """Silence library warnings (they would print stray lines to stderr)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def bad_char_share(text: str) -> float:
    """Share of characters that never occur in real text: controls, private use, U+FFFD."""
    if not text:
        return 0.0
    bad = sum(1 for ch in text
              if (unicodedata.category(ch) in ("Cc", "Co", "Cs") and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad / len(text)
