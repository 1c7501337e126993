"""`kb index --watch`: a maintainer edits an article and the index is rebuilt, once per burst of saves."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from kb.index.watch import corpus_snapshot, watch_corpus

from conftest import KB_SCRIPT


def test_a_burst_of_saves_is_one_rebuild(corpus: Path):
    calls: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_corpus, args=(corpus, lambda: calls.append(time.monotonic()), 0.3, 0.05, stop)
    )
    watcher.start()
    try:
        article = next(corpus.rglob("*.md"))
        for n in range(3):  # an editor saving three times in quick succession
            article.write_text(article.read_text(encoding="utf-8") + f"\n\nEdit {n}.\n", encoding="utf-8")
            time.sleep(0.05)
        ends = time.monotonic() + 10
        while not calls and time.monotonic() < ends:
            time.sleep(0.05)
        time.sleep(0.6)  # no second rebuild follows
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert len(calls) == 1


def test_editor_leftovers_and_hidden_files_are_not_watched(corpus: Path):
    before = corpus_snapshot(corpus)
    (corpus / ".draft.md.swp").write_bytes(b"x")
    (corpus / "articles" / "notes.md~").write_text("x", encoding="utf-8")
    (corpus / ".git").mkdir()
    (corpus / ".git" / "HEAD").write_text("x", encoding="utf-8")
    assert corpus_snapshot(corpus) == before


SEEN: list[str] = []


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        SEEN.append(line.rstrip("\n"))
        into.put(line.rstrip("\n"))


def _next_line(lines: queue.Queue, starts: str, timeout: float = 60) -> str:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            line = lines.get(timeout=max(0.1, ends - time.monotonic()))
        except queue.Empty:
            break
        if starts in line:
            return line
    raise AssertionError(f"no line with {starts!r} within {timeout} s")


def test_kb_index_watch_rebuilds_on_an_edit_and_stops_cleanly_on_ctrl_c(settings, tmp_path):
    env = {**os.environ, "KB_CORPUS": str(settings.corpus), "KB_INDEX": str(settings.index), "KB_MODEL": settings.model}
    errors = (tmp_path / "stderr.txt").open("w", encoding="utf-8")
    command = [str(KB_SCRIPT), "index", "--watch"]
    # Ctrl-C as a terminal sends it: a test run started in the background inherits SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler, so the child gets SIGINT's default disposition back first.
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    try:
        assert "Indexed 3 documents" in _next_line(lines, "Indexed")
        _next_line(lines, "watching")
        article = settings.corpus / "articles" / "new-article.md"
        article.write_text(
            "---\nid: new-article\ntitle: A new article\ntopics: [sleep]\n---\n\n# Rest\n\nSleep helps.\n",
            encoding="utf-8",
        )
        rebuilt = _next_line(lines, "rebuilt")
        assert "4 documents" in rebuilt and "added 1" in rebuilt
        article.write_text("---\nid: [unclosed\n---\nbody\n", encoding="utf-8")  # a broken save
        broken = _next_line(lines, "rebuilt")
        assert "failed: articles/new-article.md" in broken and "previous version kept" in broken
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        _next_line(lines, "stopped watching", timeout=5)
    except AssertionError as exc:
        stderr = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
        raise AssertionError(f"{exc}; stdout: {SEEN}; stderr: {stderr[-2000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errors.close()
