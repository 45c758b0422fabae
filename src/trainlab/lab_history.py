"""The lab's full history lives on disk, one trial folder per trial; the graph state keeps only
what the next node needs and counts (`state.HPOState`), so its checkpoints stay small.

A trial folder holds the round's consultation (`proposals.json`) and decision (`final.json`),
both written by the supervisor node; the trial (`summary.json`: the trainer's, rewritten by
the executor node with the folder's current path), `analysis.json`, `research.json`; and, when
the lab stagnated, the proposal workflow's records (`lab_proposals.json`, by the record node).
Each file is rewritten whole by the node that owns it, so a node re-run after a crash leaves
exactly one record per trial."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainlab.runstore import RunFolder, read_json, write_json
from trainlab.state import FinalConfig, Proposal, TrialSummary

PROPOSALS = "proposals.json"
FINAL = "final.json"
SUMMARY = "summary.json"
ANALYSIS = "analysis.json"
RESEARCH = "research.json"
LAB_PROPOSALS = "lab_proposals.json"
BEST = "best_overall.json"
HISTORY_KEYS = ("proposals", "finals", "trials", "analyses", "research")


def write_decision(folder: RunFolder, final: FinalConfig, proposals: Sequence[Proposal]) -> None:
    """Record a round's consultation and the supervisor's decision in the trial's folder (a
    batch: the consultation in its first trial's)."""
    trial = folder.trial(final.number)
    write_json(trial / PROPOSALS, [p.model_dump(mode="json") for p in proposals])
    write_json(trial / FINAL, final.model_dump(mode="json"))


def write_trial(folder: RunFolder, number: int, summary: TrialSummary) -> None:
    """Record trial `number` (the trainer wrote it too, unless the trial never started)."""
    write_json(folder.trial(number) / SUMMARY, summary.model_dump(mode="json"))


def write_lab_proposals(folder: RunFolder, number: int, records: list[dict[str, Any]]) -> None:
    """Record the proposal workflow's records of a round (ProposalRecord JSON), if any, in the
    folder of the round's last trial, `number`."""
    if records:
        write_json(folder.trial(number) / LAB_PROPOSALS, records)


def read_history(folder: RunFolder, trials: int) -> dict[str, list[dict[str, Any]]]:
    """Every record of trials 1..`trials` in the state's JSON form, by kind (HISTORY_KEYS)."""
    history: dict[str, list[dict[str, Any]]] = {key: [] for key in HISTORY_KEYS}
    for k in range(1, trials + 1):
        trial = folder.trial(k)
        if (trial / PROPOSALS).is_file():
            history["proposals"] += read_json(trial / PROPOSALS)
        history["finals"].append(read_json(trial / FINAL))
        # where the folder is now (summary.json names where it was trained)
        history["trials"].append(read_json(trial / SUMMARY) | {"trial_dir": str(trial)})
        for key, name in (("analyses", ANALYSIS), ("research", RESEARCH)):
            if (trial / name).is_file():
                history[key].append(read_json(trial / name))
    return history


def full_state(folder: RunFolder, state: Mapping[str, Any]) -> dict[str, Any]:
    """The state with its histories read from the trial folders: what the agents' RoundView,
    the stagnation trigger, the run artifacts and the reports read."""
    if "trials_done" not in state:  # a run from before the bounded state holds them all
        return dict(state)
    best = folder.path / BEST
    full = {**state, **read_history(folder, state["trials_done"])}
    # the finished rounds' records on disk, then the round under way's (until record moves them)
    done = [folder.trial(k) / LAB_PROPOSALS for k in range(1, state["trials_done"] + 1)]
    asked = [record for path in done if path.is_file() for record in read_json(path)]
    full["research_proposals"] = asked + state.get("research_proposals", [])
    return full | ({"best": read_json(best)} if state.get("best") and best.is_file() else {})
