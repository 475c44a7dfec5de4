"""The build summary line is grammatical ("1 document", "1 item")."""
from policy_assistant.index.builder import BuildReport, public_source
from pathlib import Path


def test_summary_counts_in_the_singular_and_plural():
    assert BuildReport(added=["a"], items=30).summary().startswith("30 items from 1 document, 1 added")
    assert BuildReport(added=["a", "b"], items=1).summary().startswith("1 item from 2 documents")


def test_public_source_is_relative_to_the_indexed_folder_or_the_file_name():
    assert public_source(Path("/srv/policies/2025/a.txt"), [Path("/srv/policies")]) == "2025/a.txt"
    assert public_source(Path("/elsewhere/b.txt"), [Path("/srv/policies")]) == "b.txt"
