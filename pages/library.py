"""Library: browse articles by topic (?topic=), or read one (?doc=, with ?section= when reached from a citation)."""

import streamlit as st

from kb.web import text as ui
from kb.web import views

kb = views.knowledge_base()
docs = kb.index.documents
labels = kb.topics.labels
AUDIENCES = {"public": "the public", "clinician": "clinicians"}


def heading(section: ui.Section, anchor: str | None = None) -> None:
    text = ui.escape_markdown(section.heading)
    if section.level <= 2:
        st.header(text, anchor=anchor)
    elif section.level == 3:
        st.subheader(text, anchor=anchor)
    else:
        st.markdown(f"#### {text}")


def show_article(doc) -> None:
    meta = doc.metadata
    st.page_link(views.PAGES["library"], label="All articles", icon=":material/arrow_back:")
    st.title(ui.escape_markdown(doc.title))
    if meta.summary:
        st.markdown(ui.escape_markdown(meta.summary))
    about = [f"Written for {AUDIENCES.get(doc.audience, doc.audience)}"]
    if meta.last_reviewed:
        by = f" by {meta.reviewed_by}" if meta.reviewed_by else ""
        about.append(f"Last reviewed {meta.last_reviewed}{by}")
    st.caption(ui.escape_markdown(" · ".join(about)))
    views.topic_links([t for t in doc.topics if t in labels], labels)
    text, is_markdown = ui.article_source(views.settings().corpus, doc)
    sections = ui.article_sections(text, doc.title, is_markdown)
    cited = st.query_params.get("section", "")
    target = ui.find_section(sections, cited)
    if target is not None:
        st.info(
            f"You came here from a citation: **{ui.escape_markdown(cited)}**. "
            "[Go to the cited section](#cited-section)",
            icon=":material/format_quote:",
        )
    elif cited:
        st.info("You came here from a citation, but that section has changed since. Here is the whole article.")
    for i, section in enumerate(sections):
        box = st.container(border=True) if i == target else st.container()
        with box:
            if i == target:
                st.caption("Cited section")
            if section.level:
                heading(section, "cited-section" if i == target else None)
            if section.body:
                st.markdown(section.body)
    related = [docs[r] for r in meta.related or [] if r in docs]
    if related:
        st.header("Related articles")
        for other in related:
            st.page_link(
                views.PAGES["library"],
                label=ui.escape_markdown(other.title),
                query_params={"doc": other.id},
                icon=":material/article:",
            )
    if meta.references:
        st.header("References")
        st.markdown("\n".join(f"- {ui.linkify(ref)}" for ref in meta.references))


def show_list() -> None:
    st.title("Library")
    st.markdown(
        "Articles about psychodynamic therapy, relationships and difficult feelings, reviewed by our clinicians."
    )
    current = st.query_params.get("topic")
    options = [None, *labels]
    choice = st.selectbox(
        "Topic",
        options,
        index=options.index(current) if current in labels else 0,
        format_func=lambda t: labels.get(t, "All topics"),
    )
    if choice != current:
        if choice:
            st.query_params["topic"] = choice
        else:
            st.query_params.pop("topic", None)
    chosen = [d for d in docs.values() if not choice or choice in d.topics]
    st.caption(f"{len(chosen)} article" + ("" if len(chosen) == 1 else "s"))
    for doc in sorted(chosen, key=lambda d: d.title.lower()):
        with st.container(border=True):
            st.page_link(
                views.PAGES["library"],
                label=ui.escape_markdown(doc.title),
                query_params={"doc": doc.id},
                icon=":material/article:",
            )
            summary = doc.metadata.summary or ""
            st.caption(ui.escape_markdown(f"For {AUDIENCES.get(doc.audience, doc.audience)}. {summary}"))


doc_id = st.query_params.get("doc")
if doc_id and doc_id in docs:
    show_article(docs[doc_id])
elif doc_id:
    st.title("Article not found")
    st.warning("There is no article with that name in the library. It may have been renamed or removed.")
    st.page_link(views.PAGES["library"], label="Browse all articles", icon=":material/arrow_back:")
else:
    show_list()
