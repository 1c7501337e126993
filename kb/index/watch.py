"""`kb index --watch`: rebuild the index when corpus files change, for maintainers editing articles.

Polling (a stat of every corpus file four times a second) needs no file-system events, behaves the same on
every platform and on network folders, and costs well under a millisecond for a corpus of hundreds of
files. A burst of saves (an editor writes a temporary file, renames it, touches it again) becomes one
rebuild: the build starts once nothing has changed for `debounce` seconds. A failed build leaves the live
one live (see build_index); the watcher says so in one line and waits for the next change.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kb.config import Settings
from kb.errors import KBError
from kb.index.build import BuildReport, build_index
from kb.models.embedders import Embedder

Snapshot = dict[str, tuple[int, int]]


def _ignored(name: str) -> bool:
    """Hidden files and editor leftovers (swap, backup and lock files) are not corpus files."""
    return name.startswith((".", "#", "~")) or name.endswith(("~", ".swp", ".swx", ".tmp"))


def corpus_snapshot(corpus: Path) -> Snapshot:
    """Size and modification time of every file under the corpus folder, by relative path."""
    snapshot: Snapshot = {}
    for folder, dirs, files in os.walk(corpus):
        dirs[:] = [d for d in dirs if not _ignored(d)]
        for name in files:
            if _ignored(name):
                continue
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:  # removed between the listing and the stat: the next poll sees it gone
                continue
            snapshot[os.path.relpath(path, corpus)] = (stat.st_mtime_ns, stat.st_size)
    return snapshot


def watch_corpus(
    corpus: Path,
    rebuild: Callable[[], None],
    debounce: float = 1.0,
    interval: float = 0.25,
    stop: threading.Event | None = None,
    since: Snapshot | None = None,
) -> None:
    """Call rebuild() whenever the corpus has changed and then stayed unchanged for `debounce` seconds.

    since: the corpus as the last build read it (default: now). Runs until `stop` is set (or
    KeyboardInterrupt). A change made while rebuild() runs starts another.
    """
    stop = stop or threading.Event()
    seen = corpus_snapshot(corpus) if since is None else since
    changed_at: float | None = None
    while not stop.wait(interval):
        now = corpus_snapshot(corpus)
        if now != seen:
            seen, changed_at = now, time.monotonic()
        elif changed_at is not None and time.monotonic() - changed_at >= debounce:
            changed_at = None
            rebuild()


def rebuild_line(report: BuildReport) -> str:
    """One line for a rebuild: what changed, what was embedded, which files failed."""
    line = (
        f"{time.strftime('%H:%M:%S')} rebuilt in {report.seconds:.1f} s: {report.documents} documents, "
        f"{report.chunks} chunks; embedded {report.embedded}; added {len(report.added)}, "
        f"changed {len(report.changed)}, removed {len(report.removed)}"
    )
    if report.failed:
        line += "; failed: " + ", ".join(
            f"{f.path} ({f.reason}{', previous version kept' if f.path in report.kept else ''})" for f in report.failed
        )
    return line


def watch_and_rebuild(
    settings: Settings,
    embedder: Embedder,
    echo: Callable[[str], None],
    debounce: float = 1.0,
    stop: threading.Event | None = None,
    since: Snapshot | None = None,
) -> None:
    """Rebuild settings.index on every corpus change, echoing one line per rebuild, until stop or Ctrl-C.

    since: the corpus as the last build read it, taken before that build, so a save made while it ran
    is not missed."""

    def rebuild() -> None:
        try:
            echo(rebuild_line(build_index(settings, embedder)))
        except KBError as exc:
            echo(f"{time.strftime('%H:%M:%S')} build failed, the live index is unchanged: {exc}")

    echo(f"watching {settings.corpus} for changes (Ctrl-C to stop)")
    try:
        watch_corpus(settings.corpus, rebuild, debounce, stop=stop, since=since)
    except KeyboardInterrupt:
        echo("stopped watching")
