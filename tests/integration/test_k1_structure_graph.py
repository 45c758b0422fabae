"""K-1 graph with --structure on: structural steps between chunks, outputs, and resume after a
structural change (the resumed run has the same agents and ends like an uninterrupted one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from k1_runner import TINY as BASE
from k1_runner import Crash
from k1_runner import run_graph as run_k1_graph

from trainlab.cli import main
from trainlab.graphs.k1 import build_k1_graph, run_config
from trainlab.k1 import experiment
from trainlab.runstore import open_checkpointer

TINY = BASE.model_copy(update={"structure": True, "phase2_after": 2})
CHANGES = ("grow", "prune", "merge", "reorganize")


def changed(record: dict) -> bool:
    return any(e["op"] in CHANGES and e["accepted"] for e in record["events"])


def run_graph(run_dir: Path, crash_after_change: bool = False) -> dict:
    seen = {"changed": False}

    def on_event(kind: str, payload: dict) -> None:
        if kind == "structure" and changed(payload):
            seen["changed"] = True
        elif kind == "chunk" and crash_after_change and seen["changed"]:
            raise Crash("killed in the chunk after a structural change")

    return run_k1_graph(TINY, run_dir, on_event)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("structure") / "k1"
    return run_dir, run_graph(run_dir)


def test_structure_run_logs_events_and_writes_outputs(clean_run: tuple[Path, dict]) -> None:
    run_dir, out = clean_run
    assert TINY.methods == ["k1", "k1_structure", "k1_agents", "dense"]
    steps = out["structure"]
    assert len(steps) == 2 * 3 and {s["method"] for s in steps} == {"k1_structure"}
    assert [s["phase"] for s in steps][:1] == [2] and any(changed(s) for s in steps)
    events = [json.loads(line) for line in (run_dir / "structure_events.jsonl").open()]
    assert events == [{"seed": 0, **e} for s in steps for e in s["events"]]
    for e in events:
        if e["op"] in CHANGES:
            assert {"params_before", "params_after", "val_before", "val_after"} <= e.keys()
    for name in ("trust.png", "agent_tree_prose.png", "agent_tree_code.png"):
        assert (run_dir / name).stat().st_size > 0
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["summary"]) == {"k1", "k1_structure", "k1_agents", "dense"}
    assert results["structure_summary"]["0"]["agents"] == sum(
        len(m) for layer in steps[-1]["tree"] for m in layer
    )
    run = next(r for r in results["runs"] if r["method"] == "k1_structure")
    assert run["param_count"] == steps[-1]["param_count"]  # the evaluated model's size
    md = (run_dir / "results.md").read_text()
    assert "### K-1 structure" in md and "| k1_structure |" in md and "Params (final)" in md


def test_resume_after_structural_change_has_the_same_agents(
    clean_run: tuple[Path, dict], tmp_path: Path
) -> None:
    run_dir = tmp_path / "k1"
    with pytest.raises(Crash):
        run_graph(run_dir, crash_after_change=True)
    with open_checkpointer(run_dir, must_exist=True) as saver:
        graph, _ = build_k1_graph(saver)
        state = graph.get_state(run_config(run_dir, TINY)).values
    last = state["structure"][-1]
    assert changed(last) and state["ckpt"]
    job = {"method": "k1_structure", "seed": 0}
    learner = experiment._learner(TINY, job, state["ckpt"])
    assert learner.model.structure()["tree"] == last["tree"]
    assert learner.model.param_count() == last["param_count"]
    assert learner.updater.names == list(learner.model.groups)
    out = run_graph(run_dir)
    clean = clean_run[1]
    assert [s["tree"] for s in out["structure"]] == [s["tree"] for s in clean["structure"]]
    resumed = {(e["method"], e["after"]): e["losses"] for e in out["evals"]}
    for e in clean["evals"]:
        got = resumed[(e["method"], e["after"])]
        assert got == pytest.approx(e["losses"], abs=1e-5)


def test_cli_structure_flag(tmp_path: Path) -> None:
    argv = ["k1", "--structure", "on", "--phase2-after", "1", "--domains", "science",
            "--steps-per-domain", "2", "--chunk-steps", "1", "--baselines", "", "--seeds", "1",
            "--d-model", "16", "--threads", "1", "--output-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.glob("*/k1")
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["summary"]) == {"k1", "k1_structure", "k1_agents"}
    assert results["settings"]["structure"] is True
    assert (run_dir / "structure_events.jsonl").is_file()
    snapshot = run_dir / "checkpoints" / "k1_structure-s0" / "after_0_science.pt"
    text = experiment.generate_text(snapshot, "The ", 4, 0.8, 0, "cpu")
    assert text.startswith("The ")
    assert torch.load(snapshot, weights_only=False)["structure"]["tree"]
