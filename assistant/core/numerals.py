"""Chinese numerals both ways: the one place the project reads or writes them.

What it does
    ``cn_to_int`` reads a numeral as printed in policy texts and questions:
    ASCII or full-width digits ("12", "１２"), counting numerals with units
    ("十二" 12, "一百零三" 103, "一千二百六十" 1260, "两万" 20000, "三亿" 300000000)
    and, by default, digit-by-digit numerals ("二〇二五" 2025; "一二" 12, read the
    same way). ``positional=False`` refuses the digit-by-digit reading of more than
    one character, for item labels, where "一二、三级" is not item 12.
    A run that is not a well-formed numeral ("十五五", "五十十", "①", "abc", "")
    gives None.

    ``int_to_cn`` writes a non-negative int as a counting numeral the way
    documents number articles and Word renders chineseCounting lists: 10 "十",
    12 "十二", 20 "二十", 103 "一百零三", 110 "一百一十", 1260 "一千二百六十",
    10000 "一万", 120000 "十二万".

What it does not do
    No decimals or fractions ("三点五", "三分之一"), no financial numerals
    (壹贰叁), no mixed forms ("3万"), no searching inside longer text: callers
    cut the numeral out first.
"""
from __future__ import annotations

import re

__all__ = ["cn_to_int", "int_to_cn", "CN_DIGIT_CHARS", "CN_NUMERAL_CHARS"]

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = (("亿", 10 ** 8), ("万", 10 ** 4))
CN_DIGIT_CHARS = "".join(_DIGITS)
CN_NUMERAL_CHARS = CN_DIGIT_CHARS + "十百千万亿"

_ARABIC = re.compile(r"[0-9０-９]+")
# one section below 万: [d千][零][d百][零][d]十[零][d] with every part optional, units decreasing
_D = "[一二两三四五六七八九]"
_SECTION = re.compile(rf"(?:({_D})千)?[零〇]?(?:({_D})百)?[零〇]?(?:({_D})?十)?[零〇]?({_D})?")
_WRITE = "零一二三四五六七八九"


def _section_value(text: str) -> int | None:
    if not text:
        return None
    m = _SECTION.fullmatch(text)
    if m is None or not any(ch != "零" and ch != "〇" for ch in text):
        return None
    thousands, hundreds, tens, ones = m.groups()
    value = 0
    if thousands:
        value += _DIGITS[thousands] * 1000
    if hundreds:
        value += _DIGITS[hundreds] * 100
    if "十" in text:
        value += (_DIGITS[tens] if tens else 1) * 10
    if ones:
        value += _DIGITS[ones]
    return value


def cn_to_int(text: str, *, positional: bool = True) -> int | None:
    """The value of one numeral ("十二" 12, "二〇二五" 2025, "１２" 12); None when it is not one."""
    text = (text or "").strip()
    if not text:
        return None
    if _ARABIC.fullmatch(text):
        return int(text)          # int() reads full-width digits too
    if any(ch not in CN_NUMERAL_CHARS for ch in text):
        return None
    if not any(ch in _SMALL_UNITS or ch in "万亿" for ch in text):
        if len(text) == 1:
            return _DIGITS[text]
        if not positional:
            return None           # "一二" is not a counting numeral
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, rest = 0, text
    for unit, size in _BIG_UNITS:
        if unit in rest:
            head, _, rest = rest.partition(unit)
            if unit in rest:
                return None
            head_value = _section_value(head) if head else 1
            if head_value is None:
                return None
            total += head_value * size
    if rest:
        if rest[0] in "零〇" and total:
            rest = rest[1:]       # "一万零五"
        value = _section_value(rest)
        if value is None:
            return None
        total += value
    return total


def int_to_cn(n: int) -> str:
    """A non-negative int as a counting numeral: 12 "十二", 103 "一百零三", 10000 "一万"."""
    if n < 0:
        raise ValueError(f"no Chinese numeral for a negative number: {n}")
    if n == 0:
        return "零"
    sections = []                       # 4-digit groups, highest first, with their unit
    for size, unit in ((10 ** 8, "亿"), (10 ** 4, "万"), (1, "")):
        head, n = divmod(n, size)
        sections.append((head, unit))
    out, gap = "", False
    for value, unit in sections:
        if not value:
            gap = bool(out)
            continue
        if out and (gap or value < 1000):
            out += "零"                  # "一万零五", "一亿零三十万"
        out += _below_10000(value, leading=not out) + unit
        gap = False
    return out


def _below_10000(n: int, *, leading: bool) -> str:
    """1..9999 (or an 亿 head) as 千/百/十 digits; "十二" at the start, "一十二" after a higher unit."""
    if n >= 10000:
        return int_to_cn(n)
    out, zero = "", False
    for size, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, size)
        if not digit:
            zero = bool(out)
            continue
        if zero:
            out += "零"
        zero = False
        out += ("十" if unit == "十" and digit == 1 and not out and leading else _WRITE[digit] + unit)
    return out
