"""Write ``llm_style_pairs.jsonl``: labelled sentence–item pairs in the style of instruction-tuned LLM answers.

``python eval/calibration/generate.py`` (deterministic, seed fixed) takes items from the bundled corpus,
``eval/corpora/*.txt`` and a stride of the laws in ``/work/shared/benchmarks/stard/laws/``, and for each item
writes sentences the way Qwen/DeepSeek-style answers read — a framing ("根据《…》，…包括：", "文件提出，",
"主要有以下几点：", markdown bold, a numbered line), then the content — in these kinds:

- supported: ``framed_quote`` (a sentence of the item, framed), ``paraphrase`` (clauses reordered,
  connectives and common verbs swapped for synonyms, the purpose clause dropped), ``summary`` (some of the
  item's clauses, the rest left out, closed with 等);
- unsupported: ``entity_swap`` (小学 for 初中, 市 for 县, 国务院 for 省级人民政府 … where the item does not
  also say the other), ``number_change``, ``modality`` (鼓励→要求, 可以→必须, 应当→可以), ``negation``
  (a 不/未 before a verb, or one dropped), ``invented`` (an added date, amount or named programme),
  ``wrong_item`` (another item's sentence, citing this one).

Labels are by construction. Each row carries the cited item's support text (``item_text``), so the file
stands alone; ``split`` is ``fit`` or ``test`` by DOCUMENT (every second document, in sorted order, is test).
The word tables below are the generator's, written from general Chinese usage; the support check does not
read them. This file is a generator of calibration data, not part of the package.
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "llm_style_pairs.jsonl"
STARD = Path("/work/shared/benchmarks/stard/laws")
LAW_STRIDE = 75                     # every 75th law of the 1297: 18 laws
ITEMS_PER_DOC = 9
SEED = 13

SYNONYMS = {"加快": "加速", "推进": "推动", "加强": "强化", "完善": "健全", "开展": "进行", "进一步": "持续",
            "提高": "提升", "促进": "推动", "支持": "扶持", "保障": "保证", "建立": "建立起", "实施": "推行",
            "负责": "承担", "依法": "依照法律", "及时": "尽快", "组织": "组织开展", "应当": "应", "和": "以及",
            "并": "同时", "按照": "依照", "有关": "相关", "制定": "出台", "确保": "保证", "落实": "贯彻",
            "监督管理": "监管", "规定": "规定的"}
SWAPS = [("小学", "初中"), ("高校", "中小学"), ("幼儿园", "高中"), ("学生", "教师"), ("国务院", "省级人民政府"),
         ("县级以上", "省级以上"), ("公安机关", "司法行政部门"), ("人民法院", "人民检察院"), ("城市", "农村"),
         ("个人", "单位"), ("书面", "口头"), ("中央", "地方"), ("出租人", "承租人"), ("买受人", "出卖人"),
         ("本科", "专科"), ("义务教育", "高中教育"), ("财政部门", "税务部门"), ("家长", "学校"),
         ("国家", "省"), ("省", "市"), ("市", "县"), ("县", "乡镇"), ("企业", "事业单位"), ("外国", "国内"),
         ("民事", "刑事"), ("罚款", "拘留"), ("所有权", "使用权"), ("银行", "保险公司"), ("海关", "税务机关")]
MODAL_FLIPS = [("鼓励", "要求"), ("可以", "必须"), ("应当", "可以"), ("不得", "可以"), ("必须", "可以"),
               ("支持", "要求"), ("禁止", "允许"), ("有权", "无权")]
NEGATABLE = ["建立", "设立", "开展", "实施", "适用", "承担", "提供", "支持", "纳入", "保护", "办理", "登记", "公开",
             "组织", "负责", "审查", "建设", "推进", "加强", "完善", "提高", "予以", "依法"]
INVENTED = ["，并于2026年底前全部完成", "，每年安排专项资金5000万元", "，纳入“强基提质三年行动”统一推进",
            "，由省级财政全额承担相关费用", "，力争覆盖率达到95%以上", "，2027年起在全国推广",
            "，对完成情况实行一票否决", "，具体补助标准为每人每年3000元", "，通过“阳光护航工程”落实",
            "，试点期限为三年"]
FRAMES_CLAIM = ["根据《{title}》，{body}", "文件提出，{body}", "{title}明确，{body}", "具体来说，{body}",
                "此外，{body}", "**{head}**：{body}", "1. {body}", "- {body}", "{body}", "{body}",
                "该文件规定，{body}", "文件要求，{body}"]
FRAMES_LIST = ["根据《{title}》，{head}方面的要求包括：{body}", "文件提出的主要有以下几点：{body}",
               "{title}在{head}方面主要包括：{body}"]
CN_DIGITS = "零一二三四五六七八九"
CLAUSE = re.compile(r"[^，、；。：]+[，、；。：]?")


def documents() -> list[tuple[str, str, list]]:
    """(doc id, title, items) for the bundled corpus, the eval corpora and a stride of the stard laws."""
    sys.path.insert(0, str(HERE.parents[1]))
    from policy_assistant.index.builder import BUNDLED_CORPUS
    from policy_assistant.index.chunking import chunk_document
    from policy_assistant.index.loaders import load_document

    bundled = Path(BUNDLED_CORPUS)
    paths = sorted(bundled.glob("*.txt")) if bundled.is_dir() else [bundled]
    paths += sorted((HERE.parent / "corpora").glob("*.txt"))
    paths += sorted(STARD.glob("*.md"))[::LAW_STRIDE] if STARD.is_dir() else []
    out = []
    for path in paths:
        document = load_document(path)
        document.doc = path.stem
        items = [item for item in chunk_document(document) if 30 <= len(item.text) <= 400]
        if len(items) >= 3:
            out.append((path.stem, document.title or path.stem, items))
    return out


def support_text(item) -> str:
    return "\n".join(part for part in (item.title, item.office, *item.headings, item.text) if part)   # as grounding.support_text


def sentences_of(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:第[零〇一二三四五六七八九十百]+条|[（(][一二三四五六七八九十]+[)）]|\d+[.、])\s*", "", line)
        out += [s.strip() for s in re.findall(r"[^。；！？]+[。；！？]?", line)
                if len(s.strip()) >= 12 and "#" not in s and not re.match(r"\s*\d{4}年", s)]
    return out


def close(body: str) -> str:
    body = body.strip().rstrip("，、；：。")
    return body + "。"


def head_of(item, title: str) -> str:
    heading = (item.section or (item.headings[-1] if item.headings else "") or title)
    heading = re.sub(r"^[一二三四五六七八九十]+、|^第[一二三四五六七八九十]+章\s*", "", heading).strip()
    return heading if 2 <= len(heading) <= 10 else "相关工作"


def frame(rng: random.Random, body: str, item, title: str, listing: bool = False) -> str:
    template = rng.choice(FRAMES_LIST if listing else FRAMES_CLAIM)
    return template.format(title=title, head=head_of(item, title), body=close(body))


def paraphrase(rng: random.Random, sentence: str) -> str | None:
    body = re.sub(r"^为了?[^，]{2,40}，", "", sentence.rstrip("。；"))     # the purpose clause goes
    words = [w for w in SYNONYMS if w in body]
    rng.shuffle(words)
    changed = body
    for word in words[:3]:
        changed = changed.replace(word, SYNONYMS[word], 1)
    parts = [p for p in re.split(r"，", changed) if p]
    if len(parts) >= 3 and rng.random() < 0.5:
        parts[1], parts[2] = parts[2], parts[1]
        changed = "，".join(parts)
    return changed if changed != sentence.rstrip("。；") else None


def summary(rng: random.Random, text: str) -> str | None:
    body = re.sub(r"^第\S{1,6}条\s*", "", text).replace("\n", "；")
    parts = [p.strip("，、；。： ") for p in re.split(r"[，；。]", body) if len(p.strip()) >= 4 and "#" not in p]
    if len(parts) < 3:
        return None
    keep = sorted(rng.sample(range(len(parts)), k=min(len(parts) - 1, rng.choice((2, 3)))))
    return "，".join(parts[i] for i in keep) + "等"


def entity_swap(rng: random.Random, sentence: str, text: str) -> str | None:
    options = [(a, b) for a, b in SWAPS if a in sentence and b not in text] + \
              [(b, a) for a, b in SWAPS if b in sentence and a not in text]
    if not options:
        return None
    a, b = rng.choice(options)
    return sentence.replace(a, b, 1)


def number_change(rng: random.Random, sentence: str, text: str) -> str | None:
    digits = list(re.finditer(r"\d+", sentence))
    if digits:
        match = rng.choice(digits)
        value = int(match.group(0))
        new = str(value + rng.choice((1, 2, 5, 10)) if value < 1900 else value + 1)
        return sentence[:match.start()] + new + sentence[match.end():] if new not in text else None
    cn = [m for m in re.finditer(rf"[{CN_DIGITS[1:]}十](?=[个名日天年月人项次所倍级])", sentence)]
    if cn:
        match = rng.choice(cn)
        options = [d for d in CN_DIGITS[2:] + "十" if d != match.group(0) and d + sentence[match.end()] not in text]
        if options:
            return sentence[:match.start()] + rng.choice(options) + sentence[match.end():]
    return None


def modality(rng: random.Random, sentence: str, text: str) -> str | None:
    options = [(a, b) for a, b in MODAL_FLIPS if a in sentence and not sentence.count(b)]
    if not options:
        return None
    a, b = rng.choice(options)
    flipped = sentence.replace(a, b, 1)
    return flipped if flipped not in text else None


def negation(rng: random.Random, sentence: str, text: str) -> str | None:
    options = [w for w in NEGATABLE if w in sentence and "不" + w not in text and "未" + w not in text]
    if "不得" in sentence:
        return sentence.replace("不得", "可以", 1) if rng.random() < 0.5 else sentence.replace("不得", "", 1)
    if not options:
        return None
    word = rng.choice(options)
    return sentence.replace(word, rng.choice(("不", "不再", "未")) + word, 1)


def invented(rng: random.Random, sentence: str) -> str:
    return sentence.rstrip("。；") + rng.choice(INVENTED)


def pairs_for(rng, doc, title, items, split, counter) -> list[dict]:
    rows = []
    chosen = items if len(items) <= ITEMS_PER_DOC else rng.sample(items, ITEMS_PER_DOC)

    def add(kind, sentence, item, supported):
        counter[0] += 1
        rows.append({"id": f"llm-{counter[0]:04d}", "doc": doc, "item": item.item, "split": split,
                     "kind": kind, "supported": supported, "sentence": sentence,
                     "item_text": support_text(item)})

    for item in chosen:
        sents = sentences_of(item.text)
        if not sents:
            continue
        text = item.text
        sentence = rng.choice(sents)
        add("framed_quote", frame(rng, sentence, item, title, listing=rng.random() < 0.5), item, True)
        if (p := paraphrase(rng, sentence)) is not None:
            add("paraphrase", frame(rng, p, item, title), item, True)
        if (s := summary(rng, text)) is not None:
            add("summary", frame(rng, s, item, title, listing=rng.random() < 0.3), item, True)
        wrongs = [("entity_swap", entity_swap(rng, sentence, text)),
                  ("number_change", number_change(rng, sentence, text)),
                  ("modality", modality(rng, sentence, text)),
                  ("negation", negation(rng, sentence, text)),
                  ("invented", invented(rng, sentence))]
        wrongs = [(kind, body) for kind, body in wrongs if body]
        rng.shuffle(wrongs)
        for kind, body in wrongs[:2] + [w for w in wrongs[2:] if w[0] == "entity_swap"]:
            add(kind, frame(rng, body, item, title), item, False)
        others = [other for other in items if other is not item and not set(_bi(other.text)) >= set(_bi(sentence))]
        if others and rng.random() < 0.35:
            other = rng.choice(others)
            if (osents := sentences_of(other.text)) and _overlap(osents[0], text) < 0.4:
                add("wrong_item", frame(rng, osents[0], item, title), item, False)
    return rows


def _bi(text: str) -> list[str]:
    chars = re.sub(r"[\W_]+", "", text)
    return [chars[i:i + 2] for i in range(len(chars) - 1)]


def _overlap(sentence: str, text: str) -> float:
    grams = set(_bi(sentence))
    return len(grams & set(_bi(text))) / len(grams) if grams else 1.0


def main() -> int:
    rng = random.Random(SEED)
    rows, counter = [], [0]
    for index, (doc, title, items) in enumerate(sorted(documents())):
        rows += pairs_for(rng, doc, title, items, "test" if index % 2 else "fit", counter)
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    kinds: dict = {}
    for row in rows:
        kinds.setdefault((row["split"], row["kind"]), 0)
        kinds[(row["split"], row["kind"])] += 1
    print(f"{len(rows)} pairs from {len({r['doc'] for r in rows})} documents -> {OUT}")
    for key in sorted(kinds):
        print(" ", *key, kinds[key])
    return 0


if __name__ == "__main__":
    sys.exit(main())
