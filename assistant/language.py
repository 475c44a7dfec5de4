"""Which language a question is in.

The share of CJK characters decides first: langdetect alone calls short Chinese
questions such as "学前教育今年有什么要求" Korean. Only text with few CJK characters
goes to langdetect, seeded so that the answer is the same on every run. Returns
"zh", "en" or another ISO code; never raises. Translating is not done here.
"""
from __future__ import annotations

import re
import threading

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
WORD = re.compile(r"[^\W\d_\u3400-\u9fff\uf900-\ufaff]+", re.UNICODE)
CJK_SHARE_FOR_CHINESE = 0.3     # CJK characters / (CJK characters + 2 x other-script words)
WORDS_FOR_LANGDETECT = 3        # shorter non-CJK text is too little evidence: English
_LOCK = threading.Lock()
_seeded = False


def detect_language(text: str) -> str:
    text = text or ""
    cjk = len(CJK.findall(text))
    words = WORD.findall(text)
    if cjk and not KANA_HANGUL.search(text) and cjk / (cjk + 2 * len(words)) >= CJK_SHARE_FOR_CHINESE:
        return "zh"
    if len(words) < WORDS_FOR_LANGDETECT:
        return "en" if words or not cjk else "zh"
    try:
        code = _langdetect(" ".join(words))
    except Exception:  # noqa: BLE001 - langdetect raises on odd input; English is the safe frame
        return "en"
    return "zh" if code.startswith("zh") else code


def _langdetect(text: str) -> str:
    global _seeded
    from langdetect import DetectorFactory, detect

    with _LOCK:
        if not _seeded:
            DetectorFactory.seed = 0
            _seeded = True
        return detect(text)
