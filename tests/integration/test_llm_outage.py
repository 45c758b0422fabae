"""LLM outages against local servers with the real ChatOpenAI clients: a black hole (accepts,
never answers) and a closed port. The breaker opens after K failed attempts, later decisions
never touch the server, the console is told once, and the CLI's probe makes the mode line true."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from trainlab.agents.base import RoundView
from trainlab.agents.factory import build_advisors
from trainlab.agents.resilience import CallPolicy, breaker_for
from trainlab.config import LabSettings
from trainlab.state import Analysis

FAST = {
    "TRAINLAB_LLM_TIMEOUT": "0.3",
    "TRAINLAB_LLM_CONNECT_TIMEOUT": "0.3",
    "TRAINLAB_LLM_MAX_RETRIES": "1",
    "TRAINLAB_LLM_BREAKER": "2",
}
FIRST_ROUND = RoundView(1, (), None, None)
OVERFIT = Analysis(
    round=1, flags=["overfitting"], features={}, keywords=["overfitting"], summary="gap grows",
    policy="offline:heuristics",
)  # fmt: skip


class BlackHole:
    """A socket on 127.0.0.1 that accepts every connection and never answers (counted)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.connections.append(self.sock.accept()[0])
            except OSError:
                return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1beta/openai/"

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def black_hole():
    server = BlackHole()
    yield server
    server.close()


def env_for(url: str) -> dict[str, str]:
    return {"GEMINI_API_KEY": "sk-outage-test", "GEMINI_OPENAI_BASE_URL": url, **FAST}


def closed_port_url() -> str:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/"


def test_breaker_opens_after_k_failures_and_later_roles_never_call(black_hole, caplog):
    advisors, mode = build_advisors(LabSettings(), lambda: None, env_for(black_hole.url))
    assert mode.startswith("Agents: LLM")  # no probe: nothing known yet
    with caplog.at_level(logging.WARNING):
        first = advisors.consultant_a.propose(FIRST_ROUND, None)
        assert first.policy.startswith("offline:tpe (fallback: OpenAITimeoutError")
        assert len(black_hole.connections) == 2  # K = 2 attempts, then open
        second = advisors.consultant_b.propose(FIRST_ROUND, first)
        final = advisors.supervisor.finalize(FIRST_ROUND, [first, second])
        note = advisors.researcher.research(OVERFIT)
    assert len(black_hole.connections) == 2  # nothing after the breaker opened
    for policy in (second.policy, final.policy, note.policy):
        assert "(circuit open: http://127.0.0.1:" in policy and "ReadTimeout" in policy
    announced = [r.getMessage() for r in caplog.records if "offline policies" in r.getMessage()]
    assert len(announced) == 1 and "rest of this run" in announced[0]


def test_a_new_run_tries_the_endpoint_again(black_hole):
    env = env_for(black_hole.url)
    advisors, _ = build_advisors(LabSettings(), lambda: None, env)
    advisors.consultant_a.propose(FIRST_ROUND, None)
    assert breaker_for(black_hole.url, CallPolicy.from_env(env)).is_open
    build_advisors(LabSettings(), lambda: None, env)
    assert not breaker_for(black_hole.url, CallPolicy.from_env(env)).is_open


@pytest.mark.parametrize("kind", ["black hole", "closed port"])
def test_the_probe_makes_the_first_line_say_offline(kind, black_hole):
    url = black_hole.url if kind == "black hole" else closed_port_url()
    advisors, mode = build_advisors(LabSettings(), lambda: None, env_for(url), probe_endpoints=True)
    reason = "ReadTimeout" if kind == "black hole" else "ConnectError"
    assert mode.startswith("Agents: offline policies") and "is unreachable" in mode
    assert reason in mode and "a resumed run tries again" in mode
    probes = len(black_hole.connections)
    assert probes == (2 if kind == "black hole" else 0)  # the probe's attempts only
    proposal = advisors.consultant_a.propose(FIRST_ROUND, None)
    assert "(circuit open: " in proposal.policy and len(black_hole.connections) == probes
