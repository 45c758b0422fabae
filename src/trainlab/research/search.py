"""Web search for the researcher: Gemini's Google Search grounding and Google Programmable
Search (CSE); arXiv lives in `research/arxiv.py`. Every provider follows the one call policy
(`agents/resilience.py`: timeouts, tenacity retries on 429/5xx/transport errors honouring
`Retry-After`, the endpoint's breaker) and raises on anything else; the caller falls back to the
knowledge base. Results are untrusted text: `clean` sanitizes and truncates them."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httplib2
import httpx

from trainlab.agents.resilience import (
    RETRY_STATUS,
    Breaker,
    CallPolicy,
    GuardedClient,
    call_with_retries,
    http_outage,
    origin_of,
)

ATTEMPTS = CallPolicy().attempts  # attempts per search at the default policy
MAX_RESULTS = 8
MAX_CHARS = 600
GROUNDED_PROMPT = (
    "Search the web for practical, well-sourced advice on choosing hyperparameters "
    "(optimizer, learning rate, batch size, weight decay, label smoothing) for this problem: "
    "{query}. Summarize the concrete recommendations."
)


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str


class SearchProvider(Protocol):
    name: str

    def search(self, query: str) -> list[SearchResult]: ...


def _squash(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(
    results: list[SearchResult], sanitize: Callable[[str], str], limit: int = MAX_CHARS
) -> list[SearchResult]:
    """At most MAX_RESULTS results, whitespace-normalized, truncated and sanitized."""
    return [
        SearchResult(
            _squash(sanitize(r.title), 200),
            sanitize(r.url)[:300],
            _squash(sanitize(r.snippet), limit),
        )
        for r in results[:MAX_RESULTS]
    ]


class GeminiGroundedSearch:
    """Gemini `generateContent` with the `google_search` tool (native API, not the OpenAI one)."""

    name = "gemini"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        policy: CallPolicy | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/models/{model.removeprefix('models/')}:generateContent"
        self._key, self._transport, self._sleep = api_key, transport, sleep
        self._policy = policy or CallPolicy()
        self._breaker = breaker or Breaker(origin_of(base_url))

    def search(self, query: str) -> list[SearchResult]:
        body = {
            "contents": [
                {"role": "user", "parts": [{"text": GROUNDED_PROMPT.format(query=query)}]}
            ],
            "tools": [{"google_search": {}}],
        }
        headers = {"x-goog-api-key": self._key}
        policy, breaker = self._policy, self._breaker
        with GuardedClient(breaker, timeout=policy.timeout(), transport=self._transport) as client:

            def post() -> dict[str, Any]:
                response = client.post(self._url, json=body, headers=headers)
                response.raise_for_status()
                return response.json()

            payload = call_with_retries(post, policy, breaker, http_outage, self._sleep)
        return grounded_results(payload)


def grounded_results(payload: dict[str, Any]) -> list[SearchResult]:
    """One result per grounding source, its snippet the answer segments that source supports."""
    candidate = (payload.get("candidates") or [{}])[0]
    answer = " ".join(p.get("text", "") for p in candidate.get("content", {}).get("parts", []))
    meta = candidate.get("groundingMetadata") or {}
    sources = [chunk.get("web", {}) for chunk in meta.get("groundingChunks", [])]
    supported: dict[int, list[str]] = {i: [] for i in range(len(sources))}
    for support in meta.get("groundingSupports", []):
        for i in support.get("groundingChunkIndices", []):
            supported.get(i, []).append(support.get("segment", {}).get("text", ""))
    return [
        SearchResult(web.get("title", ""), web.get("uri", ""), " ".join(supported[i]) or answer)
        for i, web in enumerate(sources)
    ]


def _google_client() -> Any:
    """google-api-python-client, imported when CSE is used: its google.api_core warns on import
    (a FutureWarning while grpcio < 1.83, which langgraph-cli[inmem] pins) — filtered here, so
    no other command prints it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core")
        import googleapiclient.discovery
        import googleapiclient.errors
    return googleapiclient


def _cse_outage(exc: BaseException) -> bool:
    if isinstance(exc, _google_client().errors.HttpError):
        return exc.resp.status in RETRY_STATUS
    return isinstance(exc, (OSError, httplib2.HttpLib2Error))


class CSESearch:
    """Google Programmable Search through google-api-python-client (`customsearch` v1)."""

    name = "cse"
    origin = "https://customsearch.googleapis.com"  # the discovery document's rootUrl

    def __init__(
        self,
        api_key: str,
        engine_id: str,
        http: httplib2.Http | None = None,
        sleep: Callable[[float], None] = time.sleep,
        policy: CallPolicy | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self._key, self._cx, self._http, self._sleep = api_key, engine_id, http, sleep
        self._policy = policy or CallPolicy()
        self._breaker = breaker or Breaker(self.origin)

    def search(self, query: str) -> list[SearchResult]:
        service = _google_client().discovery.build(
            "customsearch",
            "v1",
            developerKey=self._key,
            http=self._http or httplib2.Http(timeout=self._policy.read_s),
            static_discovery=True,
            cache_discovery=False,
        )
        request = service.cse().list(q=query, cx=self._cx, num=MAX_RESULTS)
        breaker = self._breaker
        response = call_with_retries(
            lambda: breaker.guard(request.execute, _cse_outage),
            self._policy,
            breaker,
            _cse_outage,
            self._sleep,
        )
        return [
            SearchResult(item.get("title", ""), item.get("link", ""), item.get("snippet", ""))
            for item in response.get("items", [])
        ]
