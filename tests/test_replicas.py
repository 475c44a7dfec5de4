"""Past one machine: a `chroma run` server, the index built into it with the CLI, and two
`policy-assistant serve` replicas (separate processes, separate local dirs) answering from that
one index; a rebuild is picked up by both, and a rebuild under traffic fails no request.

Everything runs on 127.0.0.1 with free ports; every process started here is stopped here."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from policy_assistant.eval.loadtest import child_env, cli_command, free_port, server, stop

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "index" / "corpus"
QUESTION = "学前教育今年有什么要求"
NEW_QUESTION = "校园足球联赛怎么安排"
NEW_DOC = "taizhou-2025-school-sports"
NEW_TEXT = """2025年校园体育工作要点

一、深化校园体育改革

1.举办校园足球联赛。全市中小学举办校园足球联赛，每所学校组建校级足球队，联赛分小学组、初中组和高中组进行。

2.保障体育活动时间。义务教育阶段学校落实每天综合体育活动时间不少于2小时，推行大课间体育活动。
"""


@contextlib.contextmanager
def chroma_server(path: Path, log: Path, timeout: float = 60.0):
    """`chroma run` on a free loopback port; yields its URL once the heartbeat answers."""
    chroma = shutil.which("chroma", path=str(Path(cli_command()[0]).parent)) or shutil.which("chroma")
    if not chroma:
        pytest.skip("the `chroma` CLI (installed with chromadb) is not on this machine")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as handle:
        process = subprocess.Popen([chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=handle, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"chroma run exited with {process.returncode}: {log.read_text()[-500:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not answer its heartbeat within {timeout:.0f} s")
                time.sleep(0.1)
            yield url
        finally:
            stop(process)


def build(url: str, lock_dir: Path, *paths: Path) -> str:
    done = subprocess.run(cli_command() + ["index", "build", *map(str, paths), "--chroma-url", url,
                                           "--index-dir", str(lock_dir)],
                          env=child_env({"OMP_NUM_THREADS": "1"}), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ask(base: str, question: str) -> dict:
    reply = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=30.0)
    assert reply.status_code == 200, reply.text
    return reply.json()


def generation(base: str) -> str:
    return httpx.get(f"{base}/healthz", timeout=10.0).json()["index"]["generation"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Chroma server with the bundled corpus built into it, and two replicas serving it."""
    tmp = tmp_path_factory.mktemp("replicas")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(chroma_server(tmp / "chroma-data", tmp / "chroma.log"))
        build(url, tmp / "builder", BUNDLED)
        env = child_env({"OMP_NUM_THREADS": "1", "POLICY_RATE_LIMIT": "0"})
        replicas = []
        for name in ("replica-a", "replica-b"):
            port = free_port()
            argv = cli_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--chroma-url", url,
                                    "--index-dir", str(tmp / name)]
            base, process, _ = stack.enter_context(server(argv, env, port, log=tmp / f"{name}.log"))
            replicas.append(base)
        yield {"url": url, "replicas": replicas, "tmp": tmp}


def test_two_replicas_answer_from_one_chroma_server(cluster):
    a, b = cluster["replicas"]
    assert generation(a) == generation(b)
    for base in (a, b):
        record = ask(base, QUESTION)
        assert not record["refused"]
        assert record["citations"][0]["item"] == "12"
        assert "[第12条]" in record["answer"]
        health = httpx.get(f"{base}/healthz", timeout=10.0).json()
        assert health["index"]["where"] == cluster["url"] and health["items"] == 30
    assert not any((cluster["tmp"] / name / "chroma").exists() for name in ("replica-a", "replica-b"))


def test_a_rebuild_is_picked_up_by_both_replicas(cluster):
    a, b = cluster["replicas"]
    before = generation(a)
    extra = cluster["tmp"] / "extra"
    extra.mkdir(exist_ok=True)
    (extra / f"{NEW_DOC}.txt").write_text(NEW_TEXT, encoding="utf-8")
    assert "1 added" in build(cluster["url"], cluster["tmp"] / "builder", BUNDLED, extra)
    deadline = time.monotonic() + 20               # replicas re-read the pointer every 2 s
    seen = {}
    while time.monotonic() < deadline and len(seen) < 2:
        for base in (a, b):
            if base not in seen and generation(base) != before:
                seen[base] = generation(base)
        time.sleep(0.25)
    assert len(seen) == 2 and len(set(seen.values())) == 1, seen
    for base in (a, b):
        record = ask(base, NEW_QUESTION)
        assert [c["doc"] for c in record["citations"]][:1] == [NEW_DOC], record["answer"]
        assert ask(base, QUESTION)["citations"][0]["item"] == "12"


def test_no_request_fails_while_a_rebuild_replaces_the_generation(cluster):
    """Replicas follow the pointer every 2 s, so the generation they were reading must outlive the build."""
    a, b = cluster["replicas"]
    failures: list[str] = []
    answered = 0
    stop_event = threading.Event()

    def traffic(base: str):
        nonlocal answered
        while not stop_event.is_set():
            try:
                reply = httpx.post(f"{base}/api/ask", json={"question": QUESTION}, timeout=30.0)
            except httpx.HTTPError as exc:
                failures.append(f"{base}: {type(exc).__name__}")
                continue
            if reply.status_code == 200:
                answered += 1
            else:
                failures.append(f"{base}: {reply.status_code} {reply.text[:200]}")

    threads = [threading.Thread(target=traffic, args=(base,), daemon=True) for base in (a, b)]
    for thread in threads:
        thread.start()
    try:
        build(cluster["url"], cluster["tmp"] / "builder", BUNDLED)      # the extra file removed: a new generation
        time.sleep(5)                                                  # past two pointer re-checks
    finally:
        stop_event.set()
        for thread in threads:
            thread.join(timeout=30)
    assert answered > 0
    assert not failures, f"{len(failures)} failed of {len(failures) + answered}: {failures[:3]}"
    for base in (a, b):
        assert httpx.get(f"{base}/healthz", timeout=10.0).json()["items"] == 30
