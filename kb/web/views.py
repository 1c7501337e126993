"""Streamlit pieces shared by the pages: settings, the cached knowledge base, start-up indexing and the cards.

Only the app imports this module (it imports Streamlit). Every piece of corpus, directory or visitor
text goes through kb.ui's escaping before it reaches st.markdown; unsafe HTML is never allowed.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Set as AbstractSet

import streamlit as st

from kb.answering.language import warm_up as warm_language_models
from kb.config import Settings, load_settings
from kb.directory.therapists import Directory
from kb.errors import KBError
from kb.index.build import build_index, changes_on_disk
from kb.index.integrity import damaged_files
from kb.index.store import BUILD_FILES, current_build, read_manifest
from kb.knowledge_base import KnowledgeBase
from kb.models.embedders import BUNDLED, Embedder, export_model, load_embedder, onnx_exported
from kb.records import Answer, Citation, Crisis, Document, Hit, Resource, TherapistMatch
from kb.retrieval.spelling import english_words
from kb.safety import crisis_resources, helping_someone_else
from kb.web import text as ui
from kb.web.feedback import FeedbackStore, answer_kind
from kb.web.quick_exit import prominent_quick_exit, quick_exit  # noqa: F401 - every page's control

PAGES = {
    "ask": "pages/ask.py",
    "library": "pages/library.py",
    "therapists": "pages/therapists.py",
    "about": "pages/about.py",
}
SAMPLE_DATA_NOTE = "Sample data: fictional therapists. These profiles are made up for demonstration."
log = logging.getLogger(__name__)
esc = ui.escape_markdown


def settings() -> Settings:
    """Settings from the environment and kb.toml; a bad value stops the page with one clear line."""
    try:
        return load_settings()
    except KBError as exc:
        st.error(f"The app is misconfigured: {exc}")
        st.stop()


@st.cache_resource(show_spinner=False)
def _embedder(model: str, allow_hub: bool, batch_size: int, index: str, exported: bool, _s: Settings) -> Embedder:
    # Keyed by what picks the model (_s itself is not hashed). The ONNX export lives beside the configured
    # index: a model loaded without it served on torch.
    return load_embedder(_s)


def embedder(s: Settings) -> Embedder:
    """The model for these settings, one per process; a new ONNX export (made by a build) is picked up."""
    return _embedder(s.model, s.allow_hub, s.batch_size, str(s.index.resolve()), onnx_exported(s), s)


@st.cache_resource(show_spinner=False, max_entries=4)
def _knowledge_base(settings: Settings, build: str) -> KnowledgeBase:
    """One KnowledgeBase per settings and live build, shared by every session (used read-only after warming)."""
    kb = KnowledgeBase(settings, embedder(settings))
    for name in (
        "index",
        "searcher",
        "topics",
        "directory",
        "topic_vectors",
        "profile_vectors",
        "crisis_detector",
        "spelling",
    ):
        getattr(kb, name)  # fill every cached property now, so sessions never race to build one
    return kb


def shared_knowledge_base(s: Settings) -> KnowledgeBase:
    """The KnowledgeBase of the live build, shared by the pages and the API; a new build is swapped in on the
    next call while requests already running finish on the old one. Raises KBError."""
    build = current_build(s.index)
    return _knowledge_base(s, build.name if build else "")


def knowledge_base() -> KnowledgeBase:
    """The shared KnowledgeBase for the live build (a new `kb index` is picked up on the next page load)."""
    s = settings()
    try:
        with st.spinner("Loading the library…"):
            return shared_knowledge_base(s)
    except KBError as exc:
        st.error(str(exc))
        return KnowledgeBase(s)  # loads nothing yet: its ask still detects a crisis, then reports the error


# Our own words, never a visitor's; plainly English, so warming does not need the language models (below).
WARM_QUESTION = "What is it like to be in therapy for the first time?"
# The language models (lingua) and the spelling fixer's word list load this long after the library is warm.
# Each holds the interpreter for most of a second, which would slow a first visitor's page if it arrived
# just then; neither is needed by a plainly English question, and either loads on demand if asked first.
EXTRAS_DELAY_S = 10.0


def warm(s: Settings, extras_delay: float = EXTRAS_DELAY_S) -> None:
    """At server start: load the model, index, topics, directory and crisis detector and answer once, so the
    first visitor waits for none of it; the language models and word list follow extras_delay seconds later.
    A missing or stale index is left to the first page, which builds it with a progress bar."""
    if stale_reason(s):
        log.warning("the index is missing or stale: the first page will build it")
        return
    shared_knowledge_base(s).ask(WARM_QUESTION)
    _startup()["checked"].add(s)
    extras = threading.Timer(extras_delay, warm_extras)
    extras.daemon = True
    extras.name = "warm-extras"
    extras.start()


def warm_extras() -> None:
    """Load what only some questions need: lingua (a question that is not plainly English) and the word list
    (a word neither the corpus nor the model knows)."""
    try:
        warm_language_models()
        english_words()
    except Exception as exc:  # noqa: BLE001 - each loads again on demand; never a question in the log
        log.error("could not load the language models or word list (%s)", type(exc).__name__)


def stale_reason(s: Settings) -> str:
    """Why the index must be (re)built before serving, or "" when it matches the corpus and model."""
    manifest = read_manifest(s.index)
    if manifest is None:
        return "there is no search index yet"
    model = manifest.model.name
    if model != s.model and not (model in BUNDLED and s.model in BUNDLED):
        return f"the index was built with model '{model}'"
    folder = current_build(s.index)
    damaged = damaged_files(folder, manifest, list(BUILD_FILES)) if folder is not None else []
    if damaged:  # rebuilt from the embedding cache: unchanged passages are not embedded again
        return f"the live build is damaged ({damaged[0]})"
    changed = changes_on_disk(s).total
    return f"{changed} files changed since the last build" if changed else ""


@st.cache_resource(show_spinner=False)
def _startup() -> dict:
    return {"lock": threading.Lock(), "checked": set()}


def prepare_index() -> None:
    """Build or update a missing or stale index with a progress bar, once per server process and settings."""
    s = settings()
    state = _startup()
    if s in state["checked"]:
        return
    with state["lock"]:
        if s in state["checked"]:
            return
        try:
            reason = stale_reason(s)
        except KBError as exc:
            st.error(str(exc))  # the page still runs: crisis detection needs no index
            return
        if reason and not _build(s, reason):
            return
        state["checked"].add(s)


def _build(s: Settings, reason: str) -> bool:
    """Build the index with a progress bar; False (with the error shown) when it cannot be built."""
    box = st.empty()
    with box.container():
        st.info(f"Preparing the library before it opens: {reason}. This happens once.")
        bar = st.progress(0.0, text="Reading and splitting the articles…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"Embedding passages: {done} of {total}")

        try:
            export_model(s)  # as `kb index` does, so the app then serves without torch
            report = build_index(s, embedder(s), progress=progress)
        except Exception as exc:  # noqa: BLE001 - the page goes on: crisis help must still show
            st.error(f"The search index could not be built: {_one_line(exc)}")
            return False
        bar.progress(1.0, text="Done")
    box.empty()
    st.toast(f"Search index ready: {report.documents} documents, {report.chunks} passages.")
    return True


def _one_line(exc: Exception) -> str:
    return str(exc) if isinstance(exc, KBError) else f"{type(exc).__name__}; see the server log"


def region() -> str:
    """The configured region, or Canada when the settings themselves cannot be read."""
    try:
        return settings().region
    except Exception:  # noqa: BLE001 - crisis lines must show even with a broken config file
        return "CA"


# Our own constant CSS, never corpus or visitor text: long link labels (article titles) wrap at phone width
# instead of being cut off.
_WRAP_LINKS = (
    "<style>[data-testid='stPageLink-NavLink'], [data-testid='stPageLink-NavLink'] * "
    "{white-space: normal !important; text-overflow: clip !important; height: auto !important;}"
    # Captions solid, not Streamlit's 60 % opacity grey (3.9:1): WCAG AA wants 4.5:1 on white.
    "[data-testid='stCaptionContainer'] {opacity: 1 !important; color: #5c5b5a !important;}</style>"
)


def wrap_long_links() -> None:
    st.html(_WRAP_LINKS)


def log_failure(exc: BaseException) -> None:
    """Log where an unexpected error happened, never its message (it could quote the question)."""
    log.error("%s while answering a question:\n%s", type(exc).__name__, "".join(traceback.format_tb(exc.__traceback__)))


def sentence(message: str) -> str:
    """A library error message as a sentence for the page."""
    return message[:1].upper() + message[1:]


def disclaimer(text: str) -> None:
    st.info(esc(text), icon=":material/info:")


def resource_list(resources: list[Resource]) -> None:
    """Crisis lines and emergency services, phone numbers as tap-to-call links."""
    lines = []
    for r in resources:
        site = f" ({ui.link('website', r.url)})" if ui.safe_url(r.url) else ""
        lines.append(f"- **{esc(r.name)}:** {ui.phone_links(r.action)}{site}")
    st.markdown("\n".join(lines))


def sidebar_crisis_note(region: str) -> None:
    """A short, always-visible pointer to crisis help (in the sidebar of every page)."""
    with st.sidebar:
        st.markdown("**In crisis or in danger?**")
        resource_list(crisis_resources(region))


def helping_list() -> None:
    st.markdown("\n".join(f"- {esc(line)}" for line in helping_someone_else()))


def crisis_panel(crisis: Crisis) -> None:
    """Crisis resources, shown before anything else; the heading and words carry the message, not colour."""
    with st.container(border=True, key="crisis-panel"):
        if crisis.tier == "urgent":
            st.header("Please get help now", anchor="crisis", icon=":material/call:")
            st.error(f"**Your safety comes first.** {esc(crisis.message)}", icon=":material/favorite:")
        else:  # concern: calm and clearly visible, then the answer to the question as asked
            st.header("Support is here any time", anchor="crisis", icon=":material/call:")
            st.info(esc(crisis.message), icon=":material/favorite:")
        resource_list(crisis.resources)
        if crisis.kind in ("violence", "child-safety"):
            prominent_quick_exit()
        if crisis.about_someone_else:
            st.subheader("If you are worried about someone else")
            helping_list()
        else:
            with st.expander("Worried about someone else?"):
                helping_list()


def article_link(doc_id: str, section: str, label: str) -> None:
    params = {"doc": doc_id, "section": section} if section else {"doc": doc_id}
    st.page_link(PAGES["library"], label=esc(label), query_params=params, icon=":material/menu_book:")


def passage_card(c: Citation, hit: Hit | None, doc: Document | None, terms: set[str], clinician: bool) -> None:
    """One source of the answer: title, section, page, highlighted snippet, link to the article there."""
    with st.container(border=True):
        st.subheader(f"\\[{c.n}\\] {esc(c.title)}", anchor=f"source-{c.n}")
        where = [f"Section: {c.section}" if c.section else "Introduction"] + ([f"page {c.page}"] if c.page else [])
        st.caption(esc(" · ".join(where)))
        st.markdown("> " + ui.highlight(c.quote, terms))
        article_link(c.doc_id, c.section, f"Read “{c.title}” in the library")
        if ui.safe_url(c.source_url):
            st.markdown(ui.link("Original source", c.source_url))
        if clinician:
            if hit is not None:
                st.caption(score_line(hit))
                st.markdown("**Full passage**\n\n" + ui.highlight(hit.chunk.text, terms))
            if doc is not None:
                st.markdown("**Citation** (copy with the button on the right):")
                st.code(ui.apa_citation(doc, c.section, settings().practice_name), language=None, wrap_lines=True)


def score_line(hit: Hit) -> str:
    dense = f"{hit.dense_score:.3f}" if hit.dense_score is not None else "n/a"
    bm25 = f"{hit.bm25_score:.3f}" if hit.bm25_score is not None else "n/a"
    return f"Rank {hit.rank} · score {hit.score:.3f} · dense\\_score {dense} · bm25\\_score {bm25}"


def therapist_card(m: TherapistMatch) -> None:
    """A suggested therapist, why they fit, and a link to the profile."""
    with st.container(border=True):
        st.subheader(esc(f"{m.name}, {m.credentials}"))
        st.markdown("**Why:** " + esc(m.why))
        st.page_link(
            PAGES["therapists"],
            label=esc(f"View {m.name}'s profile"),
            query_params={"id": m.id},
            icon=":material/person:",
        )


def directory_links(directory: Directory) -> None:
    st.page_link(PAGES["therapists"], label="Browse the therapist directory", icon=":material/groups:")
    if ui.safe_url(directory.directory_url):
        st.markdown(ui.link("The directory on our website", directory.directory_url))


def topic_links(topic_ids: list[str], labels: dict[str, str]) -> None:
    """Links to the library filtered by each topic."""
    with st.container(horizontal=True):
        for tid in topic_ids:
            st.page_link(
                PAGES["library"], label=esc(labels.get(tid, tid)), query_params={"topic": tid}, icon=":material/label:"
            )


def count_demand(
    counter: str, key: str = "all", answer: Answer | None = None, topic_ids: AbstractSet[str] = frozenset()
) -> None:
    """Add to this week's counters (never the question); off with demand_counts = false. A feedback file that
    cannot be written is logged by path only and never stops the page."""
    s = settings()
    if not s.demand_counts:
        return
    try:
        store = FeedbackStore(s.feedback_db)
        if answer is not None:
            store.count_answer(answer, topic_ids)
        else:
            store.count(counter, key)
    except KBError as exc:
        log.warning("demand counters not written: %s", exc)


def _record_feedback(key: str, kind: str, chunk_ids: list[str]) -> None:
    thumb = st.session_state.get(key)
    if thumb is None:
        return
    try:
        FeedbackStore(settings().feedback_db).record_feedback(kind, thumb == 1, chunk_ids)
    except KBError as exc:
        log.warning("feedback not written: %s", exc)


def answer_feedback(answer: Answer, serial: int) -> None:
    """ "Was this helpful?" with thumbs; keeps the date, the answer kind, the cited chunk ids and the thumb."""
    key = f"feedback-{serial}"
    with st.container(key="answer-feedback"):
        st.markdown("**Was this helpful?**")
        st.feedback(
            "thumbs",
            key=key,
            on_change=_record_feedback,
            args=(key, answer_kind(answer), [c.chunk_id for c in answer.citations if c.chunk_id]),
        )
        if st.session_state.get(key) is not None:
            st.caption("Thank you. Only your thumb and the articles cited were kept, never your question.")
