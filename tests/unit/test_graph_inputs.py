"""What the graphs accept: a narrow input, a run context (Studio's form) and one clear line for
a missing or bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.runtime import Runtime

from trainlab.config import LabSettings
from trainlab.graphs.context import STUDIO_SETTINGS, InputError, LabContext, lab_settings
from trainlab.graphs.hpo import HPONodes
from trainlab.graphs.proposal import ProposalNodes, build_proposal_graph
from trainlab.lab import LabRuntime
from trainlab.proposals.agents import offline_team


def test_the_lab_context_defaults_are_studios_and_its_fields_are_labsettings() -> None:
    schema = LabContext.model_json_schema()["properties"]
    assert schema["epochs"]["description"] == "epochs per trial"
    assert schema["epochs"]["minimum"] == 1
    assert lab_settings(LabContext(), None) == STUDIO_SETTINGS


def test_the_settings_input_overrides_the_context_field_by_field() -> None:
    settings = lab_settings({"rounds": 3, "epochs": 4}, {"train": {"epochs": 1}})
    assert (settings.rounds, settings.train.epochs) == (3, 1)
    assert settings.train.model_width == STUDIO_SETTINGS.train.model_width  # not replaced


def test_a_bad_settings_input_is_one_line_naming_the_field() -> None:
    with pytest.raises(InputError, match=r"^settings: train\.epochs: .*greater than or equal"):
        lab_settings(None, {"train": {"epochs": 0}})


def test_a_bad_context_is_one_line_naming_the_field() -> None:
    with pytest.raises(InputError, match=r"^context: dataset: Input should be"):
        LabContext(dataset="imagenet")


def test_a_run_with_neither_context_nor_settings_uses_the_graphs_own_nodes() -> None:
    nodes = HPONodes(LabRuntime.offline(LabSettings()))
    assert nodes.for_run({}, None) is nodes


def test_a_run_with_a_context_gets_nodes_for_its_settings_found_by_its_folder() -> None:
    nodes = HPONodes(LabRuntime.offline(LabSettings()))
    own = nodes.for_run({"run_dir": "runs/x"}, LabContext(rounds=5, offline=True))
    assert own is not nodes and own.settings.rounds == 5
    assert nodes.for_run({"run_dir": "runs/x"}, None) is own


def test_the_routers_read_the_runs_own_settings() -> None:
    nodes = HPONodes(LabRuntime.offline(LabSettings(consult_turns=1)))
    state = {"proposals": [{"round": 1, "author": "consultant_b"}], "round": 1, "run_dir": "r"}
    route = nodes.per_run("after_consultation")
    assert route(state, Runtime(context=None)) == "supervisor"
    own = LabContext(consult_turns=2, offline=True)
    assert route({**state, "run_dir": "s"}, Runtime(context=own)) == "consultant_a"


def test_the_proposal_graph_without_a_topic_says_what_to_give() -> None:
    graph, _ = build_proposal_graph(offline_team("test"))
    with pytest.raises(InputError, match=r'^the proposal graph needs a topic: \{"topic"'):
        graph.invoke({})


def test_a_topic_and_pattern_become_a_request_with_a_new_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    nodes = ProposalNodes(offline_team("test"))
    update = nodes.request(
        {"topic": "How does LAMB scale?", "pattern": "specialized", "agent": "systems"}
    )
    request = update["proposal_request"]
    assert (request["question"], request["agent"]) == ("How does LAMB scale?", "systems")
    out_dir = Path(request["out_dir"])
    assert out_dir.name == "proposals" and out_dir.parent.parent == tmp_path / "runs"


def test_an_offline_topic_outside_the_library_is_one_line() -> None:
    nodes = ProposalNodes(offline_team("test"))
    with pytest.raises(InputError, match=r"^topic: no component of the library matches"):
        nodes.request({"topic": "zzzz qqqq", "pattern": "sequential"})
