"""`kb bench`: build throughput beside the raw encoder, incremental reindex time, and answer latency."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from kb.config import Settings
from kb.errors import IndexMismatchError
from kb.index.build import build_index, fixed_texts, texts_besides_chunks
from kb.index.store import current_build, load_index
from kb.knowledge_base import KnowledgeBase
from kb.models.embedders import Embedder

QUESTIONS = [
    "why do I keep choosing people who hurt me?",
    "what is transference",
    "how much does therapy cost",
    "I feel empty even though my life is fine",
    "evidence for short-term psychodynamic therapy",
    "how do I support a friend who self-harms",
    "what happens in the first session",
    "my mom died last year and I still cry every day",
    "what are defence mechanisms",
    "is online therapy as good as in person",
]


def bench_index(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Full build of a copy of the corpus, the raw encoder on the same texts, a second full build (the build's figure is
    the mean of the two, around the encoder's), then a one-article change."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(settings.corpus, corpus)
        local = settings.replace(corpus=corpus, index=Path(tmp) / "index")
        # Both timings start warm (the encoder's batch session made, its memory allocated for texts of every
        # length up to the model's limit): the first build paid for that alone, 1.5-3.6 s of 30 (measured).
        embedder.embed([" ".join(["warm"] * n) for n in range(1, 2 * embedder.max_seq_length, 4)])
        started = time.perf_counter()
        report = build_index(local, embedder, full=True)
        builds = [time.perf_counter() - started]
        chunks = load_index(local.index).chunks
        texts = [c.embed_text for c in chunks]  # what the build embedded, in the same two calls
        extra = list(dict.fromkeys(texts_besides_chunks(fixed_texts(local), chunks)))
        started = time.perf_counter()
        embedder.embed(texts)
        embedder.embed(extra)
        encode_seconds = time.perf_counter() - started
        # A second full build after the encoder's run, and the mean of both: the encoder's speed drifts by 5-10 %
        # within a minute on a shared machine (measured), and the same drift then counts on both sides.
        started = time.perf_counter()
        build_index(local, embedder, full=True)
        builds.append(time.perf_counter() - started)
        build_seconds = statistics.mean(builds)
        article = next(p for p in sorted(corpus.rglob("*.md")))
        article.write_text(
            article.read_text(encoding="utf-8") + "\n\nA sentence added for the benchmark.\n", encoding="utf-8"
        )
        started = time.perf_counter()
        incremental = build_index(local, embedder)
        incremental_seconds = time.perf_counter() - started
    embedded = len(texts) + len(extra)  # chunks, then topics, profiles, FAQ headings and sentences of passages
    build_rate = embedded / build_seconds if build_seconds else 0.0
    encode_rate = embedded / encode_seconds if encode_seconds else 0.0
    return {
        "documents": report.documents,
        "chunks": report.chunks,
        "texts_embedded": embedded,
        "build_seconds": round(build_seconds, 2),
        "build_runs_s": [round(b, 2) for b in builds],
        "encoder_seconds": round(encode_seconds, 2),
        "build_texts_per_s": round(build_rate, 1),
        "encoder_texts_per_s": round(encode_rate, 1),
        "build_vs_encoder": round(build_rate / encode_rate, 3) if encode_rate else None,
        "incremental_seconds": round(incremental_seconds, 2),
        "incremental_embedded": incremental.embedded,
        "incremental_changed": incremental.changed,
    }


def bench_ask(settings: Settings, repeat: int = 3) -> dict[str, Any]:
    """Cold start to first answer in a fresh process, then warm answer latency in this one."""
    if current_build(settings.index) is None:  # else the child process's error would surface as a traceback
        raise IndexMismatchError(f"no index in {settings.index}: run 'kb index' first")
    code = (
        "import time; t=time.perf_counter(); from kb.config import load_settings; "
        "from kb.knowledge_base import KnowledgeBase; "
        "import os; from kb.models.embedders import PLUGIN_VARIABLE as P, load_plugins; "
        "load_plugins(os.environ.get(P, '')); "
        f"kb=KnowledgeBase(load_settings({{'corpus': {str(settings.corpus)!r}, 'index': {str(settings.index)!r}, "
        f"'model': {settings.model!r}}})); kb.ask('what is psychodynamic therapy?'); "
        "print(time.perf_counter()-t)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    cold_process = time.perf_counter() - started
    cold_in_process = float(out.stdout.strip().splitlines()[-1])
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare_python = time.perf_counter() - started  # the floor of any cold start
    kb = KnowledgeBase(settings)
    kb.ask(QUESTIONS[0])
    times, encoder = [], []
    for _ in range(repeat):
        for question in QUESTIONS:
            started = time.perf_counter()
            kb.ask(question)
            times.append(time.perf_counter() - started)
    for question in QUESTIONS:  # the floor of a warm answer: embedding the question once
        started = time.perf_counter()
        kb.embedder.embed([question])
        encoder.append(time.perf_counter() - started)
    times.sort()
    return {
        "cold_start_to_first_answer_s": round(cold_process, 2),
        "cold_start_in_process_s": round(cold_in_process, 2),
        "bare_python_start_s": round(bare_python, 2),
        "embedder": type(kb.embedder).__name__,
        "warm_answer_median_s": round(statistics.median(times), 3),
        "warm_answer_p90_s": round(times[int(0.9 * (len(times) - 1))], 3),
        "warm_answer_p95_s": round(times[int(round(0.95 * (len(times) - 1)))], 3),
        "encoder_one_question_median_ms": round(1000 * statistics.median(encoder), 3),
        "answers": len(times),
        "load_average": round(os.getloadavg()[0], 1),
    }


APP_QUESTIONS = ["What is transference?", "why do I keep choosing people who hurt me?"]
CHROMIUM = "/usr/bin/chromium"
APP = Path(__file__).resolve().parents[2] / "app.py"
FLOOR_APP = Path(__file__).with_name("floor_app.py")  # Streamlit alone, timed the same way


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving_app(env: dict[str, str], log: IO[bytes], timeout: float = 60.0, script: Path = APP) -> Iterator[str]:
    """`streamlit run app.py` (or `script`) on a free port; yields its base URL once healthy, then stops it."""
    import urllib.request

    port = free_port()
    streamlit = Path(sys.executable).parent / "streamlit"
    started = time.monotonic()
    server = subprocess.Popen(
        [str(streamlit), "run", str(script), "--server.port", str(port), "--server.address", "127.0.0.1"],  # loopback
        cwd=APP.parent,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                    if reply.read() == b"ok":
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"streamlit did not start (exit status {server.poll()})")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def bench_app(settings: Settings, timeout: float = 300.0, browser: Any = None) -> dict[str, Any]:
    """`streamlit run app.py` from a cold start to the first answer on screen, in headless Chromium.

    The browser starts first, so the clock measures only the server: start-up, the first page (which
    loads the model and index), and the first answer. Then each further question in a new tab on the
    warm server, timed from the click to the finished answer. The floor, timed the same way in the same
    run after ours: a Streamlit page with only the question box and a fixed answer (`floor_app.py`).
    Skipped, with the reason, when Playwright or Chromium is not installed (`make browser`).
    browser: a Playwright browser already running (the tests'); by default one is launched here.
    """

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "Playwright is not installed (pip install -e '.[dev]')"}
    if not Path(CHROMIUM).is_file():
        return {"skipped": f"Chromium not found at {CHROMIUM} (make browser)"}
    env = {
        **os.environ,
        "KB_CORPUS": str(Path(settings.corpus).resolve()),
        "KB_INDEX": str(Path(settings.index).resolve()),
        "KB_MODEL": settings.model,
    }
    wait = int(timeout * 1000)

    def ask(page, question: str) -> float:
        asked = time.perf_counter()
        page.get_by_label("Your question").fill(question)
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator("h3#source-1").wait_for(timeout=wait)
        page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=wait)
        return time.perf_counter() - asked

    if browser is None:
        with sync_playwright() as p:
            launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                return bench_app(settings, timeout, launched)
            finally:
                launched.close()

    def cold_start(script: Path, questions: list[str]) -> tuple[float, float, float, list[float]]:
        """Seconds to the server's health, the first page's question box and the first answer; then warm answers."""
        with tempfile.TemporaryFile() as log:
            context = browser.new_context()  # its own cache: nothing carried over from another run
            try:
                started = time.perf_counter()
                with serving_app(env, log, timeout, script) as base:
                    serving = time.perf_counter() - started
                    page = context.new_page()
                    page.goto(base)
                    page.get_by_label("Your question").wait_for(timeout=wait)
                    ready = time.perf_counter() - started
                    first = ready + ask(page, questions[0])
                    warm = []
                    for question in questions[1:]:
                        page = context.new_page()
                        page.goto(base)
                        page.get_by_label("Your question").wait_for(timeout=wait)
                        warm.append(ask(page, question))
            finally:
                context.close()
        return serving, ready, first, warm

    serving, ready, first, warm = cold_start(APP, APP_QUESTIONS)
    floor_serving, floor_ready, floor_first, _ = cold_start(FLOOR_APP, APP_QUESTIONS[:1])  # after ours: no head start
    return {
        "server_up_s": round(serving, 2),
        "page_ready_s": round(ready, 2),
        "cold_start_to_first_answer_s": round(first, 2),
        "warm_answer_in_browser_s": round(statistics.median(warm), 2),
        "floor_streamlit_alone_server_up_s": round(floor_serving, 2),
        "floor_streamlit_alone_page_ready_s": round(floor_ready, 2),
        "floor_streamlit_alone_first_answer_s": round(floor_first, 2),
        "load_average": round(os.getloadavg()[0], 1),
    }
