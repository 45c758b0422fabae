"""--adopt-components in the real lab graph (digits, ResNet-9 width 8, 1 epoch, stagnation
after 1 round): an optimizer enters the search space only after a significant validation of
the stagnation proposal on the lab's own data, and the lab goes on in the extended space."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from trainlab import lab
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.experiments.config import ExperimentConfig
from trainlab.experiments.stats import Comparison
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit
from trainlab.lab import LabRuntime, start_run
from trainlab.lab_history import full_state
from trainlab.proposals import validate
from trainlab.proposals.schema import ValidationResult
from trainlab.runstore import RunFolder, open_checkpointer
from trainlab.search.lab_search import LabSearch
from trainlab.search.study import ROUND_ATTR, storage_url

pytestmark = pytest.mark.slow


def settings(tmp_path: Path, rounds: int, adopt: bool = True) -> LabSettings:
    return LabSettings(
        rounds=rounds, consult_turns=1, stagnation_rounds=1, output_dir=tmp_path, offline=True,
        adopt_components=adopt,
        train=TrainSettings(epochs=1, patience=1, model_width=8, device="cpu", augment="none"),
        data=DataSettings(dataset="digits", data_dir=tmp_path / "data"),
    )  # fmt: skip


def run_lab(lab_settings: LabSettings, run_dir: Path | None = None) -> tuple[Path, dict]:
    """A new run, or (`run_dir`) the resumption of one, by a fresh runtime and graph."""
    start = None if run_dir else {"run_dir": str(run_dir := start_run(lab_settings))}
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(LabRuntime.offline(lab_settings), saver)
        limit = recursion_limit(lab_settings.rounds, lab_settings.consult_turns)
        config = {"configurable": {"thread_id": "t"}, "recursion_limit": limit}
        state = compiled.invoke(start, config, durability="sync")
    return run_dir, full_state(RunFolder(run_dir), state)


def significant(config: ExperimentConfig, metric: str, folder: Path, log=None) -> ValidationResult:
    """The validator's test double: the candidate significantly better on the deciding metric,
    without training (the real validation of this setting finds no significant difference)."""
    better = Comparison(
        metric=metric, higher_is_better=True, n=config.seeds, baseline_mean=0.5,
        baseline_ci=0.01, candidate_mean=0.6, candidate_ci=0.01, diff_mean=0.1, diff_ci=0.02,
        p_value=0.004, verdict="better",
    )  # fmt: skip
    return ValidationResult(
        status="measured", metric=metric, verdict="better",
        accuracy_verdict="no significant difference", comparisons=[better],
        directory=str(folder / config.name),
    )  # fmt: skip


def study_names(run_dir: Path) -> list[str]:
    return sorted(s.study_name for s in optuna.get_all_study_summaries(storage_url(run_dir)))


def rounds_in(run_dir: Path, name: str) -> list[int]:
    study = optuna.load_study(study_name=name, storage=storage_url(run_dir))
    return sorted(t.user_attrs[ROUND_ATTR] for t in study.get_trials(deepcopy=False))


def test_a_significant_validation_adds_the_optimizer_for_the_remaining_rounds(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(validate, "measure", significant)
    lab_settings = settings(tmp_path, rounds=3)
    run_dir, state = run_lab(lab_settings)
    (asked,) = state["research_proposals"]
    (adoption,) = state["adopted"]
    assert adoption["component"] in asked["components"]
    assert adoption["lab_round"] == asked["lab_round"] == 2
    assert (adoption["verdict"], adoption["p_value"], adoption["seeds"]) == ("better", 0.004, 2)
    assert json.loads((run_dir / "adopted.json").read_text()) == [adoption]
    report = (run_dir / "report.md").read_text()
    assert f"optimizer {adoption['component']}" in report and "Components adopted" in report
    assert f"optimizer {adoption['component']}" in (run_dir / "report.html").read_text()
    # the lab continued in the extended space: a new study, seeded with the earlier trials
    adopted_study = f"trainlab+{adoption['component']}"
    assert study_names(run_dir) == ["trainlab", adopted_study]
    before = list(range(1, asked["lab_round"] + 1))
    assert rounds_in(run_dir, "trainlab") == before
    assert rounds_in(run_dir, adopted_study) == [1, 2, 3]
    reopened = LabSearch(lab_settings, run_dir, adopted=[adoption["component"]])  # as on resume
    assert adoption["component"] in reopened.study.distributions["optimizer"].choices
    assert len(reopened.study.finished()) == 3  # seeding again copies nothing twice


def test_a_non_significant_validation_adds_nothing(tmp_path) -> None:
    run_dir, state = run_lab(settings(tmp_path, rounds=2))  # a real validation: 2 seeds
    (asked,) = state["research_proposals"]
    assert asked["lab_round"] == 2 and asked["verdict"] != "better"
    assert state.get("adopted") == [] and json.loads((run_dir / "adopted.json").read_text()) == []
    assert study_names(run_dir) == ["trainlab"]
    for report in ("report.md", "report.html"):
        assert "Components adopted" not in (run_dir / report).read_text()


def test_without_the_flag_even_a_significant_validation_changes_nothing(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(validate, "measure", significant)
    run_dir, state = run_lab(settings(tmp_path, rounds=2, adopt=False))
    assert state["research_proposals"][0]["verdict"] == "better"
    assert "adopted" not in state and not (run_dir / "adopted.json").exists()
    assert study_names(run_dir) == ["trainlab"]


class Crash(Exception):
    """The process dies here."""


def test_the_adopted_space_survives_a_crash_mid_trial_and_resume(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(validate, "measure", significant)
    lab_settings = settings(tmp_path, rounds=3)
    train = lab.execute_trial

    def dies_once_its_round_3_trial_started(runtime, folder, final):
        if final.round == 3 and not (tmp_path / "resumed").exists():
            runtime.search(folder).should_stop(final)  # the trial is RUNNING in the study
            raise Crash
        return train(runtime, folder, final)

    monkeypatch.setattr(lab, "execute_trial", dies_once_its_round_3_trial_started)
    with pytest.raises(Crash):
        run_lab(lab_settings)
    (run_dir,) = (p for p in tmp_path.iterdir() if (p / "config.json").is_file())
    adopted = json.loads((run_dir / "adopted.json").read_text())
    (tmp_path / "resumed").touch()
    _, state = run_lab(lab_settings, run_dir)  # a fresh runtime: the state's adopted list
    assert state["adopted"] == adopted and len(adopted) == 1 and len(state["trials"]) == 3
    adopted_study = f"trainlab+{adopted[0]['component']}"
    assert rounds_in(run_dir, "trainlab") == [1, 2]
    assert rounds_in(run_dir, adopted_study) == [1, 2, 3]  # the running trial continued
