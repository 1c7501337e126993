"""The JSON API, /api/v1, served by Starlette beside the Streamlit app: the CLI's JSON contract over HTTP.

Questions travel only in POST bodies, never in a URL. Errors are one line and never quote the question.
Limits: body size (413), JSON (400), content type (415), question length (400), a per-client rate limit
kept in memory (429), and cross-origin calls only from the origins the settings allow (none by default).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kb import __version__
from kb.config import Settings
from kb.errors import IndexMismatchError, InputError, KBError
from kb.web.feedback import FeedbackStore

if TYPE_CHECKING:
    from kb.directory.matching import TherapistFilters
    from kb.knowledge_base import KnowledgeBase

VERSION = "v1"
PREFIX = f"/api/{VERSION}"
AUDIENCES = (None, "public", "clinician")
MODES = ("hybrid", "dense", "bm25")
log = logging.getLogger(__name__)
# The answering, directory and search modules are imported where a request first needs them, not here:
# the app's server imports this module before it starts listening.


@cache
def _filter_fields() -> dict[str, Any]:
    from kb.directory.matching import TherapistFilters

    return {f.name: f.type for f in fields(TherapistFilters)}


class APIError(Exception):
    """An HTTP error with a one-line message that never contains visitor text."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class RateLimiter:
    """At most `per_minute` requests per client address in any 60 s; addresses live in memory only."""

    def __init__(self, per_minute: int, window: float = 60.0):
        self.per_minute, self.window = per_minute, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 10_000:  # forget idle clients, so the table stays small
                self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < self.window}
            times = self._seen.setdefault(client, deque())
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= self.per_minute:
                return self.window - (now - times[0])
            times.append(now)
            return 0.0


def allowed_origins(settings: Settings) -> set[str]:
    origins = {o.strip().rstrip("/") for o in settings.cors_origins.split(",") if o.strip()}
    for origin in origins:
        if not origin.startswith(("https://", "http://")) or "*" in origin:
            raise InputError(f"setting 'cors_origins': {origin!r} is not an origin like https://www.example.org")
    return origins


