"""The proposal subgraph's message flow per pattern (offline team), and the subgraph inside the
HPO lab: asked once per plateau, validated on the lab's data, recorded in the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainlab import lab
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit
from trainlab.graphs.proposal import ORDER, build_proposal_graph
from trainlab.lab_history import full_state
from trainlab.proposals.agents import Agent, Team, offline_team
from trainlab.proposals.request import Draft
from trainlab.proposals.stagnation import stagnated
from trainlab.runstore import RunFolder, open_checkpointer
from trainlab.state import FinalConfig, TrialSummary


class SpyAgent(Agent):
    """An offline agent that records which sections the draft held when it spoke."""

    def __init__(self, agent: Agent, seen: list[tuple[str, int, list[str]]]) -> None:
        super().__init__(agent.role)
        self.seen = seen

    def contribute(self, draft: Draft):
        self.seen.append((self.role.key, draft.round, sorted(draft.sections)))
        return super().contribute(draft)


def run(pattern: str, tmp_path: Path, **request) -> tuple[dict, list]:
    team, seen = offline_team("test"), []
    spies = {key: SpyAgent(agent, seen) for key, agent in team.agents.items()}
    compiled, _ = build_proposal_graph(Team(spies, team.critic, team.mode))
    fields = {"topic": "faster convergence for small CNNs", "pattern": pattern}
    state = {"proposal_request": {**fields, "out_dir": str(tmp_path), **request}}
    return compiled.invoke(state, {"recursion_limit": 50}), seen


def speakers(out: dict) -> list[tuple[str, int]]:
    return [(m["speaker"], m["round"]) for m in out["proposal_messages"]]


def test_sequential_each_agent_builds_on_the_previous(tmp_path: Path) -> None:
    out, seen = run("sequential", tmp_path)
    assert speakers(out) == [(key, 1) for key in ORDER]
    held = [len(sections) for _, _, sections in seen]
    assert held == sorted(held) and held[0] == 0 and held[-1] > 0
    assert seen[1][2] == sorted(["title", "components", "summary", "benefits", "related_work",
                                 "novelty", "reasoning", "assumptions"])  # fmt: skip
    (record,) = out["research_proposals"]
    assert record["verdict"] == "not validated" and Path(record["markdown_path"]).is_file()


def test_parallel_fans_out_to_all_five_at_once_and_merges(tmp_path: Path) -> None:
    out, seen = run("parallel", tmp_path)
    assert sorted(speakers(out)) == sorted((key, 1) for key in ORDER)
    assert [sections for _, _, sections in seen] == [[]] * 5  # nobody saw another's sections
    proposal = json.loads(Path(out["research_proposals"][0]["json_path"]).read_text())
    assert {a.split(" (")[0] for a in proposal["authors"].values()} == {
        "AI Algorithms", "Systems Design", "Python Engineering", "Training Pipeline",
        "Architecture Design",
    }  # fmt: skip


def test_iterative_runs_n_rounds_each_ending_in_a_critique(tmp_path: Path) -> None:
    out, seen = run("iterative", tmp_path, rounds=3)
    expected = [(who, r) for r in (1, 2, 3) for who in (*ORDER, "critic")]
    assert speakers(out) == expected
    second_round = [sections for key, r, sections in seen if r == 2]
    assert all(len(s) == 14 for s in second_round)  # round 2 revises the whole draft
    proposal = json.loads(Path(out["research_proposals"][0]["json_path"]).read_text())
    assert proposal["review"] == ["no issues: all 7 checklist items hold"]


def test_specialized_asks_one_agent_one_question(tmp_path: Path) -> None:
    out, seen = run("specialized", tmp_path, agent="architecture", question="Is moe worth it?",
                    name="ask-architecture")  # fmt: skip
    assert speakers(out) == [("architecture", 1)] and seen == []
    (record,) = out["research_proposals"]
    assert record["kind"] == "answer"
    assert "about moe" in Path(record["markdown_path"]).read_text()


@pytest.mark.parametrize(
    ("scores", "asked", "k", "due"),
    [
        ([0.5, 0.5, 0.5], [], 2, True),  # best at round 1, two rounds without a new one
        ([0.5, 0.5], [], 2, False),
        ([0.5, 0.6, 0.6, 0.6], [3], 1, False),  # asked already during this plateau
        ([0.5, 0.6, 0.6, 0.6, 0.7, 0.7], [3], 1, True),  # a new best starts a new plateau
        ([0.5, 0.5, 0.5], [], 0, False),  # 0 disables
    ],
)
def test_stagnation_rule(scores, asked, k, due) -> None:
    assert stagnated(scores, asked, k) is due


def flat_trial(runtime: lab.LabRuntime, run_dir: Path, final: FinalConfig) -> TrialSummary:
    """A trial that always scores 0.5: the lab stagnates from round 2 on."""
    folder = lab.trial_dir(run_dir, final.round)
    folder.mkdir(parents=True, exist_ok=True)
    return TrialSummary(
        status="complete", best_val_acc=0.5, test_acc=0.5, requested_hparams=final.hparams,
        effective_hparams=final.hparams, val_and_test_same_dataset=True, seed=0, device="cpu",
        seconds=0.0, trial_dir=str(folder),
    )  # fmt: skip


def test_stagnating_lab_asks_once_for_a_validated_proposal(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(lab, "execute_trial", flat_trial)
    settings = LabSettings(
        rounds=4, consult_turns=1, stagnation_rounds=2, output_dir=tmp_path, offline=True,
        train=TrainSettings(epochs=2, model_width=4, device="cpu", seed=0, num_workers=0),
        data=DataSettings(dataset="synthetic", data_dir=tmp_path / "data"),
    )  # fmt: skip
    run_dir = lab.start_run(settings)
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(lab.LabRuntime.offline(settings), saver)
        drawn = compiled.get_graph(xray=True).nodes
        config = {"configurable": {"thread_id": "t"}, "recursion_limit": recursion_limit(4, 1)}
        state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    state = full_state(RunFolder(run_dir), state)  # the trials live in their folders
    assert {f"proposal:{key}" for key in ORDER} <= set(drawn)
    (record,) = state["research_proposals"]  # round 3 only: no new best since round 1
    assert record["lab_round"] == 3 and record["verdict"] != "not validated"
    assert len(state["trials"]) == 4 and "proposal_messages" not in state
    proposal = json.loads((run_dir / "proposals" / "round_3.json").read_text())
    assert proposal["results"]["status"] == "measured"
    experiment = proposal["validation"]["experiment"]
    assert (experiment["dataset"], experiment["seeds"], experiment["epochs"]) == ("synthetic", 2, 2)
    assert experiment["width"] == 4
    report = (run_dir / "report.md").read_text()
    assert f"- round 3: {record['title']}" in report and "(proposals/round_3.md)" in report
