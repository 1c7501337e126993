"""The practice's website in headless Chromium: examples/practice-page.html served by the app with the widget in
it, the quick exit on every page, keyboard-only use, and axe-core's WCAG 2.2 A/AA rules on every page and state.

`streamlit run app.py` serves the pages, the API and the widget from one process (st.App). axe-core is the npm
package, installed once into .kb-cache/axe by the fixture below (npm must be on the PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.evaluation.bench import CHROMIUM, serving_app

from conftest import CHROMIUM_ARGS, REPO, files_containing, privacy_roots

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT = 120_000  # ms
AXE = REPO / ".kb-cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
EXIT = "Leave this site quickly"

if not Path(CHROMIUM).is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM}: install it with `make browser`", allow_module_level=True)


@pytest.fixture(scope="module")
def server(app_index, tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    """The app on a free port against the session's index; yields (base url, feedback file, server log)."""
    folder = tmp_path_factory.mktemp("website")
    feedback = folder / "feedback" / "feedback.sqlite"
    env = {
        **os.environ,
        "KB_CORPUS": str(app_index.corpus),
        "KB_INDEX": str(app_index.index),
        "KB_FEEDBACK_DB": str(feedback),
        "KB_QUICK_EXIT_URL": "about:blank",
        "PYTHONUNBUFFERED": "1",
    }
    log = folder / "server.log"
    with open(log, "wb") as out, serving_app(env, out, timeout=WAIT / 1000) as base:
        yield base, feedback, log


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium):
    """A fresh browser profile that records every URL requested (axe is injected, so page CSP is bypassed)."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    ctx.requests = []
    ctx.on("request", lambda r: ctx.requests.append(r.url))
    yield ctx
    ctx.close()


@pytest.fixture
def widget(context, server):
    tab = context.new_page()
    tab.goto(server[0] + "/examples/practice-page.html")
    tab.get_by_label("Your question").wait_for(timeout=WAIT)
    return tab


def ask_widget(page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.locator(".kbw-results h3").first.wait_for(timeout=WAIT)


def left_loopback(context, base: str) -> list[str]:
    return [u for u in context.requests if not (u.startswith(base) or u.startswith(("data:", "blob:", "about:")))]


def headings(page) -> list[str]:
    return page.locator(".kbw-results h3").all_inner_texts()


def test_the_widget_answers_with_citations_linking_to_the_library_and_therapists(widget, context, server):
    base = server[0]
    ask_widget(widget, "Why do I keep choosing people who hurt me?")
    assert headings(widget)[:2] == ["Answer", "Sources"]
    assert widget.locator(".kbw-answer").inner_text().strip()
    sources = widget.locator(".kbw-sources a")
    assert sources.count() >= 1
    for href in sources.evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith(base + "/library?doc="), href
        assert widget.request.get(href).ok
    profiles = widget.get_by_role("link", name=re.compile(r"^View .+'s profile$"))
    assert profiles.count() >= 1
    assert all(h.startswith(base + "/therapists?id=") for h in profiles.evaluate_all("ls => ls.map(a => a.href)"))
    widget.get_by_role("button", name="Yes", exact=True).click()
    widget.get_by_text("Thank you.", exact=False).wait_for(timeout=WAIT)
    assert context.cookies() == []
    assert widget.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert left_loopback(context, base) == []


def test_the_library_is_loaded_at_server_start_not_by_the_first_page(server):
    """st.App's lifespan hook loads the model, index and directory as the server starts (pages served
    meanwhile wait for it); the API's health check answers only once it is loaded."""
    base, _, log = server
    with urllib.request.urlopen(f"{base}/api/v1/health", timeout=WAIT / 1000) as reply:
        assert json.load(reply)["status"] == "ok"
    deadline = time.monotonic() + WAIT / 1000
    while "library warm in" not in log.read_text(encoding="utf-8", errors="replace"):
        assert time.monotonic() < deadline, "the lifespan hook never finished warming"
        time.sleep(0.1)


def test_a_canary_asked_in_the_widget_with_feedback_is_found_nowhere_on_disk(widget, server):
    since = time.time() - 1
    canary = f"canary{uuid.uuid4().hex}"
    ask_widget(widget, f"what is transference {canary}")
    widget.get_by_role("button", name="No", exact=True).click()
    widget.get_by_text("Thank you.", exact=False).wait_for(timeout=WAIT)
    assert server[1].is_file()
    assert files_containing(canary, privacy_roots(server[2], server[1].parent), since) == []


def test_the_crisis_panel_comes_first_in_the_widget(widget, context, server):
    ask_widget(widget, "I want to kill myself")
    found = headings(widget)
    assert found[0] == "Support is here any time" and len(found) > 1  # no time or means: the concern panel
    assert widget.locator('.kbw-crisis a[href="tel:988"]').count() >= 1
    assert left_loopback(context, server[0]) == []


def test_violence_at_home_shows_the_quick_exit_inside_the_crisis_panel(widget):
    ask_widget(widget, "My partner hits me and I am scared to go home")
    assert headings(widget)[0] in ("Please get help now", "Support is here any time")
    assert widget.locator(".kbw-crisis").get_by_role("button", name=EXIT).count() == 1


def test_text_from_the_answer_is_inserted_as_text_never_as_html(widget):
    ask_widget(widget, 'what is transference <img src="x" onerror="window.pwned=1"> <b>bold</b>')
    assert widget.locator("[data-kb-widget] img, [data-kb-widget] b").count() == 0
    assert widget.evaluate("() => window.pwned") is None


def test_the_quick_exit_in_the_widget_leaves_and_takes_the_question_with_it(widget):
    widget.get_by_label("Your question").fill("is my partner reading my messages")
    widget.get_by_role("button", name=EXIT).first.click()
    widget.wait_for_url("about:blank", timeout=WAIT)
    assert "partner" not in widget.content()


