"""Processes for the benchmark: the real ``policy-assistant`` CLI and server, timed from outside.

- ``cli_command()``: how to start this checkout's ``policy-assistant`` (the console
  script next to the interpreter, else ``python -m assistant``).
- ``run_timed(argv, env)``: one child process, with its wall time, CPU time and
  peak RSS (``os.wait4``), for the cold ``ask``.
- ``server(argv, env)``: ``policy-assistant serve`` on a free loopback port, waited
  for until ``/healthz`` answers, stopped (SIGINT, then SIGKILL) on exit; only
  the process it started is ever signalled.
- ``load(url, bodies, …)``: POST ``/api/ask`` at a fixed concurrency with httpx,
  bounded by a request count and a deadline; qps, p50/p95 and errors.
- ``rss_mb(pid)``: resident and peak resident memory of a process (``/proc``).

It checks no answers (the load test counts non-200 replies and transport errors).
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from policy_assistant.core.errors import AssistantError
from policy_assistant.core.stats import percentile


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("policy-assistant")
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant"]


def child_env(extra: dict | None = None) -> dict:
    """The environment for a child: this one without POLICY_* (the bench passes flags), offline switches on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICY_")}
    env.update({"HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
                "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run_timed(argv: list[str], env: dict, timeout: float = 120.0) -> dict:
    """Run one child to completion: wall seconds, CPU seconds (user+sys), peak RSS MB, exit code, stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024,
                "code": proc.returncode, "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")[-2000:]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process (all its threads) has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> dict:
    """{"rss": current, "peak": high-water mark} in MB, from /proc (empty when the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values = {}
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values["rss" if key == "VmRSS" else "peak"] = round(int(rest.split()[0]) / 1024, 1)
    return values


@contextlib.contextmanager
def server(argv: list[str], env: dict, port: int, start_timeout: float = 180.0, log: Path | None = None):
    """Start a server process, wait until GET /healthz answers 200, yield (url, process, start seconds)."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    handle = open(log, "wb") if log else subprocess.DEVNULL
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT if log else subprocess.DEVNULL, env=env)
    try:
        deadline = started + start_timeout
        while True:
            if proc.poll() is not None:
                raise AssistantError(f"the server exited with code {proc.returncode} before answering"
                                     + (f" (log: {log})" if log else ""))
            try:
                if httpx.get(url + "/healthz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() > deadline:
                raise AssistantError(f"the server did not answer /healthz within {start_timeout:.0f} s")
            time.sleep(0.2)
        yield url, proc, time.perf_counter() - started
    finally:
        stop(proc)
        if log:
            handle.close()


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGINT (uvicorn stops gracefully), then SIGKILL; only this process."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


def load(url: str, bodies: list[dict], requests: int, concurrency: int = 8, deadline_s: float = 60.0,
         headers: dict | None = None, warmup: int = 8) -> dict:
    """POST ``bodies`` (cycled) to /api/ask; stops after ``requests`` or ``deadline_s``, whichever first."""
    return asyncio.run(_load(url, bodies, requests, concurrency, deadline_s, headers or {}, warmup))


async def _load(url, bodies, requests, concurrency, deadline_s, headers, warmup) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0, headers=headers) as client:
        await asyncio.gather(*(client.post("/api/ask", json=bodies[i % len(bodies)]) for i in range(warmup)),
                             return_exceptions=True)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        server_ms: list[float] = []
        next_index = 0
        started = time.perf_counter()
        stop_at = started + deadline_s

        async def worker():
            nonlocal next_index
            while next_index < requests and time.perf_counter() < stop_at:
                body = bodies[next_index % len(bodies)]
                next_index += 1
                sent = time.perf_counter()
                try:
                    reply = await client.post("/api/ask", json=body)
                    key = str(reply.status_code)
                    if reply.status_code == 200:
                        server_ms.append(float(reply.json().get("timing_ms", {}).get("total", 0.0)))
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    done = len(latencies)
    ok = statuses.get("200", 0)
    ordered = sorted(latencies)
    return {"concurrency": concurrency, "requests": done, "ok": ok, "errors": done - ok,
            "qps": round(ok / elapsed, 1) if elapsed else 0.0, "duration_s": round(elapsed, 2),
            "p50_ms": _pick(ordered, 0.5), "p95_ms": _pick(ordered, 0.95),
            "server_p50_ms": _pick(sorted(server_ms), 0.5), "statuses": statuses,
            "stopped_by": "count" if done >= requests else "deadline", "warmup_requests": warmup}


def _pick(values: list[float], q: float) -> float:
    return round(percentile(values, q * 100), 1)
