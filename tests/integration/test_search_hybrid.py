"""The headless search engine end to end: budget spent, study on disk, resume adds nothing."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from trainlab.agents.offline import LITERATURE_PRIOR
from trainlab.config import TrainSettings
from trainlab.search.hybrid import HybridSettings, run_hybrid
from trainlab.search.study import STUDY_FILE, STUDY_NAME
from trainlab.training.data import ImageSplits


@pytest.mark.slow
def test_hybrid_spends_the_budget_and_resumes_from_its_study(
    tiny_splits: ImageSplits, tmp_path: Path
) -> None:
    train = TrainSettings(epochs=2, model_width=4, save_checkpoints=False, device="cpu", seed=1)
    settings = HybridSettings(sampler="tpe", pruner="asha", agent_share=0.5, budget_epochs=6)
    run = run_hybrid(settings, train, tiny_splits, tmp_path, LITERATURE_PRIOR)
    assert run.budget.spent == 6 and run.budget.exhausted
    assert run.decisions[0].source == "prior" and run.outcomes[0].summary.status == "complete"
    assert {d.source for d in run.decisions[1:]} <= {"optimizer", "consultants"}
    storage = f"sqlite:///{tmp_path / STUDY_FILE}"
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    assert [t.user_attrs["round"] for t in study.trials] == list(range(1, len(run.outcomes) + 1))
    assert all(t.state.is_finished() for t in study.trials)

    again = run_hybrid(settings, train, tiny_splits, tmp_path, LITERATURE_PRIOR)  # --resume
    assert [o.summary for o in again.outcomes] == [o.summary for o in run.outcomes]
    assert len(optuna.load_study(study_name=STUDY_NAME, storage=storage).trials) == len(
        study.trials
    )
