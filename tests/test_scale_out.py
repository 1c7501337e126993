"""Scaling out on one machine: two serving processes read one index while a rebuild swaps a new build in."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from kb.index.build import build_index
from kb.index.store import current_build

from conftest import REPO

# A replica as docs/SCALING.md describes one: it serves the live build read-only, and when CURRENT names
# a newer build it loads that one beside the old and switches; a search never sees half a build.
REPLICA = """
import json, sys, time
from pathlib import Path
from kb.config import Settings
from kb.index.store import current_build
from kb.knowledge_base import KnowledgeBase
from fakes import HashingEmbedder

settings = Settings(corpus=Path(sys.argv[1]), index=Path(sys.argv[2]), model="hashing-64")
stop = Path(sys.argv[3])
kb, build, seen, searches, errors = None, None, [], 0, []
while not stop.exists():
    live = current_build(settings.index)
    if live is not None and live.name != build:
        fresh = KnowledgeBase(settings, HashingEmbedder(64))
        try:
            fresh.searcher  # load the whole build before switching to it
            kb, build = fresh, live.name
            seen.append(build)
        except Exception as exc:
            errors.append(f"load {live.name}: {type(exc).__name__}: {exc}")
    try:
        if kb is not None and kb.search("dreams at night", k=3):
            searches += 1
    except Exception as exc:
        errors.append(f"search: {type(exc).__name__}: {exc}")
print(json.dumps({"builds": seen, "searches": searches, "errors": errors}))
"""


def test_two_processes_serve_one_index_while_rebuilds_swap_it(settings, embedder, tmp_path):
    build_index(settings, embedder)
    stop = tmp_path / "stop"
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA, str(settings.corpus), str(settings.index), str(stop)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    builds = [current_build(settings.index).name]
    article = settings.corpus / "articles" / "sleep.md"
    try:
        time.sleep(2.0)  # both replicas up and searching the first build
        for n in range(3):
            article.write_text(
                article.read_text(encoding="utf-8") + f"\n\nDreams change over time, note {n}.\n", encoding="utf-8"
            )
            build_index(settings, embedder)
            builds.append(current_build(settings.index).name)
            time.sleep(1.5)
    finally:
        stop.write_text("", encoding="utf-8")
        outputs = [replica.communicate(timeout=60) for replica in replicas]
    for out, err in outputs:
        assert out.strip(), err
        report = json.loads(out.strip().splitlines()[-1])
        assert report["errors"] == []
        assert report["searches"] > 10
        assert report["builds"][-1] == builds[-1]  # each replica ended on the newest build
        assert set(report["builds"]) <= set(builds)
    assert len(set(builds)) == 4
