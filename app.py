"""The app: `streamlit run app.py` (or `make app`) serves the pages, the JSON API, the widget and the example page.

This file is both halves of one process. `streamlit run` finds the `st.App` below and serves it with uvicorn:
it imports this file as a module (the `else` branch), which adds the API and widget routes and a lifespan
hook that loads the model, index and directory before the first visitor. Streamlit then runs this same file
as the page script for each visit (`__name__ == "__main__"`): it builds a missing or stale index first,
then serves the pages. streamlit.testing's AppTest runs the page script the same way.
"""

import streamlit as st

from kb.config import load_settings
from kb.errors import KBError
from kb.web import server

if __name__ == "__main__":
    from kb.web import views

    st.set_page_config(page_title="Psychoeducation library", page_icon="📚", layout="centered")

    views.wrap_long_links()
    views.sidebar_crisis_note(views.region())  # first, so crisis lines show whatever fails after it
    views.quick_exit(views.settings().quick_exit_url)
    views.prepare_index()

    pages = [
        st.Page(views.PAGES["ask"], title="Ask", icon=":material/question_answer:", url_path="", default=True),
        st.Page(views.PAGES["library"], title="Library", icon=":material/menu_book:", url_path="library"),
        st.Page(views.PAGES["therapists"], title="Therapists", icon=":material/groups:", url_path="therapists"),
        st.Page(views.PAGES["about"], title="About", icon=":material/info:", url_path="about"),
    ]
    page = st.navigation(pages, position="top")
    page.run()
else:
    # The pages' module (and through it the whole library) is imported by the warm-up thread, not here:
    # the server starts listening first, so a visitor's browser fetches the page while the library loads.
    def _shared_knowledge_base():
        from kb.web import views

        return views.shared_knowledge_base(_settings)

    def _warm() -> None:
        from kb.web import views

        views.warm(_settings)

    server.send_without_delay()  # before uvicorn accepts the first connection
    try:
        _settings = load_settings()
        app = st.App(__file__, routes=server.routes(_settings, _shared_knowledge_base), lifespan=server.lifespan(_warm))
    except KBError as exc:
        raise SystemExit(f"error: {exc}") from None
