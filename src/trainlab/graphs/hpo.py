"""The HPO lab graph: consultants → supervisor → executor → analyst → researcher → next round.

Wiring only: every node reads the state, calls one capability of `trainlab.lab` (or an agent
policy) and returns only what is new. Nothing is built at import (Studio: `graphs/studio.py`).

A run given a context (`LabContext`: Studio's form) or a `settings` input gets HPONodes of its
own, built for those settings and found again by its run folder (whose config.json holds them);
a run given neither (the CLI, tests) uses the nodes the graph was built with.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, get_type_hints

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from trainlab import lab
from trainlab.agents.base import RoundView
from trainlab.config import LabSettings
from trainlab.graphs import shared
from trainlab.graphs.context import LabContext, lab_settings
from trainlab.graphs.proposal import build_proposal_graph
from trainlab.lab_history import full_state, write_decision, write_lab_proposals, write_trial
from trainlab.proposals import stagnation as proposals
from trainlab.reporting.html_report import write_html_report
from trainlab.reporting.pareto import write_tradeoffs
from trainlab.reporting.run_report import (
    budget_record,
    trial_rows,
    write_report,
    write_run_artifacts,
)
from trainlab.runstore import RunFolder, read_json
from trainlab.search.lab_search import more_rounds
from trainlab.state import Analysis, FinalConfig, HPOState, LabInput, Proposal, TrialSummary


def recursion_limit(rounds: int, consult_turns: int) -> int:
    """Enough supersteps for every round, so 100 rounds never hit LangGraph's default of 25."""
    settings = LabSettings(rounds=rounds, consult_turns=consult_turns)
    return shared.recursion_limit(lab.hpo_supersteps(settings))


