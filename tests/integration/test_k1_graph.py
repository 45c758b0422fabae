"""The K-1 graph end to end on tiny settings: outputs, resume after a crash, CLI, generate."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from k1_runner import TINY, Crash
from k1_runner import run_graph as run_k1_graph

from trainlab.cli import main
from trainlab.graphs.k1 import build_k1_graph, run_config
from trainlab.runstore import open_checkpointer


def run_graph(run_dir: Path, crash_after_chunks: int | None = None) -> dict:
    seen = {"chunks": 0}

    def on_event(kind: str, payload: dict) -> None:
        if kind == "chunk":
            seen["chunks"] += 1
            if seen["chunks"] == crash_after_chunks:
                raise Crash("killed mid-run")

    return run_k1_graph(TINY, run_dir, on_event)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("clean") / "k1"
    return run_dir, run_graph(run_dir)


def test_run_writes_every_output(clean_run: tuple[Path, dict]) -> None:
    run_dir, out = clean_run
    for name in ("results.json", "results.md", "r_heatmaps.png", "loss_curves.png"):
        assert (run_dir / name).stat().st_size > 0
    assert (run_dir / "group_updates.png").is_file()
    results = json.loads((run_dir / "results.json").read_text())
    assert {r["method"] for r in results["runs"]} == {"k1", "dense"}
    k1 = next(r for r in results["runs"] if r["method"] == "k1")
    assert len(k1["R_loss"]) == 2 and len(k1["R_loss"][0]) == 2
    assert k1["update_fraction_groups"] == pytest.approx(0.5)
    assert results["settings"]["steps_per_domain"] == 6 and k1["seed"] == 0
    assert "| Backward Transfer" in (run_dir / "results.md").read_text()
    assert len(out["chunks"]) == 2 * 2 * 3 and len(out["evals"]) == 2 * 2
    assert not list(run_dir.glob("checkpoints/*/state-*.pt"))
    assert (run_dir / "checkpoints" / "k1-s0" / "after_1_code.pt").is_file()


def test_resume_after_crash_loses_and_repeats_no_chunk(
    clean_run: tuple[Path, dict], tmp_path: Path
) -> None:
    run_dir = tmp_path / "k1"
    with pytest.raises(Crash):
        run_graph(run_dir, crash_after_chunks=5)
    with open_checkpointer(run_dir, must_exist=True) as saver:
        graph, _ = build_k1_graph(saver)
        state = graph.get_state(run_config(run_dir, TINY))
        assert state.next == ("train",) and len(state.values["chunks"]) == 4
    out = run_graph(run_dir)
    keys = [(c["method"], c["domain"], c["start"]) for c in out["chunks"]]
    assert len(keys) == len(set(keys)) == 12
    resumed = json.loads((run_dir / "results.json").read_text())["runs"]
    clean = json.loads((clean_run[0] / "results.json").read_text())["runs"]
    for a, b in zip(resumed, clean, strict=True):
        flat = [x for row in a["R_loss"] for x in row]
        assert flat == pytest.approx([x for row in b["R_loss"] for x in row], abs=1e-6)


def test_cli_run_resume_and_generate(tmp_path: Path, capsys) -> None:
    argv = ["k1", "--domains", "science", "--steps-per-domain", "2", "--chunk-steps", "1",
            "--baselines", "", "--seeds", "1", "--d-model", "16", "--threads", "0",
            "--output-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.glob("*/k1")
    assert json.loads((run_dir / "results.json").read_text())["summary"]["k1"]
    assert main(["k1", "--resume", str(run_dir.parent)]) == 0  # already complete: no-op
    snapshot = run_dir / "checkpoints" / "k1-s0" / "after_0_science.pt"
    capsys.readouterr()
    gen = ["--checkpoint", str(snapshot), "--prompt", "The ", "--max-new-tokens", "8"]
    assert main(["k1", "generate", *gen]) == 0
    assert capsys.readouterr().out.startswith("The ")


def test_a_renamed_run_folder_resumes_its_own_thread(tmp_path: Path) -> None:
    argv = ["k1", "--domains", "science", "--steps-per-domain", "2", "--chunk-steps", "1",
            "--baselines", "", "--seeds", "1", "--d-model", "16", "--threads", "0",
            "--output-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.glob("*/k1")
    started = run_dir.parent.name
    assert json.loads((run_dir / "run.json").read_text())["thread_id"] == started
    renamed = run_dir.parent.rename(tmp_path / "renamed") / "k1"
    results = (renamed / "results.json").read_bytes()
    assert main(["k1", "--resume", str(renamed.parent)]) == 0  # complete: nothing retrained
    with sqlite3.connect(renamed / "checkpoints.sqlite") as db:
        threads = {row[0] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert threads == {started} and (renamed / "results.json").read_bytes() == results
