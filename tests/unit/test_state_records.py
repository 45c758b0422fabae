"""The lab state's typed records match their pydantic models; the bounded state's reducer and
the on-disk history that replaces the state's old lists."""

from __future__ import annotations

import pytest
from lab_records import trial_summary

from trainlab import state as records
from trainlab.lab_history import full_state, read_history, write_decision, write_trial
from trainlab.runstore import RunFolder
from trainlab.space import HParams

HP = HParams(optimizer="adam", learning_rate=1e-3, train_batch_size=64, weight_decay=1e-4,
             label_smoothing=0.0)  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "model"),
    [
        (records.AttemptDict, records.Attempt),
        (records.TrialDict, records.TrialSummary),
        (records.RemedyDict, records.Remedy),
        (records.ProposalDict, records.Proposal),
        (records.FinalDict, records.FinalConfig),
        (records.AnalysisDict, records.Analysis),
        (records.ResearchDict, records.ResearchNote),
    ],
)
def test_each_typed_record_lists_its_models_fields(typed, model):
    assert list(typed.__annotations__) == list(model.model_fields)


def proposal(round_: int, author: str = "consultant_a") -> dict:
    return records.Proposal(round=round_, author=author, hparams=HP, rationale="r",
                            policy="offline:x").model_dump(mode="json")  # fmt: skip


def test_the_consultation_keeps_only_the_round_under_way():
    current = records.this_round([], [proposal(1)])
    current = records.this_round(current, [proposal(1, "consultant_b")])
    assert len(current) == 2 and records.this_round(current, []) == current
    assert records.this_round(current, [proposal(2)]) == [proposal(2)]


def test_the_history_is_read_back_from_the_trial_folders(tmp_path):
    folder = RunFolder(tmp_path)
    for round_ in (1, 2):
        final = records.FinalConfig(round=round_, hparams=HP, source="consultant_a",
                                    justification="j", policy="offline:x")  # fmt: skip
        write_decision(folder, final, [records.Proposal.model_validate(proposal(round_))])
        write_trial(folder, round_, trial_summary(HP, best_val_acc=0.5 * round_))
    history = read_history(folder, 2)
    assert [f["round"] for f in history["finals"]] == [1, 2]
    assert [t["best_val_acc"] for t in history["trials"]] == [0.5, 1.0]
    assert [t["trial_dir"] for t in history["trials"]] == [str(folder.trial(k)) for k in (1, 2)]
    state = {"round": 3, "trials_done": 2, "trials": []}
    assert len(full_state(folder, state)["proposals"]) == 2
    old = {"round": 2, "trials": [{"status": "complete"}]}  # a state from before: unchanged
    assert full_state(folder, old) == old
