"""Feedback and demand counters in one SQLite file outside the index: dates, chunk ids, kinds and counts only.

No question, no IP address, no time of day and no free text ever reaches this file: every value written is
checked against a closed vocabulary (answer kinds, crisis tiers, counter names) or a chunk-id pattern, so a
caller cannot smuggle a question in by accident.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from kb.errors import InputError
from kb.records import Answer

KINDS = ("answered", "abstained", "crisis")
COUNTERS = ("topic", "abstention", "crisis", "directory")
CRISIS_TIERS = ("urgent", "concern", "detected")  # "detected": a crisis record without a tier
_CHUNK_ID = re.compile(r"[0-9a-f]{8,64}")
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")  # topic ids, tiers: our own vocabulary, never visitor text
_LOCK = threading.Lock()
_OPEN: dict[Path, sqlite3.Connection] = {}  # one connection per file and process, used under _LOCK

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (day TEXT NOT NULL, kind TEXT NOT NULL, helpful INTEGER NOT NULL,
                                     chunk_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS demand (week TEXT NOT NULL, counter TEXT NOT NULL, key TEXT NOT NULL,
                                   n INTEGER NOT NULL, PRIMARY KEY (week, counter, key));
"""


@dataclass
class Feedback:
    """One thumb: the day, what kind of answer it was, which passages it cited, and whether it helped."""

    day: str
    kind: str
    helpful: bool
    chunk_ids: list[str]


@dataclass
class DemandCount:
    """How many times one thing happened in one ISO week (e.g. 2026-W49, topic, grief-and-loss, 3)."""

    week: str
    counter: str
    key: str
    n: int


def answer_kind(answer: Answer) -> str:
    """answered, abstained or crisis: the only description of an answer the feedback keeps."""
    if answer.crisis.detected:
        return "crisis"
    return "abstained" if answer.abstained else "answered"


def crisis_tier(answer: Answer) -> str | None:
    """The crisis panel's tier as the crisis record reports it (urgent or concern), or None without a panel."""
    if not answer.crisis.detected:
        return None
    tier = answer.crisis.to_json().get("tier")
    return tier if tier in CRISIS_TIERS else "detected"


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class FeedbackStore:
    """The SQLite file of feedback and demand counts, kept open by the process; one transaction per call.

    Write-ahead logging with synchronous=NORMAL: a commit is not an fsync (a crash may lose the last
    counts, never corrupt the file). Opening, writing and closing the file for each counter cost ~20 ms
    of fsyncs behind the lock, which capped the API near 27 answers/s.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        """The open connection to the file (opened again when the file was removed); call under _LOCK."""
        db = _OPEN.get(self.path)
        if db is not None:
            if self.path.is_file():
                return db
            db.close()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            db.executescript(SCHEMA)
            db.execute("PRAGMA journal_mode=WAL")  # kept in the file
            db.execute("PRAGMA synchronous=NORMAL")
            _OPEN[self.path] = db
        except (OSError, sqlite3.Error) as exc:
            raise InputError(
                f"{self.path}: cannot open the feedback file ({exc}); set feedback_db "
                "(KB_FEEDBACK_DB) to a writable path"
            ) from None
        return db

    def record_feedback(
        self, kind: str, helpful: bool, chunk_ids: Iterable[str], day: dt.date | None = None
    ) -> Feedback:
        """Store one thumb; an unknown kind or a malformed chunk id is an InputError (nothing is written)."""
        ids = list(chunk_ids)
        if kind not in KINDS:
            raise InputError(f"feedback: 'kind' must be one of {', '.join(KINDS)}")
        if not isinstance(helpful, bool):
            raise InputError("feedback: 'helpful' must be true or false")
        if len(ids) > 20 or not all(isinstance(c, str) and _CHUNK_ID.fullmatch(c) for c in ids):
            raise InputError("feedback: 'chunk_ids' must be at most 20 chunk ids from an answer's citations")
        row = Feedback((day or dt.date.today()).isoformat(), kind, helpful, ids)
        with _LOCK, self._connect() as db:
            db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?)",
                (row.day, row.kind, int(row.helpful), json.dumps(row.chunk_ids)),
            )
        return row

    def count(self, counter: str, key: str, day: dt.date | None = None) -> None:
        """Add one to this week's count of (counter, key)."""
        self._add([(counter, key)], day)

    def _add(self, counts: list[tuple[str, str]], day: dt.date | None = None) -> None:
        """Add one to each (counter, key) of this week, in one transaction."""
        if not counts:
            return
        for counter, key in counts:
            if counter not in COUNTERS or not _KEY.fullmatch(key):
                raise InputError(f"demand counter: unknown counter '{counter}' or malformed key")
        week = iso_week(day or dt.date.today())
        with _LOCK, self._connect() as db:
            db.executemany(
                "INSERT INTO demand VALUES (?, ?, ?, 1) ON CONFLICT (week, counter, key) DO UPDATE SET n = n + 1",
                [(week, counter, key) for counter, key in counts],
            )

    def count_answer(self, answer: Answer, topic_ids: AbstractSet[str], day: dt.date | None = None) -> None:
        """Count what one answer showed: its inferred topics (from the vocabulary), an abstention, a crisis tier."""
        counts = [("topic", tid) for tid in answer.topics if tid in topic_ids and _KEY.fullmatch(tid)]
        if answer.abstained and not answer.crisis.detected:
            counts.append(("abstention", "all"))
        tier = crisis_tier(answer)
        if tier:
            counts.append(("crisis", tier))
        self._add(counts, day)

    def feedback(self) -> list[Feedback]:
        if not self.path.is_file():
            return []
        with _LOCK, self._connect() as db:
            rows = db.execute("SELECT day, kind, helpful, chunk_ids FROM feedback ORDER BY day").fetchall()
        return [Feedback(day, kind, bool(helpful), json.loads(ids)) for day, kind, helpful, ids in rows]

    def demand(self) -> list[DemandCount]:
        if not self.path.is_file():
            return []
        with _LOCK, self._connect() as db:
            rows = db.execute("SELECT week, counter, key, n FROM demand ORDER BY week, counter, key").fetchall()
        return [DemandCount(*row) for row in rows]
