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


def test_the_streamlit_config_is_headless_private_and_hides_errors(monkeypatch):
    """The shipped .streamlit/config.toml, as Streamlit itself reads it from the project folder."""
    import tomllib

    from streamlit import config

    shipped = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    monkeypatch.chdir(REPO)
    options = config.get_config_options(force_reparse=True)
    try:
        unknown = [
            f"{section}.{key}"
            for section, values in shipped.items()
            for key in values
            if f"{section}.{key}" not in options
        ]
        assert unknown == []  # a misspelt option would be silently ignored
        expected = {
            "server.headless": True,
            "browser.gatherUsageStats": False,
            "server.enableXsrfProtection": True,
            "client.showErrorDetails": "none",
            "client.showErrorLinks": False,
            "server.address": "localhost",
            "server.fileWatcherType": "none",
            "server.runOnSave": False,
        }
        assert {name: options[name].value for name in expected} == expected
        assert all(options[name].where_defined.endswith("config.toml") for name in expected)
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
