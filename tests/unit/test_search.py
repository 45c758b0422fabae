"""Search providers: the real google-api-python-client (HttpMockSequence) and Gemini grounding
over httpx.MockTransport, including 429/5xx retries and results cleaned before any model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpMockSequence

from trainlab.agents.anonymize import Anonymizer
from trainlab.research.search import (
    ATTEMPTS,
    MAX_RESULTS,
    CSESearch,
    GeminiGroundedSearch,
    SearchResult,
    clean,
)

CSE_ITEMS = {
    "items": [
        {"title": "Label smoothing", "link": "https://a.org/ls", "snippet": "use 0.1"},
        {"title": "LR finder", "link": "https://b.org/lr", "snippet": "sweep the rate"},
    ]
}
GROUNDED = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Lower the rate. Add weight decay."}]},
            "groundingMetadata": {
                "groundingChunks": [
                    {"web": {"uri": "https://x.org/1", "title": "x.org"}},
                    {"web": {"uri": "https://y.org/2", "title": "y.org"}},
                ],
                "groundingSupports": [
                    {"segment": {"text": "Lower the rate."}, "groundingChunkIndices": [0]},
                    {"segment": {"text": "Add weight decay."}, "groundingChunkIndices": [0, 1]},
                ],
            },
        }
    ]
}


class RecordingHttp(HttpMockSequence):
    """HttpMockSequence that keeps the URIs it was asked for."""

    def __init__(self, responses):
        super().__init__(responses)
        self.uris: list[str] = []

    def request(self, uri, *args, **kwargs):
        self.uris.append(uri)
        return super().request(uri, *args, **kwargs)


def cse(responses, sleeps=None):
    http = RecordingHttp(responses)
    sleep = (sleeps if sleeps is not None else []).append
    return CSESearch("cse-key", "engine-1", http=http, sleep=sleep), http


def ok(body):
    return ({"status": "200"}, json.dumps(body))


def status(code):
    return ({"status": str(code)}, json.dumps({"error": {"code": code, "message": "no"}}))


def test_cse_returns_items_and_sends_query_engine_and_key():
    provider, http = cse([ok(CSE_ITEMS)])
    results = provider.search("overfitting remedies")
    assert results[0] == SearchResult("Label smoothing", "https://a.org/ls", "use 0.1")
    assert len(results) == 2
    uri = http.uris[0]
    assert "customsearch/v1" in uri and "cx=engine-1" in uri and "key=cse-key" in uri
    assert "q=overfitting+remedies" in uri


@pytest.mark.parametrize("code", [429, 500])
def test_cse_retries_429_and_5xx_with_backoff(code):
    sleeps: list[float] = []
    provider, http = cse([status(code), status(code), ok(CSE_ITEMS)], sleeps)
    assert len(provider.search("q")) == 2
    assert len(http.uris) == 3
    assert sleeps == sorted(sleeps) and sleeps[0] > 0


def test_cse_gives_up_after_the_last_attempt_and_does_not_retry_400():
    provider, http = cse([status(500)] * ATTEMPTS)
    with pytest.raises(HttpError):
        provider.search("q")
    assert len(http.uris) == ATTEMPTS
    provider, http = cse([status(400), ok(CSE_ITEMS)])
    with pytest.raises(HttpError):
        provider.search("q")
    assert len(http.uris) == 1


def gemini(handler, sleeps=None):
    transport = httpx.MockTransport(handler)
    return GeminiGroundedSearch(
        "http://gemini.test/v1beta/", "res-key", "models/gemini-2.5-flash", transport,
        (sleeps if sleeps is not None else []).append,
    )  # fmt: skip


def test_gemini_grounding_request_and_results():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=GROUNDED)

    results = gemini(handler).search("plateau remedies")
    request = seen[0]
    assert request.url.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == "res-key"
    assert "res-key" not in str(request.url)
    body = json.loads(request.content)
    assert body["tools"] == [{"google_search": {}}]
    assert "plateau remedies" in body["contents"][0]["parts"][0]["text"]
    assert [r.url for r in results] == ["https://x.org/1", "https://y.org/2"]
    assert results[0].snippet == "Lower the rate. Add weight decay."
    assert results[1].snippet == "Add weight decay."


def test_gemini_retries_429_then_succeeds_and_raises_on_persistent_500():
    codes = iter([429, 503, 200])
    sleeps: list[float] = []
    handler = lambda r: httpx.Response(c := next(codes), json=GROUNDED if c == 200 else {})  # noqa: E731
    assert len(gemini(handler, sleeps).search("q")) == 2
    assert len(sleeps) == 2
    with pytest.raises(httpx.HTTPStatusError):
        gemini(lambda r: httpx.Response(500, json={})).search("q")


def test_gemini_answer_without_sources_gives_no_results():
    payload = {"candidates": [{"content": {"parts": [{"text": "Just lower it."}]}}]}
    assert gemini(lambda r: httpx.Response(200, json=payload)).search("q") == []


def test_clean_sanitizes_truncates_and_limits_results():
    raw = [SearchResult("ResNet tips\n", "https://c.org/cifar-10", "CIFAR-10 " + "x" * 2000)]
    cleaned = clean(raw * (MAX_RESULTS + 3), Anonymizer(), limit=100)
    assert len(cleaned) == MAX_RESULTS
    first = cleaned[0]
    assert first.title == "[model] tips" and first.url == "https://c.org/[dataset]"
    assert first.snippet.startswith("[dataset] x") and len(first.snippet) == 100


def test_the_lab_imports_google_api_core_only_when_cse_is_used() -> None:
    # google.api_core prints a FutureWarning on import while grpcio < 1.83 (langgraph-api pins
    # it): commands that never use CSE must not import it
    code = "import sys, trainlab.agents.factory; print('google.api_core' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False"]
