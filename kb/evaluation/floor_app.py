"""The floor for `kb bench app`: the least a Streamlit page can do that the bench can time the same way.

A title, the same question box and button, and a fixed heading with the anchor the bench waits for: no
model, index or directory. Its cold start to first answer, measured in the same run as the real app, is what
Streamlit and headless Chromium cost on this machine before any of our work.
"""

import streamlit as st

st.title("Ask the library")
with st.form("ask", border=False):
    question = st.text_input("Your question", key="question", autocomplete="off")
    asked = st.form_submit_button("Ask", type="primary")
if asked:
    st.subheader("[1] A fixed answer", anchor="source-1")
