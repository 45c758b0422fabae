"""arXiv as a keyless literature provider: the public Atom API (`export.arxiv.org/api/query`)
over httpx, under the one call policy and the endpoint's breaker (the `arxiv` package's client
has no timeout and its own retry loop, hence httpx). One result per paper: title with first
author and year, the abstract page, the abstract as snippet — untrusted text, cleaned by the
researcher like every provider's."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import httpx

from trainlab.agents.resilience import (
    Breaker,
    CallPolicy,
    GuardedClient,
    call_with_retries,
    http_outage,
    origin_of,
)
from trainlab.research.search import MAX_RESULTS, SearchResult

ARXIV_API = "https://export.arxiv.org/api/query"
CATEGORIES = "(cat:cs.LG OR cat:cs.CV OR cat:stat.ML OR cat:cs.NE)"
MAX_BYTES = 2_000_000
MAX_TERMS = 6
ATOM = {"atom": "http://www.w3.org/2005/Atom"}
GENERIC = {"image", "classifier", "training", "hyperparameters", "hyperparameter", "tuning"}


def arxiv_query(text: str) -> str:
    """The arXiv `search_query` for a researcher query: its topics (after `:`, split on `;`)
    as quoted phrases OR-ed together, restricted to machine-learning categories."""
    topics = text.split(":", 1)[-1]
    phrases = [re.sub(r"[^\w\s-]", " ", p).strip() for p in topics.split(";")]
    phrases = [" ".join(p.split()) for p in phrases if p and p.lower() not in GENERIC]
    if not phrases:
        phrases = ["hyperparameter tuning"]
    terms = " OR ".join(f'all:"{p}"' for p in phrases[:MAX_TERMS])
    return f"({terms}) AND {CATEGORIES}"


def atom_results(feed: bytes) -> list[SearchResult]:
    """One result per `<entry>` of an arXiv Atom feed (entries without an id are skipped)."""
    root = ET.fromstring(feed)
    results = []
    for entry in root.iterfind("atom:entry", ATOM):
        url = (entry.findtext("atom:id", "", ATOM) or "").strip()
        if not url:
            continue
        title = " ".join((entry.findtext("atom:title", "", ATOM) or "").split())
        authors = [a.findtext("atom:name", "", ATOM) for a in entry.iterfind("atom:author", ATOM)]
        year = (entry.findtext("atom:published", "", ATOM) or "")[:4]
        byline = f"{authors[0]}{' et al.' if len(authors) > 1 else ''}, " if authors else ""
        summary = entry.findtext("atom:summary", "", ATOM) or ""
        results.append(SearchResult(f"{title} ({byline}{year})", url, summary))
    return results


class ArxivSearch:
    """arXiv's public API: no key; the most relevant papers in the ML categories."""

    name = "arxiv"

    def __init__(
        self,
        url: str = ARXIV_API,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        policy: CallPolicy | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self._url, self._transport, self._sleep = url, transport, sleep
        self._policy = policy or CallPolicy()
        self._breaker = breaker or Breaker(origin_of(url))

    def search(self, query: str) -> list[SearchResult]:
        params = {
            "search_query": arxiv_query(query),
            "start": "0",
            "max_results": str(MAX_RESULTS),
            "sortBy": "relevance",
        }
        policy, breaker = self._policy, self._breaker
        with GuardedClient(breaker, timeout=policy.timeout(), transport=self._transport) as client:

            def get() -> bytes:
                response = client.get(self._url, params=params)
                response.raise_for_status()
                if len(response.content) > MAX_BYTES:
                    raise ValueError(f"arXiv answer of {len(response.content)} bytes is too big")
                return response.content

            feed = call_with_retries(get, policy, breaker, http_outage, self._sleep)
        return atom_results(feed)