class API:
    """The /api/v1 routes over one KnowledgeBase provider (the live build) and the feedback file."""

    def __init__(self, settings: Settings, knowledge_base: Callable[[], KnowledgeBase]):
        self.settings = settings
        self.knowledge_base = knowledge_base
        self.store = FeedbackStore(settings.feedback_db)
        self.origins = allowed_origins(settings)
        self.limiter = RateLimiter(settings.api_rate_limit)

    # --- plumbing -----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        def route(path: str, handler: Callable[[Request], Awaitable[Any]], method: str, limited: bool = True):
            return Route(PREFIX + path, self._endpoint(handler, limited), methods=[method, "OPTIONS"])

        return [
            route("/health", self.health, "GET", limited=False),
            route("/openapi.json", self.openapi, "GET", limited=False),
            route("/ask", self.ask, "POST"),
            route("/search", self.search, "POST"),
            route("/feedback", self.feedback, "POST"),
            route("/therapists", self.therapists, "GET"),
            route("/articles/{doc_id}", self.article, "GET"),
        ]

    def _endpoint(self, handler: Callable[[Request], Awaitable[Any]], limited: bool):
        async def endpoint(request: Request) -> Response:
            origin = request.headers.get("origin", "").rstrip("/")
            cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if origin in self.origins else {}
            if request.method == "OPTIONS":
                if not cors:
                    return self._error(APIError(403, "this origin may not call the API (see cors_origins)"))
                return Response(
                    status_code=204,
                    headers={
                        **cors,
                        "Access-Control-Allow-Methods": "GET, POST",
                        "Access-Control-Allow-Headers": "Content-Type",
                        "Access-Control-Max-Age": "600",
                    },
                )
            try:
                if limited:
                    wait = self.limiter.allow(request.client.host if request.client else "")
                    if wait:
                        raise APIError(
                            429,
                            "too many requests from this address; wait a minute and try again",
                            {"Retry-After": str(int(wait) + 1)},
                        )
                status, body = await handler(request)
            except APIError as exc:
                return self._error(exc, cors)
            except IndexMismatchError as exc:
                return self._error(APIError(503, str(exc)), cors)
            except Exception as exc:  # noqa: BLE001 - one line for the caller; the log gets no message text
                log.error(
                    "%s in %s:\n%s",
                    type(exc).__name__,
                    request.url.path,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                failed = APIError(500, "something went wrong; please try again")
                return self._error(failed, cors, self._crisis_lines() if request.url.path.endswith("/ask") else None)
            return JSONResponse({"api_version": VERSION, **body}, status_code=status, headers=cors)

        return endpoint

    @staticmethod
    def _error(exc: APIError, cors: dict[str, str] | None = None, resources: list | None = None) -> Response:
        body: dict[str, Any] = {"api_version": VERSION, "error": exc.message}
        if resources:
            body["resources"] = resources
        return JSONResponse(body, status_code=exc.status, headers={**(cors or {}), **exc.headers})

    def _crisis_lines(self) -> list[dict[str, str]]:
        """Fail-safe: when answering fails, the crisis lines still reach the visitor with the error."""
        try:
            from kb.safety import crisis_resources

            return [r.to_json() for r in crisis_resources(self.settings.region)]
        except Exception:  # noqa: BLE001 - the error line goes out either way
            return []

    async def _json(self, request: Request) -> dict[str, Any]:
        """The POST body as a JSON object, within the size limit; else 413, 415 or 400."""
        limit = self.settings.api_max_body
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise APIError(413, f"the request body is larger than {limit} bytes")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise APIError(415, "send the body as JSON with Content-Type: application/json")
        data = bytearray()
        async for part in request.stream():
            data.extend(part)
            if len(data) > limit:
                raise APIError(413, f"the request body is larger than {limit} bytes")
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise APIError(400, "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise APIError(400, "the request body must be a JSON object")
        return body

    @staticmethod
    def _field(body: dict[str, Any], name: str, kind: type, default: Any = None) -> Any:
        value = body.get(name, default)
        wrong = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
        if value is not None and wrong:
            raise APIError(400, f"field '{name}' has the wrong type")
        return value

    def _text(self, body: dict[str, Any], name: str) -> str:
        text = self._field(body, name, str)
        if not text or not text.strip():
            raise APIError(400, f"field '{name}' is missing or empty")
        if len(text) > self.settings.api_max_question:
            raise APIError(400, f"field '{name}' is longer than {self.settings.api_max_question} characters")
        return text

    def _list_of_text(self, body: dict[str, Any], name: str) -> list[str]:
        values = self._field(body, name, list, [])
        if not all(isinstance(v, str) and len(v) <= 200 for v in values) or len(values) > 20:
            raise APIError(400, f"field '{name}' must be a list of at most 20 short strings")
        return values

    def _choice(self, body: dict[str, Any], name: str, choices: tuple, default: Any = None) -> Any:
        value = body.get(name, default)
        if value not in choices:
            raise APIError(400, f"field '{name}' must be one of {', '.join(str(c) for c in choices if c)}")
        return value

    def _filters(self, raw: Any) -> TherapistFilters:
        """TherapistFilters from a JSON object or query parameters (the CLI's filters)."""
        if not isinstance(raw, dict):
            raise APIError(400, "field 'filters' must be an object")
        from kb.directory.matching import TherapistFilters

        values: dict[str, Any] = {}
        for name, value in raw.items():
            kind = _filter_fields().get(name.replace("-", "_"))
            if kind is None:
                raise APIError(400, f"unknown filter '{name[:40]}'")
            name = name.replace("-", "_")
            if "bool" in str(kind):
                if isinstance(value, str):
                    value = value.lower() in ("1", "true", "yes", "on")
                if not isinstance(value, bool):
                    raise APIError(400, f"filter '{name}' must be true or false")
            elif "int" in str(kind):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise APIError(400, f"filter '{name}' must be a whole number") from None
            elif not isinstance(value, str) or len(value) > 60:
                raise APIError(400, f"filter '{name}' must be a short string")
            values[name] = value
        return TherapistFilters(**values)

    def _kb(self) -> KnowledgeBase:
        try:
            return self.knowledge_base()
        except KBError as exc:
            raise APIError(503, f"the library is not ready: {exc}") from None

    def _count(self, counter: str, key: str = "all") -> None:
        if self.settings.demand_counts:
            self.store.count(counter, key)

    # --- endpoints ----------------------------------------------------------------------------------

    async def health(self, request: Request) -> tuple[int, dict[str, Any]]:
        kb = await run_in_threadpool(self._kb)
        return 200, {
            "status": "ok",
            "version": __version__,
            "documents": len(kb.index.documents),
            "chunks": len(kb.index.chunks),
            "model": kb.embedder.name,
        }

    async def openapi(self, request: Request) -> tuple[int, dict[str, Any]]:
        from kb.web.schemas import openapi_document

        return 200, openapi_document()

    async def ask(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = await self._json(request)
        question = self._text(body, "question")
        topics = self._list_of_text(body, "topics")
        audience = self._choice(body, "audience", AUDIENCES)
        filters = self._filters(self._field(body, "filters", dict, {}))
        kb = await run_in_threadpool(self._kb)
        try:
            answer = await run_in_threadpool(kb.ask, question, topics or None, audience, filters)
        except InputError:
            raise APIError(400, "the question has nothing to answer; send a few words") from None
        if self.settings.demand_counts:
            await run_in_threadpool(self.store.count_answer, answer, set(kb.topics.ids))
            if answer.therapists:
                await run_in_threadpool(self.store.count, "directory", "ask")
        return 200, answer.to_json()

    async def search(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = await self._json(request)
        query = self._text(body, "query")
        k = self._field(body, "k", int, 5)
        if not 1 <= k <= 50:
            raise APIError(400, "field 'k' must be between 1 and 50")
        mode = self._choice(body, "mode", MODES, "hybrid")
        topics = self._list_of_text(body, "topics")
        audience = self._choice(body, "audience", AUDIENCES)
        kb = await run_in_threadpool(self._kb)
        try:
            hits = await run_in_threadpool(lambda: kb.search(query, k=k, mode=mode, topics=topics, audience=audience))
        except InputError:
            raise APIError(400, "the query has nothing to search for; send a few words") from None
        return 200, {"query": query, "results": [h.to_json() for h in hits]}

    async def feedback(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = await self._json(request)
        kind = self._choice(body, "kind", ("answered", "abstained", "crisis"))
        helpful = self._field(body, "helpful", bool)
        if helpful is None:
            raise APIError(400, "field 'helpful' must be true or false")
        chunk_ids = self._list_of_text(body, "chunk_ids")
        kb = await run_in_threadpool(self._kb)
        known = {c.id for c in kb.index.chunks}
        if any(c not in known for c in chunk_ids):
            raise APIError(400, "field 'chunk_ids' must hold chunk ids from an answer's citations")
        try:
            row = await run_in_threadpool(self.store.record_feedback, kind, helpful, chunk_ids)
        except InputError as exc:
            raise APIError(400, str(exc)) from None
        return 201, {"recorded": True, "day": row.day}

    async def therapists(self, request: Request) -> tuple[int, dict[str, Any]]:
        params = dict(request.query_params)
        filters = self._filters(params)
        kb = await run_in_threadpool(self._kb)
        if filters.topic and kb.topics and filters.topic not in kb.topics.ids:
            raise APIError(400, "filter 'topic' is not a topic id")
        from kb.directory.matching import filter_therapists

        found = filter_therapists(kb.directory.therapists, filters)
        await run_in_threadpool(self._count, "directory", "browse")
        return 200, {
            "sample_data": kb.directory.sample_data,
            "directory_url": kb.directory.directory_url,
            "therapists": [asdict(t) for t in found],
        }

    async def article(self, request: Request) -> tuple[int, dict[str, Any]]:
        doc_id = request.path_params["doc_id"]
        kb = await run_in_threadpool(self._kb)
        doc = kb.index.documents.get(doc_id)
        if doc is None:
            raise APIError(404, "no article with this id")
        from kb.retrieval.searcher import article_url

        meta = doc.metadata
        return 200, {
            "id": doc.id,
            "title": doc.title,
            "summary": meta.summary or "",
            "topics": doc.topics,
            "audience": doc.audience,
            "format": doc.format,
            "last_reviewed": meta.last_reviewed or "",
            "reviewed_by": meta.reviewed_by or "",
            "references": list(meta.references or []),
            "url": article_url(doc.id),
            "source_url": meta.url or "",
            "text": doc.text,
        }
