"""The one numeral module: Chinese numerals read and written, both ways."""
from __future__ import annotations

import pytest

from policy_assistant.core.numerals import cn_to_int, int_to_cn


@pytest.mark.parametrize("text, number", [
    ("十二", 12), ("一百零三", 103), ("二十", 20), ("十", 10), ("一千二百六十", 1260), ("一百一十", 110),
    ("一百十", 110), ("两", 2), ("两万", 20000), ("三亿", 300_000_000), ("一万零五", 10005),
    ("二十万零三", 200003), ("零", 0),
    ("12", 12), ("１２", 12),
    ("二〇二五", 2025), ("一二", 12),          # digit by digit, as years are written
    ("十五五", None), ("五十十", None), ("千", None), ("①", None), ("abc", None), ("", None), ("3万", None),
])
def test_cn_to_int(text, number):
    assert cn_to_int(text) == number


def test_labels_refuse_digit_by_digit_runs():
    assert cn_to_int("一二", positional=False) is None
    assert cn_to_int("二〇二五", positional=False) is None
    assert cn_to_int("五", positional=False) == 5
    assert cn_to_int("十二", positional=False) == 12


@pytest.mark.parametrize("number, text", [
    (0, "零"), (1, "一"), (10, "十"), (12, "十二"), (20, "二十"), (103, "一百零三"), (110, "一百一十"),
    (1005, "一千零五"), (1010, "一千零一十"), (1260, "一千二百六十"), (10000, "一万"), (10005, "一万零五"),
    (120000, "十二万"), (1_200_000, "一百二十万"), (100_300_000, "一亿零三十万"),
])
def test_int_to_cn(number, text):
    assert int_to_cn(number) == text


def test_round_trip():
    for n in list(range(0, 2000)) + [9999, 10001, 99999, 123456789]:
        assert cn_to_int(int_to_cn(n)) == n


def test_negative_is_an_error():
    with pytest.raises(ValueError):
        int_to_cn(-1)
