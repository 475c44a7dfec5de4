"""Question understanding: language, follow-ups, direct lookups, years, bad input."""
import pytest
from hypothesis import given, settings, strategies as st

from policy_assistant.core.errors import BadInput
from policy_assistant.language import detect_language
from policy_assistant.query import YearRef, cn_to_int, understand


@pytest.mark.parametrize("text, expected", [
    ("学前教育今年有什么要求", "zh"),          # langdetect alone says Korean
    ("那高中呢？", "zh"),
    ("第12条", "zh"),
    ("这个plan里关于preschool education说了什么", "zh"),
    ("AI进课堂今年有动静吗", "zh"),
    ("What does the plan say about preschool education?", "en"),
    ("What does 学前教育 mean in the plan?", "en"),
    ("hello", "en"),
    ("Was sagt der Plan über die Schulen in Taizhou?", "de"),
    ("", "en"),
    ("😀😀", "en"),
])
def test_language(text, expected):
    assert detect_language(text) == expected


def test_language_is_deterministic():
    assert {detect_language("Que dit le plan sur les écoles maternelles ?") for _ in range(20)} == {"fr"}


@pytest.mark.parametrize("text, number", [("十二", 12), ("一百零三", 103), ("二十", 20), ("12", 12), ("１２", 12),
                                          ("十", 10), ("①", None), ("abc", None), ("", None)])
def test_chinese_numbers(text, number):
    assert cn_to_int(text) == number


@pytest.mark.parametrize("history, question, rewritten", [
    (["学前教育今年有什么要求"], "那高中呢？", "高中今年有什么要求"),
    (["学前教育今年有什么要求", "那高中呢"], "特殊教育呢", "特殊教育今年有什么要求"),
    (["What does the plan say about preschool education?"], "What about vocational education?",
     "What does the plan say about vocational education?"),
])
def test_follow_ups_are_rewritten(history, question, rewritten):
    query = understand(question, history)
    assert query.text == rewritten and query.rewritten


def test_a_full_question_after_history_is_left_alone():
    query = understand("随迁子女能在这边上学吗", ["学前教育今年有什么要求"])
    assert query.text == "随迁子女能在这边上学吗" and not query.rewritten


@pytest.mark.parametrize("question, item, section", [
    ("第12条是什么", 12, None), ("第十二条讲的啥", 12, None), ("What does item 28 say?", 28, None),
    ("第五部分有哪些", None, 5), ("第三章都规定了什么", None, 3), ("学前教育今年有什么要求", None, None),
])
def test_direct_lookups(question, item, section):
    query = understand(question)
    assert (query.item_number, query.section_number) == (item, section)


def test_follow_up_lookup():
    assert understand("那第13条呢", ["第12条是什么"]).item_number == 13


@pytest.mark.parametrize("question, years, compare", [
    ("学前教育今年有什么要求", [YearRef("this")], False),
    ("2024年学前教育有什么要求", [YearRef("exact", 2024)], False),
    ("去年的学前教育要求", [YearRef("last")], False),
    ("今年和去年相比学前教育有什么变化", [YearRef("this"), YearRef("last")], True),
    ("2025年和2024年的学前教育有什么不同", [YearRef("exact", 2025), YearRef("exact", 2024)], True),
])
def test_years(question, years, compare):
    query = understand(question)
    assert query.years == years and query.compare == compare


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\u3000\u3000", "\x00\x01"])
def test_empty_questions_are_bad_input(question):
    with pytest.raises(BadInput, match="empty"):
        understand(question)


def test_overlong_question_is_rejected_with_the_limit():
    with pytest.raises(BadInput, match="limit is 2000"):
        understand("学" * 100_000)


@pytest.mark.parametrize("question", ["学前教育？！。，", "AI进课堂 today?", "幼儿园😀托班", "a\x07b\u200bc", "（第十二条）"])
def test_odd_strings_are_understood(question):
    assert understand(question).text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.lists(st.text(max_size=50), max_size=3))
def test_understand_never_crashes(question, history):
    try:
        query = understand(question, history)
    except BadInput:
        return
    assert query.text and query.language
