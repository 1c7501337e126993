"""The real app in headless Chromium: `streamlit run app.py` in a subprocess, driven with Playwright."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.evaluation.bench import CHROMIUM, serving_app

from conftest import CHROMIUM_ARGS, REPO, files_containing, privacy_roots

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = REPO / "screenshots"
WAIT = 180_000  # ms: the first page after a server start loads the model

if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"Chromium not found at {CHROMIUM}: install it with `make browser` "
        "(apt-get install chromium) to run the browser tests",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def server(app_index, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`streamlit run app.py` on a free port against the session's index; yields (base url, its log file)."""
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "KB_CORPUS": str(app_index.corpus), "KB_INDEX": str(app_index.index), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out, serving_app(env, out) as base:
        yield base, log


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, server, request):
    """A fresh browser tab at desktop size that records every URL the page requests."""
    width, height = getattr(request, "param", (1280, 900))
    context = chromium.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.requests = []
    tab.on("request", lambda r: tab.requests.append(r.url))
    tab.goto(server[0])
    tab.get_by_label("Your question").wait_for(timeout=WAIT)
    yield tab
    context.close()


def ask(page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()


def settle(page) -> None:
    """Wait until the script run has finished (Streamlit's running indicator is gone)."""
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=WAIT)
    page.wait_for_timeout(300)


def shot(page, name: str) -> None:
    """Save the whole page: Streamlit scrolls inside its main area, so the window is grown to fit it first."""
    SHOTS.mkdir(exist_ok=True)
    settle(page)
    size = page.viewport_size
    height = page.evaluate("() => Math.max(document.querySelector('[data-testid=stMain]').scrollHeight, innerHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(int(height), 8000)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def only_local(page, base: str) -> list[str]:
    return [u for u in page.requests if not (u.startswith(base) or u.startswith(("data:", "blob:")))]


def test_asking_shows_the_answer_with_citation_links_and_therapists(page, server):
    ask(page, "Why do I keep choosing people who hurt me?")
    page.get_by_role("heading", name="Answer").wait_for(timeout=WAIT)
    page.get_by_role("link", name="Browse the therapist directory").wait_for(timeout=WAIT)  # the page is complete
    assert page.locator('a[href="#source-1"]').count() >= 2  # the marker in the answer and the card's own anchor
    assert page.locator("h3#source-1").count() == 1
    assert page.get_by_role("link", name=re.compile(r"^Read “.+” in the library$")).count() >= 1
    assert page.get_by_role("link", name=re.compile(r"^View .+'s profile$")).count() == 3
    assert page.get_by_role("link", name="Browse the therapist directory").count() == 1
    assert "hurt" not in page.url and "?" not in page.url.removeprefix(server[0])
    shot(page, "ask-answer-desktop")
    page.get_by_role("link", name=re.compile(r"^Read “.+” in the library$")).first.click()
    page.get_by_text("You came here from a citation").wait_for(timeout=WAIT)
    assert "/library?doc=" in page.url
    page.get_by_role("link", name="Go to the cited section").click()
    page.wait_for_timeout(500)
    box = page.locator("#cited-section").bounding_box()
    assert box is not None and 0 <= box["y"] < page.viewport_size["height"]  # scrolled into view
    shot(page, "library-cited-section-desktop")
    assert only_local(page, server[0]) == []


def test_the_crisis_panel_comes_before_the_answer(page, server):
    ask(page, "I want to kill myself")
    crisis = page.get_by_role("heading", name=re.compile(r"^(Support is here any time|Please get help now)$"))
    crisis.wait_for(timeout=WAIT)
    following = page.get_by_role("heading", name=re.compile(r"^(Answer|Therapists who work with this)$")).first
    following.wait_for(timeout=WAIT)
    page.get_by_role("link", name="Browse the therapist directory").wait_for(timeout=WAIT)
    assert crisis.bounding_box()["y"] < following.bounding_box()["y"]
    assert page.locator('a[href="tel:988"]').count() >= 1 and page.locator('a[href="tel:911"]').count() >= 1
    shot(page, "ask-crisis-desktop")


def test_keyboard_only_asking_and_the_clinician_view(page, server):
    page.get_by_label("Your question").focus()
    page.keyboard.type("What is transference?")
    page.keyboard.press("Enter")  # submits the form, no mouse needed
    page.get_by_role("heading", name="Answer").wait_for(timeout=WAIT)
    page.get_by_text("Clinician view", exact=True).click()
    page.get_by_role("button", name="Download as Markdown").wait_for(timeout=WAIT)
    # Waits, not counts: under load the clinician view may still be drawing when the button appears.
    page.get_by_text(re.compile(r"dense_score [0-9.]+ · bm25_score")).first.wait_for(timeout=WAIT)
    citation = re.compile(r"In Psychoeducation library\. Retrieved from /library\?doc=")
    page.get_by_text(citation).first.wait_for(timeout=WAIT)
    shot(page, "ask-clinician-view-desktop")


@pytest.mark.parametrize("page", [(390, 844)], indirect=True, ids=["phone"])
def test_pages_at_phone_width(page, server):
    ask(page, "What is transference?")
    page.get_by_role("heading", name="Answer").wait_for(timeout=WAIT)
    page.get_by_role("link", name="Browse the therapist directory").wait_for(timeout=WAIT)
    shot(page, "ask-answer-phone")
    for path, name, ready in [
        ("/library", "library-phone", "Library"),
        ("/therapists?id=amara-okafor", "therapist-profile-phone", "Amara Okafor, RP"),
        ("/about", "about-phone", "About this library"),
    ]:
        page.goto(server[0] + path)
        page.get_by_role("heading", name=ready).first.wait_for(timeout=WAIT)
        shot(page, name)
    assert only_local(page, server[0]) == []


def test_other_pages_at_desktop_width(page, server):
    for path, name, ready in [
        ("/therapists", "therapists-desktop", "Therapists"),
        ("/library?topic=grief-and-loss", "library-topic-desktop", "Library"),
    ]:
        page.goto(server[0] + path)
        page.get_by_role("heading", name=ready).first.wait_for(timeout=WAIT)
        shot(page, name)
    assert only_local(page, server[0]) == []


def test_a_question_leaves_no_trace_in_the_url_logs_or_files(page, server):
    since = time.time() - 1
    canary = f"canary{uuid.uuid4().hex}"
    ask(page, f"what is transference {canary}")
    page.get_by_role("heading", name="Answer").wait_for(timeout=WAIT)
    leaked_to_url = canary in page.url
    assert not leaked_to_url
    leaks = files_containing(canary, privacy_roots(server[1]), since)
    assert leaks == [], "the question was written to these files"


def test_bench_app_times_a_cold_server_to_the_first_answer(app_index, chromium):
    from kb.evaluation.bench import bench_app

    report = bench_app(app_index, timeout=WAIT / 1000, browser=chromium)
    assert "skipped" not in report, report
    assert 0 < report["server_up_s"] < report["page_ready_s"] < report["cold_start_to_first_answer_s"]
    assert report["warm_answer_in_browser_s"] > 0
    floor = [report[f"floor_streamlit_alone_{k}"] for k in ("server_up_s", "page_ready_s", "first_answer_s")]
    assert 0 < floor[0] < floor[1] < floor[2], "the floor is timed the same way, in the same run"
