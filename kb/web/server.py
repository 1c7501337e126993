"""One process serves the Streamlit app, the JSON API, the widget and the example page (st.App's routes),
and loads the model, index and directory in the lifespan hook, before the first visitor arrives.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from kb.config import Settings
from kb.errors import InputError
from kb.web.api import API

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

WIDGET = Path(__file__).parent / "widget"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = ("practice-page.html", "practice-page.css")  # served as they are; nothing else from there
# The served pages load nothing from elsewhere; the quick exit still works (navigation is not restricted).
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
)
log = logging.getLogger(__name__)


def check_exit_url(url: str) -> str:
    """The quick-exit site must be a plain web address (or about:blank), never a script."""
    if url != "about:blank" and not url.startswith(("https://", "http://")) or any(c in url for c in "\"'<> \\"):
        raise InputError(f"setting 'quick_exit_url': {url!r} is not a web address like https://weather.gc.ca/")
    return url


def widget_routes(settings: Settings) -> list[Route]:
    """/widget.js (with the configured quick-exit site), /widget.css and /examples/practice-page.html."""
    exit_url = check_exit_url(settings.quick_exit_url)
    script = (WIDGET / "widget.js").read_text(encoding="utf-8").replace("__KB_EXIT_URL__", json.dumps(exit_url))
    style = (WIDGET / "widget.css").read_text(encoding="utf-8")
    plain = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    async def widget_js(request: Request) -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8", headers=plain)

    async def widget_css(request: Request) -> Response:
        return Response(style, media_type="text/css; charset=utf-8", headers=plain)

    async def example(request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[-1]
        kind = "text/html" if name.endswith(".html") else "text/css"
        return FileResponse(
            EXAMPLES / name,
            media_type=f"{kind}; charset=utf-8",
            headers={**plain, "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"},
        )

    return [
        Route("/widget.js", widget_js, methods=["GET"]),
        Route("/widget.css", widget_css, methods=["GET"]),
        *(Route(f"/examples/{name}", example, methods=["GET"]) for name in EXAMPLE_FILES),
    ]


def routes(settings: Settings, knowledge_base: Callable[[], KnowledgeBase]) -> list[Route]:
    """Every route served beside the Streamlit app."""
    return API(settings, knowledge_base).routes() + widget_routes(settings)


def send_without_delay() -> None:
    """TCP_NODELAY on every connection the app accepts, so a response is not held back by Nagle's algorithm.

    Streamlit binds its socket as `socket.socket(family)`, whose protocol number is 0, and asyncio sets
    TCP_NODELAY on a connection only when the protocol is IPPROTO_TCP: each response's body then waited
    ~40 ms for the client's delayed ACK of the headers, so every API call took at least 44 ms on loopback.
    asyncio looks this function up for each new connection; ours also accepts protocol 0 (TCP for a stream).
    """
    from asyncio import base_events

    if getattr(getattr(base_events, "_set_nodelay", None), "sends_without_delay", False):
        return

    def set_nodelay(sock: socket.socket) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    set_nodelay.sends_without_delay = True  # type: ignore[attr-defined]
    base_events._set_nodelay = set_nodelay  # type: ignore[attr-defined]


def lifespan(warm: Callable[[], Any]):
    """st.App's lifespan hook: start `warm` (load model, index, directory; answer once) as the server starts.

    The server accepts connections at once, so a first visitor's browser downloads the page's scripts while
    the library loads; a page or API request that needs the library before warming ends waits for it (the
    caches compute each value once). `/_stcore/health` says the process is up; `/api/v1/health` answers
    once the library is loaded (a readiness check)."""

    def run() -> None:
        started = time.perf_counter()
        try:
            warm()
            log.warning("library warm in %.1f s", time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - the pages show the problem; never its message here
            log.error("could not warm the library (%s); the first page will try again", type(exc).__name__)

    @asynccontextmanager
    async def hook(app: Any):
        warming = threading.Thread(target=run, name="warm", daemon=True)
        warming.start()
        yield {"warming": warming}

    return hook
