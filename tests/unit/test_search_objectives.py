"""Objectives and constraints: the Pareto front, constraint marking, the study's directions,
the settings' refusals, the time budget and round 1's warm start."""

from __future__ import annotations

import pytest
from lab_records import trial_summary
from pydantic import ValidationError

from trainlab import space
from trainlab.config import LabSettings, TrainSettings
from trainlab.search.lab_search import more_rounds, time_spent
from trainlab.search.objectives import Goal, pareto_front
from trainlab.search.study import SearchStudy
from trainlab.search.warm_start import warm_start
from trainlab.state import FinalConfig

HP = space.defaults()
LATENCY = Goal(("accuracy", "latency"), {"max_latency_ms": 5.0})


def summary(acc: float | None, latency: float | None, status: str = "complete", **fields):
    return trial_summary(HP, status, best_val_acc=acc, latency_ms=latency, **fields)


def test_the_pareto_front_keeps_only_the_points_nothing_dominates() -> None:
    points = [[0.9, 10.0], [0.8, 2.0], [0.7, 3.0], None, [0.9, 10.0], [0.95, 20.0]]
    front = pareto_front(points, ["maximize", "minimize"])
    assert front == [0, 1, 4, 5]  # (0.7, 3) loses to (0.8, 2); equal points both stay


def test_a_broken_constraint_is_measured_named_and_missing_values_break_it() -> None:
    slow, fast = summary(0.9, 7.5), summary(0.8, 4.0)
    assert LATENCY.violations(slow) == {"max_latency_ms": 2.5}
    assert LATENCY.broken(slow) == ["latency_ms 7.5 ms > 5 ms"]
    assert LATENCY.broken(fast) == [] and LATENCY.violations(fast)["max_latency_ms"] < 0
    assert LATENCY.violations(summary(None, None, "failed")) == {"max_latency_ms": 1.0}
    low = Goal(limits={"min_accuracy": 0.85})
    assert low.broken(fast) == ["best_val_acc 0.8 < 0.85"] and low.broken(slow) == []


