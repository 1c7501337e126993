"""A question is never written down: a unique canary goes through the CLI and the app, then nothing on disk has it.

The browser run does the same in tests/test_browser.py (test_a_question_leaves_no_trace_in_the_url_logs_or_files).
"""

from __future__ import annotations

import time
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, files_containing, privacy_roots

pytestmark = pytest.mark.slow


def test_a_canary_question_asked_through_the_cli_and_the_app_is_not_found_on_disk(app_env, run_kb_process):
    since = time.time() - 1
    canary = f"canary{uuid.uuid4().hex}"
    question = f"what is transference {canary}"

    result = run_kb_process("ask", question, timeout=300)
    assert result.code == 0 and "Sources:" in result.out

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300).run()
    at.text_input(key="question").input(question)
    next(b for b in at.button if b.label == "Ask").click().run()
    assert "Answer" in [h.value for h in at.header]
    in_url = any(canary in str(value) for value in at.query_params.values())
    assert not in_url

    leaks = files_containing(canary, privacy_roots(app_env.index), since)
    assert leaks == [], "the question was written to these files"
