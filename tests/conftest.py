"""Shared fixtures: a tiny corpus made in tmp_path, settings with the fake embedder, and a `kb` runner."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kb.config import ENV_FIELDS, Settings
from kb.models.embedders import PLUGIN_VARIABLE

from fakes import HashingEmbedder  # importing it registers the fake's model names, "hashing-N"

KB_SCRIPT = Path(sys.executable).parent / "kb"  # the console script installed beside the venv's python
TESTS = Path(__file__).resolve().parent
# A `kb` subprocess registers the fake too: the front ends import the module KB_EMBEDDER_PLUGIN names.
os.environ[PLUGIN_VARIABLE] = "fakes"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)

TOPICS_YAML = """\
topics:
  - {id: transference-and-relationship, label: Transference, kind: concern,
     description: Old patterns in new relationships.}
  - {id: sleep, label: Sleep, kind: concern, description: "Sleep, dreams and rest."}
  - {id: anger, label: Anger, kind: concern, description: Anger and irritability.}
"""

TRANSFERENCE_MD = """\
---
id: transference-basics
title: Transference in everyday life
summary: How feelings from early relationships colour new ones.
topics: [transference-and-relationship]
audience: public
last_reviewed: 2026-01-15
reviewed_by: clinical editor
references: ["Freud, S. (1912). The dynamics of transference."]
related: [sleep-and-dreams]
---

# Transference in everyday life

Transference means carrying feelings from an important early relationship into a new one. A person may feel towards a \
boss the way they once felt towards a strict parent. The feeling is real, but its source is older than the situation.

Most people never notice their own transference. It shows up as a reaction that seems too strong for the moment.

## What transference is

Freud first described transference in the consulting room. Patients reacted to him as if he were someone from their \
past. Later analysts saw that the same thing happens everywhere.

In therapy, transference is not a problem to avoid. It is a window onto patterns that are otherwise hard to see.

## In everyday life

### At work

A manager's brief email can feel like a harsh judgement. Colleagues can stand in for siblings who competed for \
attention. Noticing the pattern gives a person more choice about how to respond.

### In love

Partners often remind us of a parent in ways we do not expect. Repeating an old hurt can feel strangely familiar and \
even comforting.
"""

SLEEP_MD = """\
---
id: sleep-and-dreams
title: Sleep and dreams
summary: Why sleep matters for emotional life, and what dreams may mean.
topics: [sleep]
audience: public
last_reviewed: 2026-02-01
reviewed_by: clinical editor
references: ["Walker, M. (2017). Why we sleep."]
related: [transference-basics]
---

# Sleep and dreams

Sleep restores the body and helps the mind sort through the day. Poor sleep makes worry, irritability and low mood \
harder to manage.

## Dreams

Dreams often borrow images from recent days. Psychodynamic therapists treat a dream as a message worth exploring \
rather than a puzzle with one answer.

A recurring nightmare can point to a fear that has not yet found words.

## Better nights

Keep a regular bedtime and wake time. Dim the lights and put screens away an hour before bed. If you lie awake for \
a long time, get up and do something quiet until you feel sleepy.
"""

ANGER_MD = """\
---
id: anger-for-clinicians
title: Working with anger
summary: Notes for clinicians on anger in the therapy room.
topics: [anger]
audience: clinician
last_reviewed: 2026-03-10
reviewed_by: clinical editor
references: ["Kernberg, O. (1992). Aggression in personality disorders."]
related: [transference-basics]
---

# Working with anger

Anger in the session is information. A client who snaps at the therapist may be testing whether the relationship \
can survive strong feeling.

## Staying steady

The clinician's task is to stay curious rather than defensive. Naming the irritation calmly often lowers its heat.
"""

CORPUS_FILES = {
    "articles/transference.md": TRANSFERENCE_MD,
    "articles/sleep.md": SLEEP_MD,
    "articles/anger.md": ANGER_MD,
    "topics.yaml": TOPICS_YAML,
}
DOC_IDS = {"transference-basics", "sleep-and-dreams", "anger-for-clinicians"}


# Headless Chromium for the browser tests: no sandbox (root in CI), and nothing that reaches the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# A valid therapist row (fictional) for directory tests; copy it (json round trip) before changing a field.
THERAPIST = {
    "id": "sam-lee",
    "name": "Sam Lee",
    "pronouns": "they/them",
    "credentials": "RP",
    "bio": "Sam works with adults who feel stuck in the same patterns, including poor sleep.",
    "modalities": ["psychodynamic"],
    "specialties": ["sleep"],
    "populations": ["adults"],
    "languages": ["English"],
    "formats": ["online"],
    "location": {"city": "Toronto"},
    "accepting_new_clients": True,
    "fee": 150,
    "sliding_scale": False,
    "profile_url": "https://example.org/therapists/sam-lee",
}


@pytest.fixture(autouse=True)
def _no_kb_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own KB_* variables must not leak into a test."""
    for var in [*ENV_FIELDS, "KB_CONFIG"]:
        monkeypatch.delenv(var, raising=False)


