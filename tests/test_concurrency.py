"""Twenty sessions asking at once over loopback HTTP while rebuilds swap the live build (issue: reliability,
concurrency): none errors, every answer is whole and valid, and none sees half a build. Bounded in count and time;
the server listens on 127.0.0.1 only."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path

import jsonschema
import pytest
import uvicorn
from starlette.applications import Starlette

from kb.config import Settings
from kb.index.build import build_index
from kb.index.store import read_manifest
from kb.web import server, views
from kb.web.schemas import response_schema

from conftest import write_files

SESSIONS = 20
QUESTIONS = (
    "What is transference in everyday life?",
    "How does transference show up at work?",
    "What is transference?",
)
DEADLINE = 60.0  # seconds for the whole exchange: a hang fails the test instead of stalling the suite


@pytest.fixture
def live_server(settings: Settings, embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The API as the app serves it (one shared KnowledgeBase per live build) on a loopback port."""
    build_index(settings, embedder)
    site = settings.replace(feedback_db=tmp_path / "private" / "feedback.sqlite", api_rate_limit=0)
    monkeypatch.setattr(views, "load_embedder", lambda s: embedder)
    app = Starlette(routes=server.routes(site, lambda: views.shared_knowledge_base(site)))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    serving = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=serving.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = time.monotonic()
    while not serving.started:
        assert time.monotonic() - started < 20, "the server did not start"
        time.sleep(0.05)
    yield site, port
    serving.should_exit = True
    thread.join(timeout=10)
    sock.close()


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_twenty_sessions_asking_over_http_during_rebuilds_all_get_whole_answers(live_server, embedder):
    site, port = live_server
    manifest = read_manifest(site.index)
    counts = {(manifest.document_count, manifest.chunk_count)}
    errors: list[str] = []
    answers = 0
    health: list[tuple[int, int]] = []
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + DEADLINE

    def session(n: int) -> None:
        nonlocal answers
        asked = 0
        while not stop.is_set() and time.monotonic() < deadline and asked < 30:
            try:
                status, body = request(port, "POST", "/api/v1/ask", {"question": QUESTIONS[(n + asked) % 3]})
                assert status == 200, f"{status}: {body}"
                jsonschema.validate(body, response_schema("ask"), cls=jsonschema.Draft202012Validator)
                assert body["answer"] and body["citations"], body
                status, body = request(port, "GET", "/api/v1/health")
                assert status == 200, f"{status}: {body}"
                with lock:
                    answers += 1
                    health.append((body["documents"], body["chunks"]))
            except Exception as exc:  # noqa: BLE001 - any error at all is the failure
                with lock:
                    errors.append(f"session {n}: {type(exc).__name__}: {exc}")
            asked += 1

    threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
    for thread in threads:
        thread.start()
    try:
        for n in range(3):
            time.sleep(0.3)
            write_files(site.corpus, {f"articles/new-{n}.md": f"# New {n}\n\nSleep article number {n}.\n".encode()})
            build_index(site, embedder)
            manifest = read_manifest(site.index)
            with lock:
                counts.add((manifest.document_count, manifest.chunk_count))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    assert not any(t.is_alive() for t in threads), "a session hung"
    assert errors == []
    assert answers >= SESSIONS  # every session got at least one whole answer
    assert set(health) <= counts  # each response came from one published build, never a mix
    assert len(set(health)) >= 2  # and the sessions did read across swaps