def test_pressing_shift_three_times_leaves_the_practice_page(widget):
    widget.get_by_label("Your question").fill("is my partner reading my messages")
    for _ in range(3):
        widget.keyboard.press("Shift")
    widget.wait_for_url("about:blank", timeout=WAIT)


def test_keyboard_only_question_box_answer_links_and_quick_exit_in_the_widget(widget):
    box = widget.get_by_label("Your question")
    for _ in range(15):  # Tab from the top of the page until the question box has focus
        widget.keyboard.press("Tab")
        if box.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the question box cannot be reached with Tab")
    widget.keyboard.type("What is transference?")
    widget.keyboard.press("Enter")
    widget.locator(".kbw-sources a").first.wait_for(timeout=WAIT)
    for _ in range(10):  # Tab on to the first citation link
        widget.keyboard.press("Tab")
        if widget.evaluate("() => document.activeElement.closest('.kbw-sources') !== null"):
            break
    else:
        pytest.fail("the citation links cannot be reached with Tab")
    assert widget.evaluate("() => document.activeElement.tagName") == "A"
    for _ in range(40):  # Shift+Tab back to the quick exit, then Enter
        widget.keyboard.press("Shift+Tab")
        if widget.evaluate("() => document.activeElement.textContent") == EXIT:
            break
    else:
        pytest.fail("the quick exit cannot be reached with the keyboard")
    widget.keyboard.press("Enter")
    widget.wait_for_url("about:blank", timeout=WAIT)


@pytest.mark.parametrize(
    "path, ready",
    [
        ("/", "Ask the library"),
        ("/library", "Library"),
        ("/therapists", "Therapists"),
        ("/about", "About this library"),
    ],
)
def test_every_app_page_has_the_quick_exit(context, server, path, ready):
    page = context.new_page()
    page.goto(server[0] + path)
    page.get_by_role("heading", name=ready).first.wait_for(timeout=WAIT)
    button = page.get_by_role("button", name=EXIT)
    button.wait_for(timeout=WAIT)
    box = button.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    button.click()
    page.wait_for_url("about:blank", timeout=WAIT)


def test_the_apps_thumbs_record_the_answer_kind_and_cited_chunks(context, server):
    from kb.web.feedback import FeedbackStore

    before = len(FeedbackStore(server[1]).feedback())
    page = context.new_page()
    page.goto(server[0])
    page.get_by_label("Your question").fill("What is transference?")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.get_by_text("Was this helpful?").wait_for(timeout=WAIT)
    page.get_by_role("radio", name="Thumbs down").click()
    page.get_by_text("Thank you.", exact=False).wait_for(timeout=WAIT)
    rows = FeedbackStore(server[1]).feedback()[before:]
    assert [(r.kind, r.helpful) for r in rows] == [("answered", False)] and rows[0].chunk_ids


def test_shift_three_times_leaves_the_app_and_the_question_with_it(context, server):
    page = context.new_page()
    page.goto(server[0])
    page.get_by_label("Your question").fill("is my partner reading my messages")
    page.get_by_label("Your question").press("Enter")
    page.get_by_role("heading", name=re.compile("^(Answer|Topics you could browse)$")).wait_for(timeout=WAIT)
    for _ in range(3):
        page.keyboard.press("Shift")
    page.wait_for_url("about:blank", timeout=WAIT)
    assert "partner" not in page.content()


# --- axe-core ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, installed with npm into .kb-cache/axe the first time."""
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the accessibility test (apt-get install npm)")
        subprocess.run(
            [npm, "install", "--prefix", str(AXE.parents[2]), "--no-audit", "--no-fund", "axe-core@4"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE.read_text(encoding="utf-8")


def violations(page, source: str) -> list[str]:
    """axe's WCAG 2.2 A/AA violations on the page as it is now, one line each."""
    page.wait_for_timeout(500)
    page.add_script_tag(content=source)
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(json.dumps(n['target']) for n in v['nodes'][:3])}"
        for v in result["violations"]
    ]


def settle(page) -> None:
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=WAIT)
    page.wait_for_timeout(500)


APP_STATES = [
    ("/", "Ask the library", None),
    ("/", "Ask the library", "Why do I keep choosing people who hurt me?"),
    ("/", "Ask the library", "I want to kill myself"),
    ("/", "Ask the library", "How do I change a car tyre?"),
    ("/library", "Library", None),
    ("/library?doc=transference-in-everyday-life", "Transference", None),
    ("/therapists", "Therapists", None),
    ("/therapists?id=amara-okafor", "Amara Okafor, RP", None),
    ("/about", "About this library", None),
]


@pytest.mark.parametrize(
    "path, ready, question",
    APP_STATES,
    ids=["ask", "ask-answer", "ask-crisis", "ask-abstain", "library", "article", "therapists", "profile", "about"],
)
def test_app_pages_pass_axe_wcag_22_aa(context, server, axe_source, path, ready, question):
    page = context.new_page()
    page.goto(server[0] + path)
    page.get_by_role("heading", name=re.compile("^" + re.escape(ready))).first.wait_for(timeout=WAIT)
    if question:
        page.get_by_label("Your question").fill(question)
        page.get_by_role("button", name="Ask", exact=True).click()
        page.get_by_text("Was this helpful?").wait_for(timeout=WAIT)
    settle(page)
    assert violations(page, axe_source) == []


@pytest.mark.parametrize(
    "question",
    [None, "Why do I keep choosing people who hurt me?", "I want to kill myself"],
    ids=["empty", "answer", "crisis"],
)
def test_the_widget_page_passes_axe_wcag_22_aa(widget, axe_source, question):
    if question:
        ask_widget(widget, question)
    assert violations(widget, axe_source) == []