def make_corpus(root: Path) -> Path:
    """Write the three articles and the topic vocabulary under root."""
    for rel, text in CORPUS_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Three Markdown articles (one for clinicians) and a topic vocabulary."""
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(corpus: Path, tmp_path: Path) -> Settings:
    """Corpus and index in tmp_path, the fast fake embedder."""
    return Settings(corpus=corpus, index=tmp_path / "index", model="hashing-64")


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(64)


@pytest.fixture
def kb_env(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point KB_CORPUS / KB_INDEX / KB_MODEL at the test corpus and work from tmp_path (no stray kb.toml)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KB_CORPUS", str(settings.corpus))
    monkeypatch.setenv("KB_INDEX", str(settings.index))
    monkeypatch.setenv("KB_MODEL", settings.model)
    return settings


@dataclass
class KbRun:
    """What one `kb` invocation printed and returned."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


class _ConsoleScript:
    """Lets CliRunner drive kb.cli.main, the real entry point (which turns KBError into 'error: ...', exit 2)."""

    name = "kb"

    def main(self, args: list[str], prog_name: str, **_: Any) -> None:
        from kb.cli import main

        saved = sys.argv
        sys.argv = [prog_name, *args]
        try:
            main()
        finally:
            sys.argv = saved


@pytest.fixture
def run_kb() -> Callable[..., KbRun]:
    """Run `kb ARGS...` in-process; env adds or overrides environment variables for that run."""

    def run(*args: str, env: dict[str, str] | None = None) -> KbRun:
        result = CliRunner().invoke(
            _ConsoleScript(),
            [str(a) for a in args],
            env=env,  # type: ignore[arg-type]
            catch_exceptions=False,
        )
        return KbRun(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def run_kb_process() -> Callable[..., KbRun]:
    """Run the installed `kb` console script in a subprocess with the current environment plus env."""
    import subprocess

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> KbRun:
        proc = subprocess.run(
            [str(KB_SCRIPT), *map(str, args)],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=timeout,
        )
        return KbRun(proc.returncode, proc.stdout, proc.stderr)

    return run


def pdf_bytes(pages: list[list[str]], title: str | None = None) -> bytes:
    """A text PDF made with fpdf2: one list of lines per page; a line starting '# ' is set as a heading."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for page in pages:
        pdf.add_page()
        for line in page:
            if line.startswith("# "):
                pdf.set_font("Helvetica", "B", 16)
                pdf.multi_cell(0, 10, line[2:], new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(4)
    return bytes(pdf.output())


def blank_pdf_bytes() -> bytes:
    """A PDF whose only page has no text (what a scanned page looks like to a text extractor)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def encrypted_pdf_bytes(data: bytes, user_password: str = "secret") -> bytes:
    """The PDF locked with pypdf's writer.encrypt."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-" + (user_password or "x"))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


STRESS_PAGES = [
    [
        "# Coping with stress",
        "Stress is the body's response to pressure. It helps in short bursts but wears a person down when it lasts "
        "for months.",
    ],
    [
        "# Rest and recovery",
        "Recovery needs real breaks. A short walk, a regular bedtime and time with friends all lower the load.",
    ],
]


@pytest.fixture
def make_pdf() -> Callable[..., bytes]:
    """pdf_bytes as a fixture: make_pdf(pages, title=None) -> bytes."""
    return pdf_bytes


@pytest.fixture
def stress_pdf() -> bytes:
    """A two-page text PDF with a heading on each page."""
    return pdf_bytes(STRESS_PAGES, title="Stress guide")


@pytest.fixture
def bad_files(stress_pdf: bytes) -> dict[str, tuple[bytes, str]]:
    """Every kind of bad input: relative path -> (file bytes, words the failure reason must contain)."""
    return {
        "bad/corrupt.pdf": (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> this is not a real pdf", "corrupt"),
        "bad/locked.pdf": (encrypted_pdf_bytes(stress_pdf), "encrypted"),
        "bad/scanned.pdf": (blank_pdf_bytes(), "no extractable text"),
        "bad/latin1.txt": ("Caf\u00e9 cr\u00e8me and a r\u00e9sum\u00e9.".encode("latin-1"), "UTF-8"),
        "bad/empty.md": (b"", "empty"),
        "bad/yaml.md": (b"---\ntitle: [unclosed\ntopics: x\n---\n# Broken\n\nBody text.\n", "invalid YAML"),
        "bad/zz-duplicate.md": (
            b"---\nid: sleep-and-dreams\ntitle: Copy\n---\n# Copy\n\nThe same id twice.\n",
            "duplicate id 'sleep-and-dreams'",
        ),
    }


def write_files(root: Path, files: dict[str, tuple[bytes, str]] | dict[str, bytes]) -> None:
    """Write {relative path: bytes or (bytes, anything)} under root."""
    for rel, value in files.items():
        data = value[0] if isinstance(value, tuple) else value
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


@pytest.fixture
def write_corpus_files(corpus: Path) -> Callable[[dict], None]:
    """write_corpus_files({relative path: bytes}) adds files to the test corpus."""
    return lambda files: write_files(corpus, files)


# --- The app: the shipped corpus indexed once per session with the real bundled model -----------------

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def real_model():
    """The bundled all-MiniLM-L6-v2, loaded once for the session."""
    from kb.models.embedders import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def app_index(tmp_path_factory: pytest.TempPathFactory, real_model) -> Settings:
    """The shipped corpus indexed into a temp folder with the real model.

    The project's own index/ (when built) seeds the embedding cache, so only passages whose text
    changed since are embedded again; the result is a complete build of today's corpus either way.
    """
    import shutil

    from kb.index.build import build_index
    from kb.index.store import current_build

    root = tmp_path_factory.mktemp("app") / "index"
    seed = current_build(REPO / "index")
    if seed is not None:
        try:
            shutil.copytree(seed, root / "builds" / seed.name)
            (root / "CURRENT").write_text(seed.name + "\n", encoding="utf-8")
        except OSError:  # a `kb index` running right now pruned it: start from nothing
            shutil.rmtree(root, ignore_errors=True)
    settings = Settings(corpus=REPO / "corpus", index=root)
    build_index(settings, real_model)
    return settings


@pytest.fixture
def app_env(app_index: Settings, real_model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Point the app (in this process) at the session's index and share the session's model with it."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("KB_CORPUS", str(app_index.corpus))
    monkeypatch.setenv("KB_INDEX", str(app_index.index))
    monkeypatch.setenv("KB_FEEDBACK_DB", str(tmp_path / "feedback" / "feedback.sqlite"))  # not the project's
    monkeypatch.setattr("kb.web.views.load_embedder", lambda settings: real_model)
    return app_index


def files_containing(needle: str, roots: list[Path], since: float, max_bytes: int = 50 * 1024 * 1024) -> list[Path]:
    """Files under roots, written since `since` (a fresh canary cannot be in older ones), that contain needle."""
    wanted = needle.encode("utf-8")
    paths: list[Path] = []
    for root in roots:
        if root.is_file():
            paths.append(root)
        for folder, dirs, names in os.walk(root, onerror=lambda error: None):
            dirs[:] = [d for d in dirs if d not in (".venv", ".git")]  # installed packages and history
            paths.extend(Path(folder) / name for name in names)
    found = []
    for path in dict.fromkeys(paths):
        try:
            info = path.lstat()
            if path.is_symlink() or not path.is_file() or info.st_size > max_bytes or info.st_mtime < since:
                continue
            if wanted in path.read_bytes():
                found.append(path)
        except OSError:
            continue
    return found


def privacy_roots(*more: Path) -> list[Path]:
    """Where a question could leak to: temp files, user caches and settings, and the project with its logs and index."""
    import tempfile

    home = Path.home()
    return [Path(tempfile.gettempdir()), home / ".cache", home / ".streamlit", REPO, *more]
