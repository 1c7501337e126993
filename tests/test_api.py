"""The JSON API (/api/v1) with Starlette's TestClient over the tiny corpus and the fake embedder: the CLI's JSON
contract against the committed schemas, the limits, CORS, and errors that never quote the question."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jsonschema
import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.config import Settings
from kb.index.build import build_index
from kb.knowledge_base import KnowledgeBase
from kb.web import server
from kb.web.feedback import FeedbackStore
from kb.web.schemas import FOLDER, RESPONSES, openapi_document, response_schema

from conftest import THERAPIST as ROW

SECRET = "zebracanary"  # a word no article contains: it must never come back in an error
THERAPIST = {
    **ROW,
    "bio": "Sam works with adults who feel stuck in the same patterns, and with sleep.",
    "languages": ["English", "French"],
}


@pytest.fixture
def site(settings: Settings, embedder, tmp_path: Path) -> Settings:
    (settings.corpus / "therapists.yaml").write_text(
        yaml.safe_dump({"sample_data": True, "directory_url": "https://example.org/t", "therapists": [THERAPIST]}),
        encoding="utf-8",
    )
    build_index(settings, embedder)
    return settings.replace(feedback_db=tmp_path / "private" / "feedback.sqlite", api_rate_limit=1000)


def make_client(settings: Settings, embedder) -> TestClient:
    kb = KnowledgeBase(settings, embedder)
    return TestClient(Starlette(routes=server.routes(settings, lambda: kb)))


@pytest.fixture
def client(site: Settings, embedder) -> TestClient:
    return make_client(site, embedder)


def valid(name: str, body: dict) -> dict:
    jsonschema.validate(body, response_schema(name), cls=jsonschema.Draft202012Validator)
    return body


def test_every_committed_schema_is_a_valid_json_schema_and_in_the_openapi_document():
    names = {p.stem for p in FOLDER.glob("*.json")}
    assert names == set(RESPONSES)
    for name in names:
        jsonschema.Draft202012Validator.check_schema(response_schema(name))
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    assert set(document["components"]["schemas"]) == names
    assert {
        "/api/v1/ask",
        "/api/v1/search",
        "/api/v1/therapists",
        "/api/v1/articles/{doc_id}",
        "/api/v1/health",
        "/api/v1/feedback",
    } <= set(document["paths"])


def test_health_and_openapi_are_served(client):
    health = valid("health", client.get("/api/v1/health").json())
    assert health["documents"] == 3 and health["model"] == "hashing-64"
    assert client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/ask"]["post"]["requestBody"]


def test_ask_returns_the_cli_answer_json_checked_against_the_committed_schema(client, site, embedder):
    reply = client.post("/api/v1/ask", json={"question": "What is transference in everyday life?"})
    assert reply.status_code == 200
    body = valid("ask", reply.json())
    assert body["api_version"] == "v1"
    expected = KnowledgeBase(site, embedder).ask("What is transference in everyday life?").to_json()
    assert {k: v for k, v in body.items() if k != "api_version"} == json.loads(json.dumps(expected))
    assert body["citations"] and body["citations"][0]["doc_id"] == "transference-basics"
    assert "set-cookie" not in reply.headers


def test_ask_with_filters_and_a_crisis_question(client):
    body = valid(
        "ask",
        client.post(
            "/api/v1/ask",
            json={"question": "I want to kill myself", "filters": {"language": "French", "accepting": True}},
        ).json(),
    )
    assert body["crisis"]["detected"] is True
    assert any(r["action"] for r in body["crisis"]["resources"])


def test_search_returns_the_cli_search_json(client):
    body = valid("search", client.post("/api/v1/search", json={"query": "dreams and sleep", "k": 2}).json())
    assert len(body["results"]) == 2 and body["results"][0]["doc_id"] == "sleep-and-dreams"
    only = client.post("/api/v1/search", json={"query": "anger", "audience": "public", "mode": "bm25"}).json()
    assert all(r["doc_id"] != "anger-for-clinicians" for r in valid("search", only)["results"])


def test_therapists_takes_the_cli_filters_as_query_parameters(client):
    reply = client.get("/api/v1/therapists", params={"language": "French", "accepting": "true"})
    body = valid("therapists", reply.json())
    assert [t["id"] for t in body["therapists"]] == ["sam-lee"] and body["sample_data"] is True
    assert client.get("/api/v1/therapists", params={"language": "Cree"}).json()["therapists"] == []
    assert client.get("/api/v1/therapists", params={"max_fee": "cheap"}).status_code == 400
    assert client.get("/api/v1/therapists", params={"topic": "astrology"}).status_code == 400


def test_an_article_by_id_and_a_missing_one(client):
    body = valid("article", client.get("/api/v1/articles/sleep-and-dreams").json())
    assert body["title"] == "Sleep and dreams" and "Dreams" in body["text"] and body["topics"] == ["sleep"]
    assert body["url"] == "/library?doc=sleep-and-dreams"
    missing = client.get("/api/v1/articles/no-such-thing")
    assert missing.status_code == 404 and valid("error", missing.json())


def test_questions_are_refused_in_the_url(client):
    assert client.get("/api/v1/ask", params={"question": "what is transference"}).status_code == 405


@pytest.mark.parametrize(
    "content, headers, status",
    [
        (b'{"question": "' + SECRET.encode() + b'"', {"Content-Type": "application/json"}, 400),  # bad JSON
        (b'["' + SECRET.encode() + b'"]', {"Content-Type": "application/json"}, 400),  # not an object
        (json.dumps({"question": SECRET}).encode(), {"Content-Type": "text/plain"}, 415),  # a form post from elsewhere
        (json.dumps({"question": SECRET * 2000}).encode(), {"Content-Type": "application/json"}, 413),
        (json.dumps({"question": SECRET + " x" * 600}).encode(), {"Content-Type": "application/json"}, 400),  # too long
        (json.dumps({"question": "   "}).encode(), {"Content-Type": "application/json"}, 400),
        (json.dumps({"question": SECRET, "audience": "martians"}).encode(), {"Content-Type": "application/json"}, 400),
        (
            json.dumps({"question": SECRET, "filters": {"shoe_size": 9}}).encode(),
            {"Content-Type": "application/json"},
            400,
        ),
    ],
    ids=["bad-json", "not-an-object", "wrong-type", "too-large", "too-long", "empty", "bad-audience", "bad-filter"],
)
def test_bad_requests_get_one_line_that_never_quotes_the_question(client, content, headers, status):
    reply = client.post("/api/v1/ask", content=content, headers=headers)
    assert reply.status_code == status
    body = valid("error", reply.json())
    assert "\n" not in body["error"] and body["error"]
    assert SECRET not in reply.text


def test_a_body_larger_than_the_limit_is_refused_even_without_a_content_length(client):
    def chunks():
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 1024
        yield b'"}'

    reply = client.post("/api/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


def test_the_rate_limit_is_per_client_and_in_memory(site, embedder):
    client = make_client(site.replace(api_rate_limit=3), embedder)
    codes = [client.post("/api/v1/search", json={"query": "sleep"}).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.post("/api/v1/search", json={"query": "sleep"})
    assert int(limited.headers["retry-after"]) >= 1 and valid("error", limited.json())
    assert client.get("/api/v1/health").status_code == 200  # the health check is not limited


def test_cross_origin_calls_only_from_the_allowed_origins(site, embedder):
    closed = make_client(site, embedder)
    reply = closed.post("/api/v1/search", json={"query": "sleep"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in reply.headers
    assert (
        closed.options(
            "/api/v1/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        ).status_code
        == 403
    )
    opened = make_client(site.replace(cors_origins="https://www.practice.example"), embedder)
    preflight = opened.options(
        "/api/v1/ask", headers={"Origin": "https://www.practice.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://www.practice.example"
    reply = opened.post("/api/v1/search", json={"query": "sleep"}, headers={"Origin": "https://www.practice.example"})
    assert reply.headers["access-control-allow-origin"] == "https://www.practice.example"
    other = opened.post("/api/v1/search", json={"query": "sleep"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_wildcard_or_malformed_origin_setting_is_one_clear_error(site, embedder):
    from kb.errors import InputError

    with pytest.raises(InputError, match="cors_origins"):
        make_client(site.replace(cors_origins="*"), embedder)


def test_feedback_records_only_the_day_kind_cited_chunks_and_thumb(client, site):
    answer = client.post("/api/v1/ask", json={"question": "What is transference in everyday life?"}).json()
    ids = [c["chunk_id"] for c in answer["citations"]]
    reply = client.post(
        "/api/v1/feedback",
        json={
            "kind": "answered",
            "helpful": False,
            "chunk_ids": ids,
            "question": "What is transference in everyday life?",
        },
    )
    assert reply.status_code == 201 and valid("feedback", reply.json())["recorded"] is True
    rows = FeedbackStore(site.feedback_db).feedback()
    assert [(r.kind, r.helpful, r.chunk_ids) for r in rows] == [("answered", False, ids)]
    assert b"transference in everyday" not in site.feedback_db.read_bytes()


def test_feedback_refuses_text_where_chunk_ids_belong(client, site):
    reply = client.post("/api/v1/feedback", json={"kind": "answered", "helpful": True, "chunk_ids": [SECRET]})
    assert reply.status_code == 400 and SECRET not in reply.text
    assert client.post("/api/v1/feedback", json={"kind": "maybe", "helpful": True}).status_code == 400
    assert client.post("/api/v1/feedback", json={"kind": "answered", "helpful": "yes"}).status_code == 400
    assert FeedbackStore(site.feedback_db).feedback() == []


def test_asking_counts_demand_and_the_setting_turns_it_off(site, embedder):
    client = make_client(site, embedder)
    client.post("/api/v1/ask", json={"question": "What is transference in everyday life?"})
    client.post("/api/v1/ask", json={"question": "🙂🙂🙂 ?!"})  # nothing to search for: an abstention
    client.get("/api/v1/therapists")
    counts = {(c.counter, c.key): c.n for c in FeedbackStore(site.feedback_db).demand()}
    assert counts[("topic", "transference-and-relationship")] >= 1
    assert counts[("abstention", "all")] == 1 and counts[("directory", "browse")] == 1
    off = site.replace(feedback_db=site.feedback_db.with_name("off.sqlite"), demand_counts=False)
    make_client(off, embedder).post("/api/v1/ask", json={"question": "What is transference?"})
    assert FeedbackStore(off.feedback_db).demand() == []


def test_the_widget_and_the_practice_page_are_served_with_the_configured_exit_site(site, embedder):
    client = make_client(site.replace(quick_exit_url="https://www.example.ca/weather"), embedder)
    script = client.get("/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert '"https://www.example.ca/weather"' in script.text and "__KB_EXIT_URL__" not in script.text
    assert not any(word in script.text for word in (".innerHTML", "localStorage", "sessionStorage", "document.cookie"))
    assert client.get("/widget.css").headers["content-type"].startswith("text/css")
    page = client.get("/examples/practice-page.html")
    assert page.status_code == 200 and 'src="/widget.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/examples/../app.py").status_code == 404


def test_a_quick_exit_site_that_is_not_a_web_address_is_refused(site, embedder):
    from kb.errors import InputError

    with pytest.raises(InputError, match="quick_exit_url"):
        make_client(site.replace(quick_exit_url="javascript:alert(1)"), embedder)


def test_a_failed_answer_is_one_line_with_the_crisis_lines_and_no_question(site, embedder, monkeypatch, caplog):
    kb = KnowledgeBase(site, embedder)

    def broken(question, *args, **kwargs):
        raise ValueError(f"could not answer {question}")

    monkeypatch.setattr(kb, "ask", broken)
    client = TestClient(Starlette(routes=server.routes(site, lambda: kb)), raise_server_exceptions=False)
    reply = client.post("/api/v1/ask", json={"question": f"I feel hopeless {SECRET}"})
    assert reply.status_code == 500
    body = valid("error", reply.json())
    assert body["resources"] and any("9-8-8" in r["action"] or "988" in r["action"] for r in body["resources"])
    assert SECRET not in reply.text and SECRET not in caplog.text
    assert "ValueError" in caplog.text  # where it failed is logged, never the message


def test_the_lifespan_hook_warms_at_start_while_serving_and_a_failure_does_not_stop_the_server(site, embedder, caplog):
    started, loading = threading.Event(), threading.Event()

    def warm():
        started.set()
        loading.wait(timeout=30)  # still loading while the first request is served

    app = Starlette(
        routes=server.routes(site, lambda: KnowledgeBase(site, embedder)),
        lifespan=server.lifespan(warm),
    )
    with TestClient(app) as client:
        assert started.wait(timeout=10)  # at server start, before any page asked for the library
        assert client.get("/api/v1/health").status_code == 200  # served while warming, not after it
        loading.set()

    def broken():
        raise RuntimeError(f"cannot load {SECRET}")

    with TestClient(Starlette(routes=[], lifespan=server.lifespan(broken))):
        deadline = time.monotonic() + 10
        while "RuntimeError" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text


def test_a_new_build_is_served_on_the_next_request_without_a_restart(site, embedder, monkeypatch):
    from kb.web import views

    monkeypatch.setattr(views, "load_embedder", lambda settings: embedder)
    client = TestClient(Starlette(routes=server.routes(site, lambda: views.shared_knowledge_base(site))))
    assert client.get("/api/v1/articles/grief-notes").status_code == 404
    (site.corpus / "articles" / "grief.md").write_text(
        "---\nid: grief-notes\ntitle: Grief\ntopics: [sleep]\n---\n\n# Grief\n\nGrief comes in waves and changes "
        "over time. Many people find that sleep suffers in the first months.\n",
        encoding="utf-8",
    )
    build_index(site, embedder)
    assert client.get("/api/v1/articles/grief-notes").status_code == 200
    assert client.get("/api/v1/health").json()["documents"] == 4
