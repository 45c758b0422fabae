"""The application graph routes each task to its compiled subgraph."""

from __future__ import annotations

from pathlib import Path

from trainlab.config import LabSettings
from trainlab.graphs.app import build_app_graph, route
from trainlab.lab import LabRuntime
from trainlab.proposals.agents import offline_team
from trainlab.proposals.request import ProposalRequest


def test_router_sends_each_task_to_its_subgraph() -> None:
    compiled = build_app_graph(LabRuntime.offline(LabSettings()), offline_team("test"))
    edges = {(e.source, e.target) for e in compiled.get_graph().edges}
    assert {("__start__", t) for t in ("hpo", "propose", "k1")} <= edges
    assert {route({"task": t}) for t in ("hpo", "propose", "k1")} == {"hpo", "propose", "k1"}
    assert route({}) == "hpo"


def test_a_tiny_propose_task_runs_through_the_app(tmp_path: Path) -> None:
    compiled = build_app_graph(LabRuntime.offline(LabSettings()), offline_team("test"))
    request = ProposalRequest(
        pattern="specialized", agent="systems", question="How does LAMB scale?", out_dir=tmp_path
    )
    out = compiled.invoke(
        {"task": "propose", "proposal_request": request.model_dump(mode="json")},
        {"recursion_limit": 20},
    )
    assert [r["kind"] for r in out["research_proposals"]] == ["answer"]
    assert "trials" not in out or out["trials"] == []


def test_studio_builds_each_named_graph_on_first_use(monkeypatch) -> None:
    from trainlab.graphs import studio

    monkeypatch.setattr("trainlab.agents.factory.environment", lambda env=None: {})
    studio.build.cache_clear()
    assert {"hpo", "propose", "k1"} <= set(studio.app.get_graph().nodes)
    assert studio.STUDIO_SETTINGS.data.dataset == "digits"
    assert studio.build("hpo") is studio.hpo  # built once
    studio.build.cache_clear()
