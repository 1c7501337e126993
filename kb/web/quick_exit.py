"""The "Leave this site quickly" control on every page (GOV.UK's Exit this page pattern, Shift three times too).

Our own constant HTML and script; the only value put in is the neutral site's address from the settings,
checked to be a plain web address and written as a JSON string.
"""

from __future__ import annotations

import json

import streamlit as st

from kb.web.server import check_exit_url

# Blank the page first (the question with it), then replace this page in the history with the neutral site,
# so Back does not return to it. The key listener is installed once per browser tab.
_SCRIPT = """<script>
(function () {
  window.kbExitUrl = %s;
  if (window.kbExitReady) return;
  window.kbExitReady = true;
  function leave() {
    document.querySelectorAll("input, textarea").forEach(function (box) { box.value = ""; });
    document.title = "";
    document.body.textContent = "";
    window.location.replace(window.kbExitUrl);
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest(".kb-exit")) leave();
  }, true);
  var shifts = [];
  document.addEventListener("keyup", function (event) {
    if (event.key !== "Shift") { shifts = []; return; }
    var now = Date.now();
    shifts = shifts.filter(function (t) { return now - t < 2000; });
    shifts.push(now);
    if (shifts.length >= 3) leave();
  }, true);
})();
</script>"""
_STYLE = """<style>
.kb-exit-bar {display: flex; flex-wrap: wrap; align-items: center; justify-content: flex-end; gap: 0.25rem 0.75rem;}
.kb-exit {min-height: 44px; min-width: 44px; padding: 0.4rem 1rem; font: inherit; font-weight: 700; color: #fff;
          background: #b10e1e; border: 2px solid #b10e1e; border-radius: 0.5rem; cursor: pointer;}
.kb-exit:hover {background: #8a0b17;}
.kb-exit:focus-visible {outline: 3px solid #ffbf47; outline-offset: 2px;}
.kb-exit-large {width: 100%; font-size: 1.15rem;}
.kb-exit-hint {font-size: 0.875rem;}
</style>"""


def quick_exit(url: str) -> None:
    """The control at the top of the page, with the Shift-three-times shortcut."""
    st.html(
        _STYLE + '<div class="kb-exit-bar"><button type="button" class="kb-exit">Leave this site quickly</button>'
        '<span class="kb-exit-hint">Or press Shift three times.</span></div>'
        + _SCRIPT
        % json.dumps(check_exit_url(url)),
        unsafe_allow_javascript=True,
    )


def prominent_quick_exit() -> None:
    """A large second control inside the crisis panel for violence at home (the top one's script handles it)."""
    st.html(
        _STYLE + "<p>If someone could see this screen, you can leave at once:</p>"
        '<button type="button" class="kb-exit kb-exit-large">Leave this site quickly</button>'
    )
