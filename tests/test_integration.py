"""End to end with the real bundled model: search quality, incremental updates, a killed build, bad input."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest

import kb.cli
import kb.knowledge_base
import kb.models.embedders
from kb.config import DEFAULT_MODEL, Settings
from kb.index.store import current_build, load_index, read_manifest
from kb.knowledge_base import KnowledgeBase

from conftest import KB_SCRIPT, write_files

pytestmark = pytest.mark.slow

ARTICLES = {
    "grief.md": """---
id: grief
title: Grief and loss
topics: [grief]
---
# Grief and loss

When someone you love dies, mourning can come in waves for months or years. Crying, numbness and anger at the \
person who died are all common parts of bereavement.

## Anniversaries

Birthdays and the date of the death often bring the loss back with new force.
""",
    "panic.md": """---
id: panic
title: Panic attacks
topics: [anxiety]
---
# Panic attacks

A panic attack is a sudden surge of fear with a pounding heart, shaking and shortness of breath. Many people \
think they are having a heart attack the first time.

## What helps

Slow breathing with a long out-breath tells the nervous system that the danger has passed.
""",
    "fees.md": """---
id: fees
title: Paying for therapy
topics: [practical]
---
# Paying for therapy

Private therapists set their own fees per session, and some offer a sliding scale for people with low income. \
Workplace insurance plans may cover part of the price.
""",
    "sleep.md": """---
id: sleep
title: Sleep problems
topics: [sleep]
---
# Sleep problems

Insomnia means trouble falling asleep or staying asleep. Lying awake worrying at three in the morning is one of \
its most familiar forms.
""",
}

WORDS = [
    "attachment",
    "memory",
    "anxious",
    "avoidant",
    "secure",
    "caregiver",
    "infant",
    "mother",
    "father",
    "sibling",
    "school",
    "friendship",
    "rupture",
    "repair",
    "mentalizing",
    "defence",
    "projection",
    "splitting",
    "idealization",
    "envy",
    "gratitude",
    "mourning",
    "desire",
    "shame",
    "guilt",
    "pride",
    "boundary",
    "autonomy",
    "dependency",
    "intimacy",
    "conflict",
    "compromise",
    "symptom",
    "wish",
    "fear",
]


def long_article(n: int, sections: int = 4, paragraphs: int = 4) -> str:
    """A made-up article long enough to take the real model a few seconds."""
    rng = random.Random(n)
    out = [f"# Long article {n}\n"]
    for s in range(sections):
        out.append(f"## Part {s + 1}\n")
        for _ in range(paragraphs):
            sentences = [
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 20))).capitalize() + "." for _ in range(4)
            ]
            out.append(" ".join(sentences) + "\n")
    return "\n".join(out)


@pytest.fixture(scope="module")
def model():
    """The real bundled model, loaded once for the module."""
    return kb.models.embedders.load_embedder(Settings())


@pytest.fixture(autouse=True)
def _share_the_model(model, monkeypatch):
    """In-process `kb` commands use the already loaded model instead of loading it again."""
    original = kb.models.embedders.load_embedder

    def load(settings):
        return model if settings.model == DEFAULT_MODEL else original(settings)

    monkeypatch.setattr(kb.models.embedders, "load_embedder", load)
    monkeypatch.setattr(kb.knowledge_base, "load_embedder", load)
    monkeypatch.setattr(kb.cli, "load_embedder", load)  # `kb index` in-process


@pytest.fixture
def real(tmp_path, monkeypatch):
    """A small corpus of real articles; KB_* point at it, with the default (real) model."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_CORPUS", str(corpus))
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "index"))
    return Settings(corpus=corpus, index=tmp_path / "index")


def read_until(proc: subprocess.Popen, marker: bytes, timeout: float) -> bytes:
    """What proc wrote to stderr until marker appeared, it exited, or timeout passed."""
    seen = bytearray()

    def read() -> None:
        try:
            for block in iter(lambda: os.read(proc.stderr.fileno(), 4096), b""):
                seen.extend(block)
        except (OSError, ValueError):  # the pipe was closed after the kill
            pass

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while marker not in seen and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return bytes(seen)


def top_doc(run_kb, query: str, mode: str = "hybrid", k: int = 1) -> list[str]:
    run = run_kb("search", query, "--mode", mode, "-k", str(k), "--json")
    assert run.code == 0, run.err
    return [h["doc_id"] for h in run.json()["results"]]


