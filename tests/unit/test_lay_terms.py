"""The lay-term expansion of the BM25 side: the shipped table's format, its errors, and what it changes."""
from __future__ import annotations

import numpy as np
import pytest

from policy_assistant.core.errors import BadInput
from policy_assistant.core.model import Item
from policy_assistant.eval.lay_terms_fit import association_table
from policy_assistant.retrieval import LAY_TERMS_FILE, Corpus, LayTerms, lexical_parts, lexical_scores


def _corpus() -> Corpus:
    texts = ["夫妻一方死亡的，配偶有权继承遗产。", "用人单位解除劳动合同的，应当支付经济补偿。", "国家实行九年义务教育制度。"]
    items = [Item(doc="法", item=label, path=[label], text=text, title="某法", order=n)
             for n, (label, text) in enumerate(zip(("第一条", "第二条", "第三条"), texts))]
    return Corpus(items, "test", np.eye(3, 4, dtype=np.float32))


def test_the_table_loads_and_expands(tmp_path):
    path = tmp_path / "lay.tsv"
    path.write_text("# weight: 1.5\n# max_share: 0.05\n# fitted_on: a test\n老公\t配偶\t0.6\n老公\t继承\t0.2\n辞退\t解除劳动合同\t0.5\n",
                    encoding="utf-8")
    lay = LayTerms.load(path)
    assert (lay.weight, lay.max_share, lay.fitted_on) == (1.5, 0.05, "a test")
    shares = lay.expand(["老公", "去世"])
    assert shares == pytest.approx({"配偶": 0.75, "继承": 0.25})
    assert lay.expand(["配偶", "老公"]) == {"继承": 1.0}          # a word the question already has is not added
    assert lay.expand(["天气"]) == {}


def test_a_bad_table_is_a_clear_error(tmp_path):
    path = tmp_path / "lay.tsv"
    path.write_text("# weight: 1\n老公\t配偶\n", encoding="utf-8")
    with pytest.raises(BadInput, match=r"lay.tsv, line 2"):
        LayTerms.load(path)
    path.write_text("# weight: much\n", encoding="utf-8")
    with pytest.raises(BadInput, match="weight"):
        LayTerms.load(path)
    assert LayTerms.load(tmp_path / "missing.tsv").weight == 0.0


def test_the_expansion_reaches_the_statute_word():
    corpus = _corpus()
    lay = LayTerms({"老公": [("配偶", 1.0)]}, weight=1.0)
    plain = lexical_scores(corpus, "老公去世了怎么办", LayTerms())
    expanded = lexical_scores(corpus, "老公去世了怎么办", lay)
    assert plain[0] == 0.0 and expanded[0] > 0.0                    # only the expansion finds 配偶
    assert expanded[1] == expanded[2] == 0.0
    own, extra = lexical_parts(corpus, "老公去世了怎么办", lay)
    assert np.allclose(own + extra, expanded)
    assert np.allclose(lexical_scores(corpus, "国家几年", lay), lexical_scores(corpus, "国家几年", LayTerms()))


def test_associations_need_support_and_lift():
    asked = {"老公": 4, "怎么": 40}
    answered = {"配偶": 5, "规定": 38}
    pairs = {"老公": {"配偶": 4, "规定": 4}, "怎么": {"配偶": 5, "规定": 38}}
    table = association_table((asked, answered, pairs, 40), 3, 5, 2.0, {"配偶", "规定"})
    assert [y for y, _ in table["老公"]] == ["配偶"]                # 规定 answers nearly every question: no lift
    assert "怎么" not in table
    assert association_table((asked, answered, pairs, 40), 5, 5, 2.0, {"配偶"}) == {}


def test_the_shipped_table_parses():
    lay = LayTerms.load(LAY_TERMS_FILE)
    assert lay.table and lay.weight > 0.0 and 0.0 < lay.max_share <= 1.0       # shipped, not the empty fallback
    assert all(isinstance(y, str) and a > 0 for pairs in lay.table.values() for y, a in pairs)


def test_the_documents_own_words_are_not_translated():
    corpus = _corpus()                                      # 义务教育 is in one of its three items
    lay = LayTerms({"义务教育": [("配偶", 1.0)]}, weight=1.0, max_share=0.5)
    assert lexical_parts(corpus, "义务教育几年", lay)[1][0] > 0.0      # 1/3 of the items: still translated
    strict = LayTerms({"义务教育": [("配偶", 1.0)]}, weight=1.0, max_share=0.2)
    assert not lexical_parts(corpus, "义务教育几年", strict)[1].any()  # above the share: the corpus's own word
