"""The app's server: responses leave without waiting for Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket
from asyncio import base_events

from kb.web import server


def _nodelay_of_an_accepted_connection() -> int:
    """TCP_NODELAY of a connection accepted on a socket bound the way Streamlit binds it (protocol 0)."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def run() -> None:
        listener = socket.socket(family=socket.AF_INET)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        served = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        served.close()

    asyncio.run(run())
    return seen[0]


def test_connections_the_app_accepts_send_without_delay(monkeypatch):
    monkeypatch.setattr(base_events, "_set_nodelay", base_events._set_nodelay)  # restored afterwards
    server.send_without_delay()
    server.send_without_delay()  # twice is once
    assert _nodelay_of_an_accepted_connection() != 0


def test_the_module_streamlit_run_imports_leaves_the_library_to_the_warm_up_thread(tmp_path):
    """`streamlit run app.py` imports app.py before it listens: that must not load the library, the model or
    the index code, so the server is up (and the browser fetching the page) while the warm-up loads them."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    heavy = ("kb.knowledge_base", "kb.web.views", "kb.safety", "kb.retrieval.searcher", "numpy", "onnxruntime")
    probe = f"import sys, app; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KB_INDEX": str(tmp_path / "index")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "\n"  # the probe ran to its end and found none of them


def test_warming_answers_once_in_plain_english_and_loads_the_language_models_later(monkeypatch, caplog):
    """The warm-up never needs lingua (it holds the interpreter for most of a second while a first visitor's
    page loads); lingua and the word list follow after a delay, and a failure there is logged by type only."""
    import threading

    from kb.answering.language import plainly_english
    from kb.config import Settings
    from kb.web import views

    asked: list[str] = []
    loaded: list[str] = []
    done = threading.Event()

    class Library:
        def ask(self, question):
            asked.append(question)
            loaded.append("library")

    def language_models():
        loaded.append("lingua")

    def words():
        loaded.append("words")
        done.set()
        raise OSError("a private detail")

    state = {"lock": threading.Lock(), "checked": set()}
    monkeypatch.setattr(views, "_startup", lambda: state)  # not the process's own start-up record
    monkeypatch.setattr(views, "stale_reason", lambda s: "")
    monkeypatch.setattr(views, "shared_knowledge_base", lambda s: Library())
    monkeypatch.setattr(views, "warm_language_models", language_models)
    monkeypatch.setattr(views, "english_words", words)
    views.warm(Settings(), extras_delay=0.2)
    assert loaded == ["library"]  # warm returns before the extras start
    assert state["checked"] == {Settings()}  # the pages need not check the index again
    assert done.wait(timeout=10)
    assert loaded == ["library", "lingua", "words"]
    assert len(asked) == 1 and plainly_english(asked[0])
    for _ in range(100):
        if "OSError" in caplog.text:
            break
        threading.Event().wait(0.01)
    assert "OSError" in caplog.text and "a private detail" not in caplog.text
