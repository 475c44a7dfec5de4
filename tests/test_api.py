"""The HTTP API against the real server on loopback: /api/ask, the OpenAI-compatible /v1
(with the official ``openai`` client, plain and streamed), /healthz, /docs, the error
boundary (422, 400, 413), the API key (401), the rate limit (429), concurrent clients,
and ``serve`` itself (the bind warning, exit codes, the CLI in a subprocess)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

try:
    from tests.servers import free_port, running
except ImportError:  # tests/ run as a rootdir-less folder
    from servers import free_port, running

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
KEY = "test-key-not-secret"
pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def url(built_index, assistant):
    with running(built_index.with_(rate_limit=1000), assistant) as base:
        yield base


@pytest.fixture(scope="module")
def keyed_url(built_index, assistant):
    with running(built_index.with_(api_key=KEY), assistant) as base:
        yield base


@pytest.fixture(scope="module")
def limited_url(built_index, assistant):
    with running(built_index.with_(rate_limit=3), assistant) as base:
        yield base


def ask(base: str, body, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/api/ask", json=body, timeout=30, **kwargs)


# ------------------------------------------------------------------------------------- /api/ask
def test_ask_quotes_and_cites_item_12(url):
    response = ask(url, {"question": "学前教育今年有什么要求"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert "[第12条]" in record["answer"] and "加快建设公办幼儿园" in record["answer"]
    assert [c["item"] for c in record["citations"]] == ["12"]
    citation = record["citations"][0]
    assert citation["section"].startswith("五、") and citation["path"] == ["五", "12"]
    assert "加快建设公办幼儿园" in citation["text"] and citation["year"] == 2025
    assert record["refused"] is False and record["language"] == "zh" and record["generator"] == "extractive"
    assert set(record) >= {"question", "language", "refused", "generator", "warnings", "answer", "citations",
                           "retrieved", "grounding", "timing_ms"}


def test_follow_up_uses_the_history(url):
    record = ask(url, {"question": "那高中呢", "history": ["学前教育今年有什么要求"]}).json()
    assert [c["item"] for c in record["citations"]] == ["13"] and "[第13条]" in record["answer"]


def test_section_listing_and_refusal(url):
    listing = ask(url, {"question": "第五部分有哪些"}).json()
    assert [c["item"] for c in listing["citations"]] == ["11", "12", "13", "14"]
    refusal = ask(url, {"question": "火星移民政策是什么"}).json()
    assert refusal["refused"] is True and refusal["citations"] == []
    assert refusal["answer"].startswith("文件中没有找到相关规定")


def test_doc_filter(url):
    record = ask(url, {"question": "学前教育今年有什么要求", "doc": "taizhou-2025-education-work-points"}).json()
    assert [c["item"] for c in record["citations"]] == ["12"]
    unknown = ask(url, {"question": "学前教育今年有什么要求", "doc": "no-such-doc"})
    assert unknown.status_code == 422 and "no-such-doc" in unknown.json()["error"]["message"]


def test_english_question_gets_an_english_frame(url):
    record = ask(url, {"question": "What does the plan say about preschool education?"}).json()
    assert record["language"] == "en" and record["answer"].startswith("According to")
    assert "[第12条]" in record["answer"]


@pytest.mark.parametrize("body, status, kind", [
    ({"question": ""}, 422, "bad_input"),
    ({"question": " \u3000\t\n "}, 422, "bad_input"),                  # ASCII and full-width blanks
    ({"question": "问" * 5000}, 422, "bad_input"),                        # longer than max_question_chars
    ({}, 422, "invalid_request"),                                         # no question at all
    ({"question": 12}, 422, "invalid_request"),
    ({"question": "学前教育", "history": "not a list"}, 422, "invalid_request"),
    ({"question": "学前教育", "generator": "gpt-9"}, 422, "invalid_request"),
    ({"question": "学前教育", "unknown": 1}, 422, "invalid_request"),
], ids=["empty", "blank", "too-long", "missing", "number", "history-type", "generator", "extra-field"])
def test_bad_questions_are_json_errors(url, body, status, kind):
    response = ask(url, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and error["message"]


@pytest.mark.parametrize("raw", [b'{"question": ', b"not json", b'{"question": "\xff\xfe"}'],
                         ids=["truncated", "text", "bad-utf8"])
def test_invalid_json_is_a_400(url, raw):
    response = httpx.post(f"{url}/api/ask", content=raw, headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["type"] in ("invalid_json", "invalid_request")


def test_oversized_bodies_are_refused_with_413(url):
    big = {"question": "学前教育", "history": ["很长的历史" * 6000]}          # 30k characters, ~90 KB of UTF-8
    response = ask(url, big)
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"

    def chunks():                                                          # no Content-Length: counted as read
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = httpx.post(f"{url}/api/ask", content=chunks(), headers={"content-type": "application/json"},
                          timeout=10)
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"


# ------------------------------------------------------------------------------------- ops routes
def test_healthz_reports_the_index(url):
    health = httpx.get(f"{url}/healthz", timeout=10).json()
    assert health["status"] == "ok" and health["documents"] == 1 and health["items"] == 30
    assert health["index"]["generation"].startswith("items-")
    assert health["docs"][0]["doc"] == "taizhou-2025-education-work-points"
    assert health["by_status"] == {"in_force": 1, "not_yet_in_force": 0, "expired": 0, "repealed": 0, "superseded": 0}


def test_openapi_docs(url):
    docs = httpx.get(f"{url}/docs", timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert {"/api/ask", "/v1/chat/completions", "/v1/models", "/healthz"} <= set(spec["paths"])


def test_docs_assets_are_served_by_the_server_itself(url):
    page = httpx.get(f"{url}/docs", timeout=10).text
    assets = [part.split('"')[0] for part in page.split('src="')[1:] + page.split('href="')[1:]]
    assert assets and all(asset.startswith("/") for asset in assets), assets        # nothing from a CDN
    for asset in assets:
        assert httpx.get(f"{url}{asset}", timeout=10).status_code == 200, asset


# ------------------------------------------------------------------------------------- API hygiene (issue 18)
def test_no_response_names_an_absolute_server_path(url, built_index):
    from policy_assistant.index.builder import BUNDLED_CORPUS

    server_paths = [str(built_index.index_dir.resolve()), str(BUNDLED_CORPUS), str(REPO)]
    responses = [ask(url, {"question": "学前教育今年有什么要求"}), ask(url, {"question": "第五部分有哪些"}),
                 ask(url, {"question": "火星移民政策是什么"}), httpx.get(f"{url}/healthz", timeout=10),
                 httpx.get(f"{url}/v1/models", timeout=10), httpx.get(f"{url}/openapi.json", timeout=10),
                 httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
                     "model": "policy-assistant", "messages": [{"role": "user", "content": "第12条是什么"}]}),
                 httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
                     "model": "policy-assistant", "stream": True, "messages": [{"role": "user", "content": "第12条是什么"}]}),
                 httpx.post(f"{url}/api/ask", json={"question": " "}, timeout=10)]
    for response in responses:
        text = json.dumps(response.json(), ensure_ascii=False) if "json" in response.headers["content-type"] \
            else response.text
        assert not any(path in text for path in server_paths), (response.url, text[:300])
        assert '"/tmp/' not in text and '"/home/' not in text and '"/root/' not in text, response.url
    sources = {c["source"] for c in responses[1].json()["citations"]}
    assert sources == {"taizhou-2025-education-work-points.txt"}


def test_old_indexes_get_relative_sources_at_the_boundary():
    from policy_assistant.ui.api import public_record

    record = {"answer": "…", "citations": [{"doc": "a", "item": "12", "path": ["12"], "source": "/srv/policies/2025/a.txt"},
                                           {"doc": "b", "item": "13", "path": ["13"], "source": "C:\\policies\\b.docx"},
                                           {"doc": "c", "item": "14", "path": ["14"], "source": "2025/c.txt"}]}
    assert [c["source"] for c in public_record(record)["citations"]] == ["a.txt", "b.docx", "2025/c.txt"]


def test_chat_completions_fill_usage_in_characters(url):
    messages = [{"role": "user", "content": "学前教育今年有什么要求"}, {"role": "assistant", "content": "好"},
                {"role": "user", "content": "那高中呢"}]
    body = httpx.post(f"{url}/v1/chat/completions", json={"model": "policy-assistant", "messages": messages},
                      timeout=30).json()
    usage = body["usage"]
    assert usage["prompt_tokens"] == len("学前教育今年有什么要求") + 1 + len("那高中呢")
    assert usage["completion_tokens"] == len(body["choices"][0]["message"]["content"]) > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=30,
                      json={"model": "policy-assistant", "messages": messages, "stream": True}) as response:
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    assert chunks[-1]["usage"]["completion_tokens"] == usage["completion_tokens"]


def test_an_unknown_model_is_a_404_in_the_openai_shape(url):
    import openai

    response = httpx.post(f"{url}/v1/chat/completions", timeout=10,
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "学前教育"}]})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model" and error["type"] == "invalid_request_error"
    assert "gpt-4o" in error["message"] and "policy-assistant" in error["message"]
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "学前教育"}])
    assert [m.id for m in client.models.list()] == ["policy-assistant"]


def test_unknown_api_routes_and_methods_are_json_errors(url):
    missing = httpx.post(f"{url}/api/nothing", json={}, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    wrong = httpx.get(f"{url}/api/ask", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["type"] == "method_not_allowed"


def test_the_chat_page_is_served_at_the_root(url):
    page = httpx.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()


# ------------------------------------------------------------------------------------- API key
def test_api_key_is_required_when_set(keyed_url):
    body = {"question": "学前教育今年有什么要求"}
    missing = ask(keyed_url, body)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert ask(keyed_url, body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert ask(keyed_url, body, headers={"Authorization": KEY}).status_code == 401          # no scheme
    assert httpx.get(f"{keyed_url}/v1/models", timeout=10).status_code == 401
    good = ask(keyed_url, body, headers={"Authorization": f"Bearer {KEY}"})
    assert good.status_code == 200 and "[第12条]" in good.json()["answer"]
    assert httpx.get(f"{keyed_url}/healthz", timeout=10).status_code == 200                # ops stays open


def test_openai_client_with_the_key(keyed_url):
    import openai

    good = openai.OpenAI(base_url=f"{keyed_url}/v1", api_key=KEY, max_retries=0)
    assert "[第12条]" in good.chat.completions.create(
        model="policy-assistant", messages=[{"role": "user", "content": "学前教育今年有什么要求"}]).choices[0].message.content
    bad = openai.OpenAI(base_url=f"{keyed_url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": "学前教育"}])


# ------------------------------------------------------------------------------------- rate limit
def test_rate_limit_answers_429_with_retry_after(limited_url):
    statuses = [ask(limited_url, {"question": "学前教育今年有什么要求"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = ask(limited_url, {"question": "学前教育今年有什么要求"})
    assert refused.status_code == 429 and refused.json()["error"]["type"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert httpx.get(f"{limited_url}/healthz", timeout=10).status_code == 200               # not counted


# ------------------------------------------------------------------------------------- OpenAI-compatible
def test_openai_client_plain_and_streamed_agree(url):
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    assert "policy-assistant" in [m.id for m in client.models.list()]
    messages = [{"role": "user", "content": "学前教育今年有什么要求"}]
    plain = client.chat.completions.create(model="policy-assistant", messages=messages)
    text = plain.choices[0].message.content
    assert "[第12条]" in text and plain.model == "policy-assistant" and plain.choices[0].finish_reason == "stop"
    assert [c["item"] for c in plain.to_dict()["citations"]] == ["12"]

    pieces, last = [], None
    for chunk in client.chat.completions.create(model="policy-assistant", messages=messages, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert len(pieces) > 1, "the answer should arrive in several chunks"
    assert "".join(pieces) == text
    assert last.choices[0].finish_reason == "stop"
    assert [c["item"] for c in last.to_dict()["citations"]] == ["12"]


def test_openai_messages_become_history_and_question(url):
    import openai

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model="policy-assistant", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "学前教育今年有什么要求"},
        {"role": "assistant", "content": "……[第12条]"},
        {"role": "user", "content": [{"type": "text", "text": "那高中呢"}]},
    ])
    assert "[第13条]" in reply.choices[0].message.content
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": "   "}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="policy-assistant", messages=[{"role": "system", "content": "hi"}])


def test_raw_sse_stream_format(url):
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=30, json={
            "model": "policy-assistant", "stream": True,
            "messages": [{"role": "user", "content": "第五部分有哪些"}]}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "policy-assistant" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["item"] for c in chunks[-1]["citations"]] == ["11", "12", "13", "14"]


# ------------------------------------------------------------------------------------- concurrency
def test_40_requests_from_8_concurrent_clients(url):
    questions = ["学前教育今年有什么要求", "第五部分有哪些", "What does the plan say about preschool education?",
                 "特殊教育有什么要求", "火星移民政策是什么"]

    def client_run(n: int) -> list[tuple[int, str]]:
        with httpx.Client(base_url=url, timeout=60) as client:
            out = []
            for i in range(5):
                q = questions[(n + i) % len(questions)]
                if (n + i) % 2:
                    response = client.post("/api/ask", json={"question": q})
                    out.append((response.status_code, response.json().get("answer", "")))
                else:
                    response = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": q}]})
                    out.append((response.status_code, response.json()["choices"][0]["message"]["content"]))
            return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [r for batch in pool.map(client_run, range(8)) for r in batch]
    wall = time.perf_counter() - started
    assert len(results) == 40 and all(status == 200 and answer for status, answer in results)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "api-concurrency.json").write_text(json.dumps(
        {"requests": 40, "clients": 8, "wall_s": round(wall, 3), "qps": round(40 / wall, 1)}) + "\n")
    print(f"\n40 requests from 8 clients: {wall:.2f} s wall, {40 / wall:.1f} requests/s")
    assert wall < 60


def test_an_open_stream_does_not_block_other_requests(url):
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=30, json={
            "stream": True, "messages": [{"role": "user", "content": "学前教育今年有什么要求"}]}) as stream:
        first = next(stream.iter_lines())                 # the stream is open and unfinished
        assert first.startswith("data: ")
        other = ask(url, {"question": "那高中呢", "history": ["学前教育今年有什么要求"]})
        assert other.status_code == 200 and "[第13条]" in other.json()["answer"]


# ------------------------------------------------------------------------------------- serve()
def test_serve_warns_when_public_without_key(built_index, monkeypatch, capsys):
    import uvicorn

    from policy_assistant.ui import server

    ran = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: ran.append(self.config.host))   # never listens
    monkeypatch.setattr(server, "create_app", lambda settings, assistant: object())
    monkeypatch.setattr("policy_assistant.engine.Assistant.warm_up", lambda self: None)
    assert server.serve(built_index, host="0.0.0.0", port=free_port()) in (0, 2)
    assert "warning" in capsys.readouterr().err and ran == ["0.0.0.0"]
    server.serve(built_index.with_(api_key=KEY), host="0.0.0.0", port=free_port())
    server.serve(built_index, host="127.0.0.1", port=free_port())
    assert "warning" not in capsys.readouterr().err


def test_serve_returns_2_when_the_port_is_taken(built_index, assistant, monkeypatch, capsys):
    from policy_assistant.ui import server

    monkeypatch.setattr("policy_assistant.engine.Assistant", lambda settings: assistant)     # reuse the warm one
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        assert server.serve(built_index, host="127.0.0.1", port=holder.getsockname()[1]) == 2
    assert "cannot listen" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_serve_runs_and_stops_cleanly(built_index):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    script = Path(sys.executable).with_name("policy-assistant")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "policy_assistant.cli"]
    process = subprocess.Popen(command + ["serve", "--port", str(port), "--index-dir", str(built_index.index_dir)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                time.sleep(0.3)
        record = ask(f"http://127.0.0.1:{port}", {"question": "学前教育今年有什么要求"}).json()
        assert "[第12条]" in record["answer"]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err                   # Ctrl+C is a normal stop
    assert "warning" not in err.lower() and "Traceback" not in err
