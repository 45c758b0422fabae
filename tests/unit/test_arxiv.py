"""The keyless arXiv provider on a recorded response in arXiv's real Atom format (served by
httpx.MockTransport): the request, the parsed results, retries honouring Retry-After, and the
researcher turning the papers into validated, referenced remedies."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from test_llm_policies import OVERFIT, remedy, role_llm, tool

from trainlab.agents.factory import build_advisors
from trainlab.agents.offline import KnowledgeBaseResearcher
from trainlab.agents.roles import LLMResearcher
from trainlab.config import LabSettings
from trainlab.research.arxiv import ArxivSearch, arxiv_query

FEED = (Path(__file__).parents[1] / "fixtures" / "arxiv_overfitting.xml").read_bytes()


def arxiv(handler, sleeps: list[float] | None = None) -> ArxivSearch:
    record = (sleeps if sleeps is not None else []).append
    return ArxivSearch("http://arxiv.test/api/query", httpx.MockTransport(handler), record)


def test_query_keeps_the_topics_and_restricts_to_ml_categories():
    query = arxiv_query("image classifier training hyperparameters: overfitting; label smoothing")
    assert query.startswith('(all:"overfitting" OR all:"label smoothing") AND (cat:cs.LG')
    assert arxiv_query("???").startswith('(all:"hyperparameter tuning")')


def test_search_sends_the_query_and_parses_every_entry():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=FEED, headers={"content-type": "application/atom+xml"})

    results = arxiv(handler).search("image classifier training hyperparameters: overfitting")
    params = seen[0].url.params
    assert seen[0].url.path == "/api/query" and params["max_results"] == "8"
    assert 'all:"overfitting"' in params["search_query"] and params["sortBy"] == "relevance"
    assert [r.url for r in results] == [
        "http://arxiv.org/abs/1711.05101v3",
        "http://arxiv.org/abs/1906.02629v3",
        "http://arxiv.org/abs/1609.04836v2",
    ]
    assert (
        results[0].title == "Decoupled Weight Decay Regularization (Ilya Loshchilov et al., 2017)"
    )
    assert results[2].title.endswith("(Nitish Shirish Keskar, 2016)")
    assert "decoupling the weight decay" in results[0].snippet


def test_a_503_with_retry_after_is_retried_after_that_pause():
    codes = iter([503, 200])
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(codes)
        return httpx.Response(
            code, content=FEED if code == 200 else b"", headers={"retry-after": "2"}
        )

    assert len(arxiv(handler, sleeps).search("q: plateau")) == 3
    assert sleeps == [2.0]


def test_a_400_is_not_retried():
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400, content=b"<feed/>")

    with pytest.raises(httpx.HTTPStatusError):
        arxiv(handler).search("q: x")
    assert len(calls) == 1


def test_researcher_turns_papers_into_sanitized_referenced_remedies():
    provider = arxiv(lambda request: httpx.Response(200, content=FEED))
    reply = tool("RemediesOut", remedies=[remedy(0, weight_decay="*3"), remedy(1, momentum="*2")])
    llm = role_llm([reply])
    note = LLMResearcher(llm, KnowledgeBaseResearcher(), provider).research(OVERFIT)
    assert [r.changes for r in note.remedies] == [{"weight_decay": "*3"}]  # momentum: dropped
    assert note.sources == [
        "Decoupled Weight Decay Regularization (Ilya Loshchilov et al., 2017) — "
        "http://arxiv.org/abs/1711.05101v3"
    ]
    assert note.policy == "llm:fake-model + search:arxiv (1 invalid remedies dropped)"
    prompt = "\n".join(llm.chat.prompts[0])
    assert (
        "CIFAR" not in prompt and "ResNet" not in prompt and "On [dataset] with a [model]" in prompt
    )


@pytest.mark.parametrize(
    ("provider", "env", "expected"),
    [
        ("arxiv", {"OPENAI_API_KEY": "k"}, ArxivSearch),
        ("auto", {"OPENAI_API_KEY": "k"}, None),  # no network unless allowed
        ("auto", {"OPENAI_API_KEY": "k", "TRAINLAB_SEARCH_ARXIV": "1"}, ArxivSearch),
    ],
)
def test_arxiv_is_chosen_when_selected_or_allowed(provider, env, expected):
    advisors, mode = build_advisors(LabSettings(search_provider=provider), lambda: None, env)
    if expected is None:
        assert isinstance(advisors.researcher, KnowledgeBaseResearcher)
        assert "TRAINLAB_SEARCH_ARXIV=1" in mode and "needs a Gemini key" in mode
    else:
        assert isinstance(advisors.researcher.provider, expected)
        assert "research: arXiv" in mode
