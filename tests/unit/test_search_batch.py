"""A round's batch (`--workers N`): distinct configurations, none trained or in flight."""

from __future__ import annotations

from pathlib import Path

from trainlab.config import LabSettings, TrainSettings
from trainlab.search.batch import batch_configs
from trainlab.search.lab_search import LabSearch
from trainlab.space import HParams

HP = HParams(optimizer="adam", learning_rate=1e-3, train_batch_size=64, weight_decay=1e-4,
             label_smoothing=0.0)  # fmt: skip


def lr(value: float) -> HParams:
    return HP.model_copy(update={"learning_rate": value})


def test_batch_skips_trained_in_flight_and_repeated_asks() -> None:
    asks = [lr(1e-3), lr(2e-3), lr(2e-3), lr(3e-3), lr(4e-3), lr(5e-3)]
    taken = {lr(3e-3).key()}  # trained or in flight
    batch = batch_configs(HP, lambda i: asks[i], taken, n=3)
    assert batch == [HP, lr(2e-3), lr(4e-3)]


def test_batch_is_shorter_when_the_asks_only_repeat() -> None:
    assert batch_configs(HP, lambda i: HP, set(), n=4) == [HP]


def test_lab_batch_excludes_the_studys_running_trials(tmp_path: Path) -> None:
    settings = LabSettings(workers=3, train=TrainSettings(epochs=2))
    search = LabSearch(settings, tmp_path)
    running = search.study.peek(1 * 1009 + 0)  # what the first ask would give
    search.study.start(7, running, "optimizer", 1)  # a trial in flight
    batch = search.batch(HP, set(), round_=1, n=3)
    keys = [hp.key() for hp in batch]
    assert len(batch) == 3 and len(set(keys)) == 3
    assert running.key() not in keys and batch[0] == HP


def test_batch_epochs_share_the_budget_left(tmp_path: Path) -> None:
    settings = LabSettings(workers=2, budget_epochs=5, train=TrainSettings(epochs=2))
    search = LabSearch(settings, tmp_path)
    assert search.slots() == 2 and search.batch_epochs([1, 2]) == [2, 2]
    settings = LabSettings(workers=4, budget_epochs=3, train=TrainSettings(epochs=2))
    (tmp_path / "b").mkdir()
    assert LabSearch(settings, tmp_path / "b").slots() == 2


def test_stagnation_counts_rounds_not_the_trials_of_a_batch() -> None:
    from lab_records import trial_summary

    from trainlab.agents.base import RoundView, Trial
    from trainlab.proposals.stagnation import due
    from trainlab.state import FinalConfig

    def trial(round_: int, acc: float) -> Trial:
        final = FinalConfig(round=round_, hparams=HP, source="s", justification="j", policy="p")
        return Trial(final, trial_summary(HP, best_val_acc=acc))

    # two trials a round; the best in round 1, then two rounds (four trials) without a new one
    history = tuple(trial(r, acc) for r, acc in [(1, 0.9), (1, 0.1), (2, 0.2), (2, 0.3)])
    assert not due(RoundView(round=2, history=history, analysis=None, research=None), [], k=2)
    later = (*history, trial(3, 0.2), trial(3, 0.1))
    assert due(RoundView(round=3, history=later, analysis=None, research=None), [], k=2)
