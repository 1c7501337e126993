"""`kb bench load`: concurrent askers against the HTTP API on loopback, bounded in time and count.

Each client is a thread with its own keep-alive connection, asking the bench questions in turn
(POST /api/v1/ask, the question in the body) until the time is up or the request budget is spent.
Without a reachable API (or with --target library) the clients call one shared KnowledgeBase
directly, which measures the library without HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb.config import Settings
from kb.errors import InputError
from kb.evaluation.bench import QUESTIONS, serving_app
from kb.knowledge_base import KnowledgeBase

MAX_REQUESTS = 50_000  # across all clients, whatever the duration
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def check_loopback(url: str) -> tuple[str, int]:
    """Host and port of a loopback URL; anything else is refused (the load test never leaves the machine)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise InputError(f"--url {url!r}: the load test only drives http:// on this machine (127.0.0.1 or localhost)")
    return parts.hostname, parts.port or 80


def api_asker(host: str, port: int) -> Callable[[], Callable[[str], int]]:
    """A factory of per-thread askers, each with its own connection; an asker returns the HTTP status."""

    def make() -> Callable[[str], int]:
        connection = http.client.HTTPConnection(host, port, timeout=30)

        def ask(question: str) -> int:
            nonlocal connection
            body = json.dumps({"question": question})
            try:
                connection.request("POST", "/api/v1/ask", body=body, headers={"Content-Type": "application/json"})
                reply = connection.getresponse()
                payload = reply.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
                return 0
            if reply.status == 200 and b'"answer"' not in payload:
                return 598  # a 200 without an answer field is an error too
            return reply.status

        return ask

    return make


def library_asker(settings: Settings) -> Callable[[], Callable[[str], int]]:
    """Askers over one shared, warmed KnowledgeBase (what the app's sessions share)."""
    kb = KnowledgeBase(settings)
    kb.ask("what is psychodynamic therapy?")

    def make() -> Callable[[str], int]:
        def ask(question: str) -> int:
            try:
                kb.ask(question)
            except Exception:  # noqa: BLE001 - counted as an error, like a 500
                return 500
            return 200

        return ask

    return make


def drive(
    make_asker: Callable[[], Callable[[str], int]], clients: int, seconds: float, max_requests: int = MAX_REQUESTS
) -> dict[str, Any]:
    """Run `clients` threads asking until `seconds` pass or `max_requests` are sent; latency and errors."""
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0
    start_gate = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(n: int) -> None:
        nonlocal sent
        ask = make_asker()
        start_gate.wait()
        i = n
        while time.monotonic() < deadline[0]:
            with lock:
                if sent >= max_requests:
                    return
                sent += 1
            question = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            started = time.perf_counter()
            status = ask(question)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    began = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    wall = time.perf_counter() - began
    ok = statuses.get(200, 0)
    latencies.sort()

    def at(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))], 3) if latencies else None

    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "requests": len(latencies),
        "answers": ok,
        "errors": len(latencies) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "answers_per_s": round(ok / wall, 1) if wall else 0.0,
        "latency_p50_s": at(0.5),
        "latency_p95_s": at(0.95),
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
        "latency_mean_s": round(statistics.mean(latencies), 3) if latencies else None,
        "load_average": round(os.getloadavg()[0], 1),
    }


def bench_load(
    settings: Settings, clients: int = 32, seconds: float = 60.0, url: str | None = None, target: str = "api"
) -> dict[str, Any]:
    """Drive the API of a running server (url), or of one started here on loopback, or the library."""
    if target == "library":
        return {
            "target": "library (KnowledgeBase in threads, no HTTP)",
            **drive(library_asker(settings), clients, seconds),
        }
    if url:
        host, port = check_loopback(url)
        return {"target": f"HTTP API at {url}", **drive(api_asker(host, port), clients, seconds)}
    with tempfile.TemporaryDirectory(prefix="kb-load-") as tmp, tempfile.TemporaryFile() as log:
        env = {
            **os.environ,
            "KB_CORPUS": str(settings.corpus.resolve()),
            "KB_INDEX": str(settings.index.resolve()),
            "KB_MODEL": settings.model,
            "KB_API_RATE_LIMIT": "0",  # one address asks for everyone here
            "KB_FEEDBACK_DB": str(Path(tmp) / "feedback.sqlite"),  # counted as served, but not in the real file
        }
        try:
            with serving_app(env, log, timeout=180) as base:
                host, port = check_loopback(base)
                if not api_is_up(host, port):
                    raise RuntimeError("no /api/v1/health")
                result = drive(api_asker(host, port), clients, seconds)
            return {
                "target": "HTTP API of `streamlit run app.py` started here (rate limit off)",
                **result,
                **floors(settings),
            }
        except RuntimeError as exc:
            note = f"the app's API could not be reached ({exc}); drove the library in threads instead"
    return {
        "target": "library (KnowledgeBase in threads, no HTTP)",
        "note": note,
        **drive(library_asker(settings), clients, seconds),
    }


def floors(settings: Settings, repeat: int = 3) -> dict[str, Any]:
    """Measured after the run, in this process: the encoder for one question, one warm answer with nothing
    else asking, and the answers a second all cores could give at that cost."""
    kb = KnowledgeBase(settings)
    kb.ask(QUESTIONS[0])
    answers, encoder = [], []
    for _ in range(repeat):
        for question in QUESTIONS:
            started = time.perf_counter()
            kb.ask(question)
            answers.append(time.perf_counter() - started)
            started = time.perf_counter()
            kb.embedder.embed([question])
            encoder.append(time.perf_counter() - started)
    one = statistics.median(answers)
    return {
        "floor_encoder_one_question_ms": round(1000 * statistics.median(encoder), 2),
        "floor_one_answer_ms": round(1000 * one, 2),
        "floor_answers_per_s_all_cores": round((os.cpu_count() or 1) / one, 1),
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def api_is_up(host: str, port: int, timeout: float = 120.0) -> bool:
    """Wait for /api/v1/health to answer 200 (the lifespan hook warms the library first)."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=10)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.5)
    return False