def test_a_multi_objective_study_has_one_direction_per_objective_and_the_width() -> None:
    study = SearchStudy.open("tpe", 0, goal=LATENCY)
    assert [d.name for d in study.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert "model_width" in study.peek_params(1)
    assert set(study.peek(1).model_dump()) == set(space.FIELDS)
    single = SearchStudy.open("tpe", 0)
    assert [d.name for d in single.study.directions] == ["MAXIMIZE"]
    assert set(single.peek_params(1)) == set(space.FIELDS)


def test_the_study_marks_broken_constraints_and_its_front_is_feasible() -> None:
    study = SearchStudy.open("tpe", 0, goal=LATENCY)
    outcomes = [(0.9, 7.5, 32), (0.8, 2.0, 8), (0.7, 3.0, 8), (0.85, 4.0, 16)]
    for round_, (acc, latency, width) in enumerate(outcomes, start=1):
        study.record(round_, summary(acc, latency), [acc], "consultant_a", width=width)
    trials = study.finished()
    assert [t.values for t in trials] == [[a, lat] for a, lat, _ in outcomes]
    assert [t.params["model_width"] for t in trials] == [32, 8, 8, 16]
    assert trials[0].constraints == {"max_latency_ms": 2.5}
    assert sorted(t.user_attrs["round"] for t in study.pareto()) == [2, 4]  # 1 breaks, 3 loses
    assert trials[0].intermediate_values == {}  # report takes one objective: nothing reported


def test_a_single_objective_study_records_what_it_did_before() -> None:
    study = SearchStudy.open("tpe", 0)
    trial = study.record(1, summary(0.9, None), [0.5, 0.9], "prior")
    assert trial.value == 0.9 and trial.intermediate_values == {1: 0.5, 2: 0.9}
    assert trial.constraints == {} and "model_width" not in trial.params
    assert study.best_value() == 0.9


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"objective": ("latency",)}, "--objective latency: use accuracy or"),
        ({"objective": ("accuracy", "latency", "params")}, "--objective accuracy,latency,params"),
        ({"max_latency_ms": 5.0}, "--max-latency-ms: latency only varies"),
        ({"objective": ("accuracy", "latency"), "sampler": "cmaes"}, "--sampler cmaes: CMA-ES"),
        ({"min_accuracy": 0.5, "sampler": "cmaes"}, "--sampler cmaes"),
        ({"objective": ("accuracy", "params"), "train": TrainSettings(model_width=12)},
         "--width 12: with --objective accuracy,params the width is searched over 8, 16"),
    ],
)  # fmt: skip
def test_settings_refuse_goals_that_cannot_work(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LabSettings(**fields)


def test_settings_accept_the_done_when_goal_and_give_its_limits() -> None:
    settings = LabSettings(objective=("accuracy", "latency"), max_latency_ms=5,
                           train=TrainSettings(model_width=8))  # fmt: skip
    assert settings.goal == LATENCY and LabSettings().goal == Goal()


def test_the_time_budget_ends_the_rounds_once_its_seconds_are_spent() -> None:
    settings = LabSettings(rounds=5, time_budget=0.5)
    state = {"round": 2, "epochs_spent": 0, "seconds_spent": 29.0}
    assert more_rounds(settings, state, 5) and not time_spent(settings, state)
    assert not more_rounds(settings, state | {"seconds_spent": 30.0}, 5)
    assert more_rounds(LabSettings(rounds=5), state | {"seconds_spent": 1e9}, 5)  # no budget


def final(round_: int = 1) -> FinalConfig:
    return FinalConfig(round=round_, hparams=HP, source="consultant_b", justification="j",
                       policy="offline:track-record")  # fmt: skip


def test_warm_start_prior_keeps_the_supervisors_choice_and_none_asks_the_optimizer(tmp_path):
    study = SearchStudy.open("tpe", 3)
    assert warm_start(LabSettings(), study, final(), tmp_path) == final()
    first = warm_start(LabSettings(warm_start="none"), study, final(), tmp_path)
    assert first.hparams == study.peek(1) != HP and first.source == "consultant_a"
    assert warm_start(LabSettings(warm_start="none"), study, final(2), tmp_path) == final(2)


@pytest.mark.slow
def test_warm_start_suggest_trains_the_suggest_tools_configuration_first(tmp_path) -> None:
    settings = LabSettings(warm_start="suggest", data={"dataset": "digits"},
                           train=TrainSettings(model_width=8, epochs=3, device="cpu"))  # fmt: skip
    first = warm_start(settings, SearchStudy.open("tpe", 0), final(), tmp_path)
    assert first.source == "suggest" and first.policy == "warm-start:suggest"
    assert "learning_rate" in first.justification and (tmp_path / "suggestion.json").is_file()
    assert first.hparams != HP  # digits is small: the tool picks AdamW, not the SGD prior


def test_the_agents_view_names_the_goal_and_shows_the_pareto_front() -> None:
    from trainlab.search.optimizer_view import optimizer_view, render

    study = SearchStudy.open("tpe", 0, goal=LATENCY)
    for round_, (acc, latency) in enumerate([(0.9, 7.5), (0.8, 2.0), (0.7, 3.0)], start=1):
        study.record(round_, summary(acc, latency), [acc], "consultant_a", width=8)
    text = render(optimizer_view(study, 4))
    assert "Goal: maximize accuracy, minimize latency (ms); constraints: latency_ms ≤ 5." in text
    assert "Pareto front" in text and "#1: accuracy 0.8, latency 2 at width 8: sgd" in text
    assert "#0:" not in text and "#2:" not in text  # breaks the limit; dominated
    assert "The sampler's own next suggestion:" in text and " at width " in text
    plain = render(optimizer_view(SearchStudy.open("tpe", 0), 1))
    assert "Goal:" not in plain and "Top trials:" in plain


def test_trials_of_one_width_on_one_device_share_the_first_latency_measured() -> None:
    study = SearchStudy.open("tpe", 0, goal=LATENCY)
    study.record(1, summary(0.9, 0.7), [0.9], "prior", width=8)
    study.record(2, summary(0.5, 1.2), [0.5], "consultant_a", width=32)
    assert study.latency_of(8, "cpu") == 0.7 and study.latency_of(32, "cpu") == 1.2
    assert study.latency_of(16, "cpu") is None and study.latency_of(8, "cuda") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "speed"], "--objective: unknown objective 'speed'"),
        (["--objective", "latency"], "--objective latency: use accuracy or"),
        (["--max-latency-ms", "5"], "--max-latency-ms: latency only varies"),
        (["--objective", "accuracy,latency", "--max-latency-ms", "-1"], "--max-latency-ms"),
        (["--max-memory-mb", "0"], "--max-memory-mb"),
        (["--time-budget", "-5"], "--time-budget"),
        (["--objective", "accuracy,params", "--sampler", "cmaes"], "--sampler cmaes"),
    ],
)
def test_bad_goal_flags_fail_in_one_line_before_any_run_folder(tmp_path, capsys, args, message):
    from trainlab.commands import lab as lab_command

    code = lab_command.main([*args, "--output-dir", str(tmp_path / "runs")])
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert code == 2 and message in text and len(text.splitlines()) == 1
    assert not (tmp_path / "runs").exists()
