"""The one call policy and the per-endpoint breaker: settings from the environment, when the
breaker opens, and tenacity retries that honour Retry-After and stop once it is open."""

from __future__ import annotations

import time

import httpx
import pytest

from trainlab.agents.credentials import EnvError, endpoint_for
from trainlab.agents.factory import build_advisors, chat_model
from trainlab.agents.resilience import (
    Breaker,
    CallPolicy,
    CircuitOpen,
    GuardedClient,
    call_with_retries,
    http_outage,
    retry_after_s,
)
from trainlab.config import LabSettings
from trainlab.proposals.agents import build_team


def status_error(code: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", "http://x.test/")
    response = httpx.Response(code, headers=headers or {}, request=request)
    return httpx.HTTPStatusError("boom", request=request, response=response)


def test_policy_defaults_bound_a_black_hole_and_read_the_environment():
    default = CallPolicy()
    assert default.read_s <= default.outage_s and default.attempts == 3
    policy = CallPolicy.from_env({"TRAINLAB_LLM_TIMEOUT": "7", "TRAINLAB_LLM_MAX_RETRIES": "0"})
    assert (policy.timeout().read, policy.timeout().connect, policy.attempts) == (7.0, 5.0, 1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRAINLAB_LLM_TIMEOUT", "0"),
        ("TRAINLAB_LLM_MAX_RETRIES", "-1"),
        ("TRAINLAB_LLM_BREAKER", "x"),
    ],
)
def test_a_bad_policy_variable_is_an_env_error_naming_it(name, value):
    with pytest.raises(EnvError, match=name):
        CallPolicy.from_env({name: value})


def test_breaker_opens_after_k_consecutive_failures_only():
    said: list[str] = []
    breaker = Breaker("http://x.test", failures_to_open=2, announce=said.append)
    breaker.failure("HTTP 503", time.monotonic())
    breaker.success()  # the streak is broken
    breaker.failure("HTTP 503", time.monotonic())
    assert not breaker.is_open
    breaker.failure("HTTP 503", time.monotonic())
    assert breaker.is_open and "failed 2× in a row" in breaker.reason
    breaker.failure("HTTP 503", time.monotonic())
    assert len(said) == 1 and "rest of this run" in said[0]
    with pytest.raises(CircuitOpen):
        breaker.check()


def test_breaker_opens_when_failures_last_the_outage_budget():
    breaker = Breaker("http://x.test", failures_to_open=5, outage_s=60, announce=lambda _: None)
    breaker.failure("ReadTimeout: timed out", time.monotonic() - 61)
    assert breaker.is_open


def test_retry_after_is_read_in_seconds_and_milliseconds():
    assert retry_after_s(status_error(429, {"retry-after": "3"})) == 3.0
    assert retry_after_s(status_error(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after_s(status_error(503)) is None and retry_after_s(ValueError()) is None


def test_retries_honour_retry_after_capped_and_stop_once_the_breaker_opens():
    sleeps: list[float] = []
    errors = iter([status_error(429, {"retry-after": "999"}), None])

    def flaky() -> str:
        if error := next(errors):
            raise error
        return "ok"

    policy = CallPolicy(max_wait_s=4.0)
    breaker = Breaker("http://x.test")
    assert call_with_retries(flaky, policy, breaker, http_outage, sleeps.append) == "ok"
    assert sleeps == [4.0]
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        breaker.trip("down", announce=False)
        raise status_error(503)

    with pytest.raises(httpx.HTTPStatusError):
        call_with_retries(failing, policy, breaker, http_outage, sleeps.append)
    assert len(calls) == 1


def test_guarded_client_records_5xx_and_refuses_once_open():
    breaker = Breaker("http://x.test", failures_to_open=2, announce=lambda _: None)
    transport = httpx.MockTransport(lambda request: httpx.Response(502))
    with GuardedClient(breaker, transport=transport) as client:
        client.get("http://x.test/a")
        client.get("http://x.test/a")
        with pytest.raises(CircuitOpen):
            client.get("http://x.test/a")
    assert breaker.reason.endswith("(last: HTTP 502)")


def test_chat_client_uses_the_policy_and_the_endpoints_breaker():
    env = {"OPENAI_API_KEY": "k", "TRAINLAB_LLM_TIMEOUT": "9", "TRAINLAB_LLM_MAX_RETRIES": "4"}
    chat = chat_model("m", endpoint_for("gen_a", env), env)
    assert chat.max_retries == 4 and chat.request_timeout.read == 9.0
    assert isinstance(chat.http_client, GuardedClient)
    assert chat.http_client.breaker.origin == "https://api.openai.com"


def test_grounded_search_follows_the_same_policy_and_breaker_as_the_chat():
    env = {"GEMINI_API_KEY": "k", "TRAINLAB_LLM_TIMEOUT": "7"}
    advisors, _ = build_advisors(LabSettings(), lambda: None, env)
    search = advisors.researcher.provider
    assert search._policy == CallPolicy.from_env(env) and search._policy.read_s == 7.0
    assert search._breaker is advisors.researcher.llm.breaker  # one origin, one breaker


def test_proposal_team_shares_the_labs_client_setup_policy_and_breaker():
    env = {"GEMINI_API_KEY": "k", "TRAINLAB_LLM_MAX_RETRIES": "1"}
    advisors, _ = build_advisors(LabSettings(), lambda: None, env)
    team = build_team(model="m", run_dir=lambda: None, env=env)
    llms = [agent.llm for agent in team.agents.values()] + [team.critic.llm]
    assert {id(llm.breaker) for llm in llms} == {id(advisors.analyst.llm.breaker)}
    assert all(llm.chat.max_retries == 1 for llm in llms)
    assert all(isinstance(llm.chat.http_client, GuardedClient) for llm in llms)