class HPONodes:
    """The node functions, bound to one run's runtime."""

    def __init__(self, runtime: lab.LabRuntime, saver: BaseCheckpointSaver | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.home = runtime.folder  # the CLI's run folder (a resumed one may have moved)
        self.runs: dict[str, HPONodes] = {}  # run folder → the nodes of a run with its own settings
        self.saver = saver  # the CLI's: record drops finished proposal subgraphs from it
        self.clock = time.monotonic()  # --time-budget: this process's time since the last record

    def folder(self, state: HPOState) -> RunFolder:
        """Where the run's files go: the folder the CLI runs, else the state's (Studio)."""
        return self.home or RunFolder(state["run_dir"])

    def for_run(self, state: HPOState, context: Any) -> HPONodes:
        """These nodes, or the run's own when it was given a context or a settings override."""
        run_dir = state.get("run_dir")
        if run_dir in self.runs:
            return self.runs[run_dir]
        if context is None and not state.get("settings"):
            return self
        if run_dir and RunFolder(run_dir).config.is_file():  # resumed by a fresh process
            settings = LabSettings.model_validate(read_json(RunFolder(run_dir).config))
        else:
            settings = lab_settings(context, state.get("settings"))
        nodes = HPONodes(lab.LabRuntime.create(settings, self.runtime.display))
        if run_dir:
            self.runs[run_dir] = nodes
        return nodes

    def per_run(self, name: str) -> Callable[..., Any]:
        """Node `name`, called on the nodes of the run (`for_run`)."""
        hints = get_type_hints(getattr(HPONodes, name))

        def call(state: HPOState, runtime: Runtime[LabContext]) -> Any:
            nodes = self.for_run(state, runtime.context)
            update = getattr(nodes, name)(state)
            if name == "init":
                self.runs[update["run_dir"]] = nodes
            return update

        call.__name__ = call.__qualname__ = name
        call.__annotations__ = {**hints, "runtime": Runtime[LabContext]}
        return call

    def route(self, name: str) -> Callable[..., Any]:
        """Router `name` on the nodes of the run. It takes no runtime: `update_state` replays
        routers without one (the CLI extending --rounds); the node before it found the run."""

        def call(state: HPOState) -> Any:
            return getattr(self.for_run(state, None), name)(state)

        call.__name__ = call.__qualname__ = name
        call.__annotations__ = get_type_hints(getattr(HPONodes, name))
        return call

    def init(self, state: HPOState) -> dict[str, Any]:
        # The CLI creates the run folder (its checkpoints live there); Studio and notebooks don't.
        folder = RunFolder(state.get("run_dir") or lab.start_run(self.settings))
        self.runtime.folder = folder
        return {"run_dir": str(folder.path), "round": 1, "rounds": self.settings.rounds}

    def consultant_a(self, state: HPOState) -> dict[str, Any]:
        return self._consult(state, self.runtime.advisors.consultant_a)

    def consultant_b(self, state: HPOState) -> dict[str, Any]:
        return self._consult(state, self.runtime.advisors.consultant_b)

    def _consult(self, state: HPOState, consultant: Any) -> dict[str, Any]:
        self.runtime.display.phase(state["round"], consultant.name)
        other = _latest_proposal(state, exclude=consultant.name)
        proposal = consultant.propose(self.runtime.round_view(state), other)
        self.runtime.display.decision(state["round"], consultant.name, proposal.policy)
        return {"proposals": [proposal.model_dump(mode="json")]}

    def supervisor(self, state: HPOState) -> dict[str, Any]:
        """The round's decision; with --workers N, a batch: it and up to N-1 optimizer asks."""
        self.runtime.display.phase(state["round"], "supervisor")
        finals = [_latest_proposal(state, author) for author in ("consultant_a", "consultant_b")]
        proposals = [p for p in finals if p is not None]
        view = self.runtime.round_view(state)
        final = self.runtime.advisors.supervisor.finalize(view, proposals)
        final = lab.settle(self.runtime, self.folder(state), final)
        self.runtime.display.decision(state["round"], "supervisor", final.policy)
        batch = lab.batch_finals(self.runtime, self.folder(state), view, final)
        first = state.get("trials_done", state["round"] - 1) + 1
        batch = [f.model_copy(update={"trial": first + i}) for i, f in enumerate(batch)]
        round_proposals = [Proposal.model_validate(p) for p in state["proposals"]]
        for i, slot in enumerate(batch):
            write_decision(self.folder(state), slot, round_proposals if i == 0 else [])
        return {"finals": [f.model_dump(mode="json") for f in batch], "proposals": Overwrite([])}

    def executor(self, state: HPOState) -> dict[str, Any]:
        self.runtime.display.phase(state["round"], "executor")
        finals = [FinalConfig.model_validate(f) for f in state["finals"]]
        folder = self.folder(state)
        adopted = [a["component"] for a in state.get("adopted", [])]
        self.runtime.search(folder, adopted)  # the study of the adopted space
        if self.settings.workers == 1:
            summaries = [lab.execute_trial(self.runtime, folder, finals[-1])]
        else:
            summaries = lab.execute_batch(self.runtime, folder, finals)
        for final, summary in zip(finals[-len(summaries) :], summaries, strict=True):
            write_trial(folder, final.number, summary)
        return {
            "trials": [summary.model_dump(mode="json") for summary in summaries],
            "finals": [],
            "trials_done": state.get("trials_done", 0) + len(summaries),
            "epochs_spent": state.get("epochs_spent", 0) + sum(s.epochs_run for s in summaries),
        }

    def analyst(self, state: HPOState) -> dict[str, Any]:
        """Reads each trial of the round (one, or a batch's)."""
        self.runtime.display.phase(state["round"], "analyst")
        trials = self._this_round(state, "trials")
        first = state["trials_done"] - len(trials) + 1
        analyses = []
        for number, raw in enumerate(trials, start=first):
            summary = TrialSummary.model_validate(raw)
            folder = self.folder(state)
            analyses.append(
                lab.analyze_trial(self.runtime, folder, summary, state["round"], number)
            )
            self.runtime.display.decision(state["round"], "analyst", analyses[-1].policy)
        return {"analyses": [a.model_dump(mode="json") for a in analyses], "trials": []}

    def researcher(self, state: HPOState) -> dict[str, Any]:
        self.runtime.display.phase(state["round"], "researcher")
        notes = []
        for raw in self._this_round(state, "analyses"):
            analysis = Analysis.model_validate(raw)
            notes.append(lab.research_remedies(self.runtime, self.folder(state), analysis))
            self.runtime.display.decision(state["round"], "researcher", notes[-1].policy)
        return {"research": [note.model_dump(mode="json") for note in notes], "analyses": []}

    def _this_round(self, state: HPOState, key: str) -> list[Any]:
        """The round's records of `key`: a batch's, or the one trial's (a state from before
        the bounded state holds every round's)."""
        records = state.get(key, [])
        return records if self.settings.workers > 1 else records[-1:]

    def ask_proposal(self, state: HPOState) -> dict[str, Any]:
        """The researcher asks the proposal subgraph for one proposal (the lab stagnated)."""
        self.runtime.display.phase(state["round"], "proposal")
        view, records = self._stagnation_inputs(state)
        request = proposals.request(self.settings, view, self.folder(state).path, records)
        return {"proposal_request": request.model_dump(mode="json")}

    def after_research(self, state: HPOState) -> Literal["ask_proposal", "record"]:
        view, records = self._stagnation_inputs(state)
        stalled = proposals.due(view, records, self.settings.stagnation_rounds)
        return "ask_proposal" if stalled else "record"

    def _stagnation_inputs(self, state: HPOState) -> tuple[RoundView, list[dict[str, Any]]]:
        """Every recorded trial (from the trial folders) and the proposals asked so far."""
        everything = full_state(self.folder(state), state)
        return RoundView.from_state(everything), everything["research_proposals"]

    def record(self, state: HPOState) -> dict[str, Any]:
        folder = self.folder(state)
        finals, trials = _finished(full_state(folder, state))
        write_lab_proposals(folder, state["trials_done"], state.get("research_proposals", []))
        if state.get("proposal_request") and hasattr(self.saver, "forget_subgraphs"):
            self.saver.forget_subgraphs()  # the proposal subgraph ran: resume no longer needs it
        run_dir, seed = folder.path, self.settings.train.seed
        best = write_run_artifacts(run_dir, finals, trials, seed, self.settings.epoch_budget)
        now = time.monotonic()
        spent, self.clock = state.get("seconds_spent", 0.0) + now - self.clock, now
        # rounds: the settings' (a resume may have raised it)
        return self._adopt(state) | {
            "best": best and {"round": best["round"], "best_val_acc": best["best_val_acc"]},
            "round": state["round"] + 1,
            "rounds": self.settings.rounds,
            "seconds_spent": spent,
            "research": [],
            "research_proposals": Overwrite([]),  # now in the trial folder
            "proposal_request": {},
        }

    def _adopt(self, state: HPOState) -> dict[str, Any]:
        """--adopt-components: the optimizers the round's proposals earned (proposals/adoption)."""
        if not self.settings.adopt_components or not state.get("research_proposals"):
            return {}
        from trainlab.proposals.adoption import adopt_round, write_adopted

        asked, before = state["research_proposals"], state.get("adopted", [])
        adopted = adopt_round(asked, before, self.settings.data.dataset)
        write_adopted(self.folder(state).path, adopted)
        return {"adopted": adopted}

    def finalize(self, state: HPOState) -> dict[str, Any]:
        folder = self.folder(state)
        everything = full_state(folder, state)
        finals, trials = _finished(everything)
        width = self.settings.train.model_width
        tradeoffs = write_tradeoffs(folder.path, self.settings.goal, finals, trials, width)
        write_report(
            folder.path,
            trial_rows(finals, trials),
            everything.get("best"),
            everything["research_proposals"],
            budget_record(trials, self.settings.epoch_budget),
            everything.get("adopted", []),
            tradeoffs,
        )
        write_html_report(folder.path, everything, tradeoffs)
        folder.mark_finished()
        return {}

    def after_consultation(self, state: HPOState) -> Literal["consultant_a", "supervisor"]:
        turns = sum(
            1
            for p in state["proposals"]
            if p["round"] == state["round"] and p["author"] == "consultant_b"
        )
        return "consultant_a" if turns < self.settings.consult_turns else "supervisor"

    def after_round(self, state: HPOState) -> Literal["consultant_a", "finalize"]:
        """Another round while --rounds and the epoch budget both last."""
        more = more_rounds(self.settings, state, state["rounds"])
        return "consultant_a" if more else "finalize"


def _latest_proposal(state: HPOState, author: str | None = None, exclude: str | None = None):
    for raw in reversed(state.get("proposals", [])):
        if raw["round"] != state["round"]:
            return None
        if raw["author"] != exclude and author in (None, raw["author"]):
            return Proposal.model_validate(raw)
    return None


def _finished(state: dict[str, Any]) -> tuple[list[FinalConfig], list[TrialSummary]]:
    finals = [FinalConfig.model_validate(f) for f in state["finals"]]
    trials = [TrialSummary.model_validate(t) for t in state["trials"]]
    return finals, trials


def build_hpo_graph(
    runtime: lab.LabRuntime, checkpointer: BaseCheckpointSaver | None = None
) -> tuple[CompiledStateGraph, StateGraph]:
    """The compiled lab graph and its builder (`compiled.get_graph().draw_mermaid_png()`).
    With --workers N the executor node, `executor_xN`, trains each round's batch as Ray tasks."""
    nodes = HPONodes(runtime, checkpointer)
    builder = StateGraph(HPOState, context_schema=LabContext, input_schema=LabInput)
    workers = runtime.settings.workers
    executor = "executor" if workers == 1 else f"executor_x{workers}"
    for name in (
        "init",
        "consultant_a",
        "consultant_b",
        "supervisor",
        "executor",
        "analyst",
        "researcher",
        "ask_proposal",
        "record",
        "finalize",
    ):
        builder.add_node(executor if name == "executor" else name, nodes.per_run(name))
    builder.add_edge(START, "init")
    builder.add_edge("init", "consultant_a")
    builder.add_edge("consultant_a", "consultant_b")
    builder.add_conditional_edges("consultant_b", nodes.route("after_consultation"))
    builder.add_edge("supervisor", executor)
    builder.add_edge(executor, "analyst")
    builder.add_edge("analyst", "researcher")
    builder.add_node("proposal", build_proposal_graph(proposals.team(runtime))[0])
    builder.add_conditional_edges("researcher", nodes.route("after_research"))
    builder.add_edge("ask_proposal", "proposal")
    builder.add_edge("proposal", "record")
    builder.add_conditional_edges("record", nodes.route("after_round"))
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer), builder