def test_search_finds_the_right_article(real, run_kb, model):
    report = run_kb("index", "--json").json()
    assert report["documents"] == 4 and report["embedded"] == report["chunks"]
    manifest = read_manifest(real.index)
    assert manifest.model.name == DEFAULT_MODEL and manifest.model.dimension == 384
    # No words shared with the articles: only the meaning can find them.
    assert top_doc(run_kb, "my dad passed away last spring and I still cry", mode="dense") == ["grief"]
    assert top_doc(run_kb, "my heart races and I feel I might faint", mode="dense") == ["panic"]
    assert top_doc(run_kb, "how expensive is it to see a counsellor", mode="dense") == ["fees"]
    assert top_doc(run_kb, "I can't fall asleep at night") == ["sleep"]


def test_editing_one_file_re_embeds_only_its_chunks(real, run_kb):
    run_kb("index")
    path = real.corpus / "panic.md"
    path.write_text(path.read_text().replace("title: Panic attacks", "title: Panic attacks and what helps"))
    report = run_kb("index", "--json").json()
    assert report["changed"] == 1 and report["added"] == 0 and report["removed"] == 0
    assert report["embedded"] == read_manifest(real.index).documents["panic"].chunks >= 2
    assert run_kb("index", "--json").json()["embedded"] == 0


def test_deleting_a_file_removes_it_from_dense_and_bm25_results(real, run_kb):
    run_kb("index")
    query = "mourning a death, crying and bereavement"
    for mode in ("dense", "bm25"):
        assert "grief" in top_doc(run_kb, query, mode=mode, k=10)
    (real.corpus / "grief.md").unlink()
    assert run_kb("index", "--json").json()["removed"] == 1
    for mode in ("dense", "bm25", "hybrid"):
        assert "grief" not in top_doc(run_kb, query, mode=mode, k=10)
    assert top_doc(run_kb, query, mode="dense", k=10)  # the other articles are still found


def test_a_build_killed_mid_embedding_leaves_the_previous_index_and_the_next_run_completes(
    real, run_kb, model, tmp_path
):
    config = tmp_path / "slow.toml"
    config.write_text("[kb]\nbatch_size = 4\nmax_tokens = 128\n")  # progress every 16 chunks
    env = {"KB_CONFIG": str(config)}
    first = run_kb("index", "--json", env=env).json()
    live = current_build(real.index)
    for n in range(3):  # about 48 chunks: three progress steps of 16
        (real.corpus / f"long-{n}.md").write_text(long_article(n), encoding="utf-8")

    proc = subprocess.Popen(
        [str(KB_SCRIPT), "index"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env}
    )
    try:
        progress = read_until(proc, b"embedding", timeout=120)  # the progress bar: embedding has begun
        assert proc.poll() is None, f"the build ended before it could be killed: {progress!r}"
        assert b"embedding" in progress, f"no progress from the build within 2 minutes: {progress!r}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    # The previous index is still the live one, complete and loadable.
    assert current_build(real.index) == live
    index = load_index(real.index, DEFAULT_MODEL, 384)
    assert len(index.chunks) == first["chunks"] and set(index.documents) == {"grief", "panic", "fees", "sleep"}
    hits = KnowledgeBase(real, model).search("bereavement and mourning", k=1, mode="dense")
    assert hits[0].chunk.doc_id == "grief"

    # The next run completes and embeds only the new articles.
    report = run_kb("index", "--json", env=env).json()
    assert report["documents"] == 7 and report["added"] == 3
    assert report["embedded"] == report["chunks"] - first["chunks"] > 16
    assert current_build(real.index) != live
    assert len(list((real.index / "builds").iterdir())) == 2
    # The budget is in the real model's tokens, title and section included.
    assert all(model.count_tokens(c.embed_text) + 2 <= 128 for c in load_index(real.index).chunks)


def test_each_bad_input_is_reported_and_the_rest_indexes(real, run_kb, bad_files):
    bad_files = {path: value for path, value in bad_files.items() if "duplicate" not in path}
    # The first file in path order keeps an id; this one sorts after grief.md.
    bad_files["zz-duplicate.md"] = (b"---\nid: grief\n---\n# Copy\n\nSame id.\n", "duplicate id 'grief'")
    write_files(real.corpus, bad_files)
    run = run_kb("index", "--json")
    assert run.code == 0
    report = run.json()
    assert report["documents"] == 4
    reasons = {f["path"]: f["reason"] for f in report["failed"]}
    assert set(reasons) == set(bad_files)
    for rel, (_, words) in bad_files.items():
        assert words in reasons[rel], rel
    assert top_doc(run_kb, "panic attack with a pounding heart") == ["panic"]

    strict = run_kb("index", "--strict", "--json")
    assert strict.code != 0 and json.loads(strict.out)["embedded"] == 0

    (real.corpus / "panic.md").write_text("---\ntitle: [oops\n---\n# Panic\n")
    report = run_kb("index", "--json").json()
    assert report["kept"] == ["panic.md"] and report["documents"] == 4
    assert top_doc(run_kb, "panic attack with a pounding heart") == ["panic"]
