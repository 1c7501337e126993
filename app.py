"""The Streamlit app: `streamlit run app.py`. Builds a missing or stale index first, then serves the pages."""

import streamlit as st

from kb.web import views

st.set_page_config(page_title="Psychoeducation library", page_icon="📚", layout="centered")

views.wrap_long_links()
views.prepare_index()

pages = [
    st.Page(views.PAGES["ask"], title="Ask", icon=":material/question_answer:", url_path="", default=True),
    st.Page(views.PAGES["library"], title="Library", icon=":material/menu_book:", url_path="library"),
    st.Page(views.PAGES["therapists"], title="Therapists", icon=":material/groups:", url_path="therapists"),
    st.Page(views.PAGES["about"], title="About", icon=":material/info:", url_path="about"),
]
page = st.navigation(pages, position="top")
views.sidebar_crisis_note(views.settings().region)
page.run()
