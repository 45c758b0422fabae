"""The run's persistent study: prior first, keyed by round, idempotent, survives a reopen."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from lab_records import trial_summary
from optuna.trial import TrialState

from trainlab.search.study import STUDY_FILE, STUDY_NAME, SearchStudy
from trainlab.space import HParams

PRIOR = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=128,
    weight_decay=5e-4,
    label_smoothing=0.1,
)
OTHER = PRIOR.model_copy(update={"optimizer": "adam", "learning_rate": 1e-3})


def finish(search: SearchStudy, round_: int, hp: HParams, status: str, accs: list[float]):
    search.start(round_, hp, "optimizer")
    summary = trial_summary(hp, status, best_val_acc=max(accs), epochs_run=len(accs))
    return search.record(round_, summary, accs, "optimizer")


def test_prior_is_trial_one_and_study_persists_across_reopen(tmp_path: Path) -> None:
    search = SearchStudy.open("tpe", 0, run_dir=tmp_path, prior=PRIOR)
    assert search.waiting() == PRIOR
    finish(search, 1, PRIOR, "complete", [0.5, 0.7])
    finish(search, 2, OTHER, "pruned", [0.2])
    reopened = SearchStudy.open("tpe", 0, run_dir=tmp_path, prior=PRIOR)  # --resume
    assert reopened.waiting() is None  # the prior is not enqueued again
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{tmp_path / STUDY_FILE}")
    first, second = study.trials
    assert HParams(**first.params) == PRIOR and first.value == 0.7
    assert first.intermediate_values == {1: 0.5, 2: 0.7}
    assert first.user_attrs["round"] == 1 and first.user_attrs["status"] == "complete"
    assert second.state == TrialState.PRUNED and second.user_attrs["status"] == "pruned"
    assert reopened.best_value() == 0.7


def test_recording_a_round_twice_does_not_duplicate(tmp_path: Path) -> None:
    search = SearchStudy.open("tpe", 0, run_dir=tmp_path, prior=PRIOR)
    first = finish(search, 1, PRIOR, "complete", [0.6])
    again = search.record(1, trial_summary(PRIOR, best_val_acc=0.9), [0.9], "optimizer")
    assert again.number == first.number and again.value == 0.6
    assert len(search.study.trials) == 1
    with pytest.raises(ValueError, match="already recorded"):
        search.start(1, PRIOR, "optimizer")


def test_a_trial_interrupted_mid_run_is_continued_not_duplicated(tmp_path: Path) -> None:
    search = SearchStudy.open("tpe", 0, run_dir=tmp_path)
    trial = search.start(1, OTHER, "consultants")
    search.report(trial, 1, 0.4)  # then the process dies
    resumed = SearchStudy.open("tpe", 0, run_dir=tmp_path)
    assert resumed.start(1, OTHER, "consultants").number == trial.number
    frozen = resumed.record(1, trial_summary(OTHER, best_val_acc=0.5), [0.4, 0.5], "consultants")
    assert len(resumed.study.trials) == 1 and frozen.intermediate_values == {1: 0.4, 2: 0.5}
    assert frozen.user_attrs["source"] == "consultants"


def test_failed_and_diverged_trials_are_told_as_fail(tmp_path: Path) -> None:
    search = SearchStudy.open("cmaes", 0, run_dir=tmp_path)
    assert finish(search, 1, OTHER, "diverged", [0.1]).state == TrialState.FAIL
    assert search.best_value() is None


def test_peek_is_deterministic_and_adds_no_trial() -> None:
    search = SearchStudy.open("tpe", 3)
    for round_, lr in enumerate([1e-3, 3e-3, 1e-2, 3e-2], start=1):
        finish(search, round_, OTHER.model_copy(update={"learning_rate": lr}), "complete", [lr])
    assert search.peek(5) == search.peek(5)
    assert len(search.study.trials) == 4


@pytest.mark.parametrize("name", ["bayes", "TPE", ""])
def test_unknown_sampler_is_refused_before_a_file_is_written(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="--sampler must be one of tpe, cmaes"):
        SearchStudy.open(name, 0, run_dir=tmp_path)
    assert not (tmp_path / STUDY_FILE).exists()


def test_a_round_cannot_jump_the_queued_prior() -> None:
    search = SearchStudy.open("tpe", 0, prior=PRIOR)
    with pytest.raises(ValueError, match=r"next trial is sgd lr=0\.05"):
        search.start(1, OTHER, "optimizer")
    assert search.start(1, PRIOR, "prior").params == PRIOR.model_dump()


def test_an_adopted_optimizer_continues_in_a_new_study_seeded_with_the_old_trials(
    tmp_path: Path,
) -> None:
    search = SearchStudy.open("tpe", 0, run_dir=tmp_path, prior=PRIOR)
    finish(search, 1, PRIOR, "complete", [0.5, 0.7])
    finish(search, 2, OTHER, "pruned", [0.2])
    finish(search, 3, OTHER.model_copy(update={"learning_rate": 0.02}), "failed", [0.1])
    grown = SearchStudy.open("tpe", 0, run_dir=tmp_path, prior=PRIOR, adopted=("lookahead",))
    assert grown.study.study_name == "trainlab+lookahead" and grown.waiting() is None
    assert [t.state for t in grown.finished()] == [t.state for t in search.finished()]
    assert {t.distributions["optimizer"].choices for t in grown.finished()} == {
        ("adam", "sgd", "lookahead")
    }
    assert grown.best_value() == 0.7 and grown.peek(4).optimizer in ("adam", "sgd", "lookahead")
    finish(grown, 4, PRIOR.model_copy(update={"optimizer": "lookahead"}), "complete", [0.8])
    again = SearchStudy.open("tpe", 0, run_dir=tmp_path, adopted=("lookahead",))  # --resume
    assert [t.user_attrs["round"] for t in again.finished()] == [1, 2, 3, 4]
    assert len(search.study.trials) == 3  # the first study is left as it was
    nothing = SearchStudy.open("tpe", 0, run_dir=tmp_path)
    assert nothing.study.study_name == STUDY_NAME
