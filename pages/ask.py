"""Ask: a question in; crisis resources first, then a cited answer (or an honest abstention) and therapists."""

import streamlit as st

from kb.answering.compose import DISCLAIMER
from kb.answering.present import answer_as_markdown
from kb.errors import CrisisAnswerError, InputError
from kb.safety import detect_crisis
from kb.web import text as ui
from kb.web import views

EXAMPLES = [
    "Why do I keep choosing people who hurt me?",
    "What is transference?",
    "What happens in a first therapy session?",
    "How is psychodynamic therapy different from CBT?",
]
AUDIENCES = {None: "Everyone", "public": "The public", "clinician": "Clinicians"}

kb = views.knowledge_base()
try:
    labels = kb.topics.labels
except Exception:  # noqa: BLE001 - a broken topic file must not take the question box (and crisis help) down
    labels = {}

with st.sidebar:
    st.header("Filters")
    topic = st.selectbox(
        "Topic",
        [None, *labels],
        format_func=lambda t: labels.get(t, "All topics"),
        key="ask_topic",
        persist_state="session",
    )
    audience = st.selectbox(
        "Written for", list(AUDIENCES), format_func=AUDIENCES.get, key="ask_audience", persist_state="session"
    )
    clinician = st.toggle(
        "Clinician view",
        key="clinician",
        persist_state="session",
        help="Retrieval scores, full passages, copyable citations and a Markdown download.",
    )


def use_example(question: str) -> None:
    st.session_state.question = st.session_state.asked = question


# The question lives only in this session's memory: never in the URL, a log or a file.
if "question" not in st.session_state and st.session_state.get("asked"):
    st.session_state.question = st.session_state.asked

st.title("Ask the library")
st.markdown(
    "Ask about therapy, relationships or difficult feelings. Answers are quoted from our articles, with their sources."
)
with st.form("ask", border=False):
    question = st.text_input(
        "Your question",
        key="question",
        autocomplete="off",
        placeholder="e.g. Why do I keep choosing people who hurt me?",
    )
    if st.form_submit_button("Ask", type="primary", icon=":material/search:"):
        st.session_state.asked = question
st.caption("Or try an example:")
with st.container(horizontal=True):
    for i, example in enumerate(EXAMPLES):
        st.button(example, key=f"example-{i}", on_click=use_example, args=(example,))

answer = None
asked = st.session_state.get("asked")
if asked is not None:
    wanted = (asked, topic, audience)
    try:
        if st.session_state.get("answer_for") != wanted:
            st.session_state.answer = kb.ask(asked, [topic] if topic else None, audience)
            st.session_state.answer_for = wanted
            st.session_state.answer_serial = st.session_state.get("answer_serial", 0) + 1
            views.count_demand("topic", answer=st.session_state.answer, topic_ids=set(labels))
            if st.session_state.answer.therapists:
                views.count_demand("directory", "ask")
        answer = st.session_state.answer
    except CrisisAnswerError as exc:  # answering failed, but crisis help comes first whatever broke
        views.crisis_panel(exc.crisis)
        views.log_failure(exc)
        st.error("The library could not answer just now. The crisis lines above are always there.")
    except InputError as exc:
        st.warning(views.sentence(str(exc)), icon=":material/edit:")
    except Exception as exc:  # noqa: BLE001 - one friendly line for the visitor; the log gets no question text
        crisis = detect_crisis(asked, views.settings())
        if crisis.detected:
            views.crisis_panel(crisis)
        views.log_failure(exc)
        st.error("Something went wrong while answering. Please try again.")

if answer is not None:
    if answer.crisis.detected:
        views.crisis_panel(answer.crisis)
    for notice in answer.notices:
        st.info(ui.escape_markdown(notice), icon=":material/info:")
    terms = ui.query_terms(answer.query)
    if answer.abstained:
        st.header("Topics you could browse")
        views.topic_links(answer.topics, labels)
    else:
        st.header("Answer")
        st.markdown(ui.answer_markdown(answer.text or ""))
        st.header("Sources")
        hits = {h.chunk.id: h for h in answer.passages}
        for c in answer.citations:
            views.passage_card(c, hits.get(c.chunk_id), kb.index.documents.get(c.doc_id), terms, clinician)
    st.header("Therapists who work with this" if answer.therapists else "Talk with a therapist")
    if answer.therapists:
        st.caption(views.SAMPLE_DATA_NOTE)
        for match in answer.therapists:
            views.therapist_card(match)
    views.directory_links(kb.directory)
    views.answer_feedback(answer, st.session_state.get("answer_serial", 0))
    if clinician:
        st.header("Retrieved passages")
        st.caption("Clinician view: every passage retrieval returned, best first, with its scores.")
        for hit in answer.passages:
            with st.expander(ui.escape_markdown(f"{hit.rank}. {hit.title} > {hit.chunk.section or 'Introduction'}")):
                st.caption(views.score_line(hit))
                st.markdown(ui.highlight(hit.chunk.text, terms))
        documents, practice = kb.index.documents, views.settings().practice_name
        references = {
            c.n: ui.apa_citation(documents[c.doc_id], c.section, practice)
            for c in answer.citations
            if c.doc_id in documents
        }
        st.download_button(
            "Download as Markdown",
            answer_as_markdown(answer, references),
            file_name="answer.md",
            mime="text/markdown",
            on_click="ignore",
            icon=":material/download:",
        )

views.disclaimer(DISCLAIMER)
