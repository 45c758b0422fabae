"""K-1 continual-learning subgraph: prepare → train (chunks) → evaluate → … → report.

With `--structure on` the k1_structure (and k1_replay) job passes through a `structure` step
after every chunk (controller.py, operations.py: grow / prune / merge / reorganize with
rollback, phase-2 tuning); the agent tree is part of the learner checkpoint, so a resumed run
has the same agents.

Input (all optional): `settings`, a K1Settings override in JSON form, over the run context
(`K1Context`: Studio's form, tiny defaults), and `run_dir` (the CLI's; else a new run folder).
State holds settings, paths and metric records only; learner state lives in checkpoint files
on disk. With a checkpointer (thread id = run id, durability "sync") a crashed run resumes
after its last finished chunk of steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from pydantic import create_model

from trainlab.graphs import shared
from trainlab.graphs.context import ContextModel, context_as, merged, validated, with_default
from trainlab.graphs.k1_state import K1Input, K1State
from trainlab.k1 import experiment
from trainlab.k1.continual import CONTROLLED_METHODS
from trainlab.k1.report import write_report
from trainlab.k1.settings import K1Settings
from trainlab.runstore import RunFolder, new_run_dir, read_json

# K-1 in Studio: one tiny offline job (two domains, 8 steps each, a 1-layer model) in seconds
K1_STUDIO_DEFAULTS: dict[str, Any] = {
    "domains": ("prose", "code"),
    "steps_per_domain": 8,
    "chunk_steps": 4,
    "refresh_every": 2,
    "baselines": (),
    "seeds": 1,
    "device": "cpu",
    "batch_size": 4,
    "d_model": 16,
    "n_layers": 1,
    "n_heads": 2,
    "seq_len": 32,
    "max_train_bytes": 20_000,
    "max_val_bytes": 2_000,
    "eval_windows": 4,
}
K1Context = create_model(
    "K1Context",
    __base__=(K1Settings, ContextModel),
    __doc__="K-1's run settings (Studio's form), defaulting to one tiny offline job.",
    **{
        name: (field.annotation, with_default(field, value))
        for name, value in K1_STUDIO_DEFAULTS.items()
        if (field := K1Settings.model_fields[name])
    },
)


Event = Callable[[str, dict[str, Any]], None]  # ("step" | "chunk" | "eval", payload)


def _settings(state: K1State) -> K1Settings:
    return K1Settings.model_validate(state["settings"])


def _ignore(_kind: str, _payload: dict[str, Any]) -> None:
    return None


def supersteps(settings: K1Settings) -> int:
    """Train and structure steps per chunk plus one evaluation, per domain of every job."""
    chunks = -(-settings.steps_per_domain // settings.chunk_steps)
    jobs = len(settings.methods) * settings.seeds
    return jobs * len(settings.domains) * (2 * chunks + 1)


def _position(state: K1State) -> tuple[Any, ...]:
    """Where the run stands: (settings, run dir, data, job, domain, step, checkpoint)."""
    job = state["jobs"][state["job"]]
    return (
        _settings(state),
        Path(state["run_dir"]),
        state["data"],
        job,
        state["domain"],
        state["step"],
        state["ckpt"],
    )


class K1Nodes:
    """The node functions; `emit` receives progress events ("step", "chunk", "eval", …)."""

    def __init__(self, emit: Event) -> None:
        self.emit = emit

    def prepare(self, state: K1State, runtime: Runtime[K1Context]) -> dict[str, Any]:
        base = (context_as(K1Context, runtime.context) or K1Context()).model_dump(mode="json")
        settings = validated(K1Settings, merged(base, state.get("settings", {})), "settings")
        run_dir = Path(state.get("run_dir") or new_run_dir(settings.output_dir) / "k1")
        data = experiment.prepare_data(settings, run_dir)
        jobs = experiment.plan_jobs(settings)
        return {
            **{"run_dir": str(run_dir), "settings": settings.model_dump(mode="json")},
            **{"data": data, "jobs": jobs, "job": 0, "domain": 0, "step": 0, "ckpt": None},
        }

    def train(self, state: K1State) -> dict[str, Any]:
        where = {"job": state["job"], "domain": state["domain"]}
        record, ckpt = experiment.train_chunk(
            *_position(state), on_step=lambda loss: self.emit("step", {**where, "loss": loss})
        )
        self.emit("chunk", record)
        return {"chunks": [record], "step": record["end"], "ckpt": ckpt}

    def structure(self, state: K1State) -> dict[str, Any]:
        record, ckpt = experiment.structure_step(*_position(state))
        self.emit("structure", record)
        return {"structure": [record], "ckpt": ckpt}

    def evaluate(self, state: K1State) -> dict[str, Any]:
        settings = _settings(state)
        job = state["jobs"][state["job"]]
        record, ckpt = experiment.evaluate_domain(
            settings, Path(state["run_dir"]), state["data"], job, state["domain"], state["ckpt"]
        )
        self.emit("eval", record)
        if state["domain"] + 1 < len(settings.domains):
            return {"evals": [record], "domain": state["domain"] + 1, "step": 0, "ckpt": ckpt}
        return {"evals": [record], "job": state["job"] + 1, "domain": 0, "step": 0, "ckpt": None}

    @staticmethod
    def report(state: K1State) -> dict[str, Any]:
        settings = _settings(state)
        run_dir = Path(state["run_dir"])
        extra = {"machine": experiment.machine(), "device": settings.device}
        extra["data"] = experiment.read_manifest(run_dir)
        extra["structure"] = state.get("structure", [])
        paths = write_report(
            run_dir, settings, state["chunks"], state["evals"], state["jobs"], extra
        )
        experiment.drop_step_states(run_dir)
        return {"report": paths}

    @staticmethod
    def after_train(state: K1State) -> Literal["train", "structure", "evaluate"]:
        if state["jobs"][state["job"]]["method"] in CONTROLLED_METHODS:
            return "structure"
        return K1Nodes.after_structure(state)

    @staticmethod
    def after_structure(state: K1State) -> Literal["train", "evaluate"]:
        return "train" if state["step"] < _settings(state).steps_per_domain else "evaluate"

    @staticmethod
    def after_evaluate(state: K1State) -> Literal["train", "report"]:
        return "train" if state["job"] < len(state["jobs"]) else "report"


def build_k1_graph(
    checkpointer: BaseCheckpointSaver | None = None, on_event: Event | None = None
) -> tuple[CompiledStateGraph, StateGraph]:
    """The compiled K-1 graph and its builder; `on_event` receives progress events."""
    nodes = K1Nodes(on_event or _ignore)
    builder = StateGraph(K1State, context_schema=K1Context, input_schema=K1Input)
    for name in ("prepare", "train", "structure", "evaluate", "report"):
        builder.add_node(name, getattr(nodes, name))
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "train")
    builder.add_conditional_edges("train", nodes.after_train)
    builder.add_conditional_edges("structure", nodes.after_structure)
    builder.add_conditional_edges("evaluate", nodes.after_evaluate)
    builder.add_edge("report", END)
    return builder.compile(checkpointer=checkpointer), builder


def initial_state(settings: K1Settings, run_dir: Path) -> K1State:
    return {
        "run_dir": str(run_dir),
        "settings": settings.model_dump(mode="json"),
        "chunks": [],
        "evals": [],
        "structure": [],
    }


def new_thread_id(run_dir: Path) -> str:
    """A new run's thread: its run id (the run folder's name then, the timestamp)."""
    return run_dir.parent.name if run_dir.name == "k1" else run_dir.name


def run_config(run_dir: Path, settings: K1Settings) -> dict[str, Any]:
    """The thread recorded in the run's run.json (`RunFolder.begin`), so a renamed or moved
    folder resumes its own thread; a folder without one: its run id."""
    record = RunFolder(run_dir).record
    thread = read_json(record)["thread_id"] if record.is_file() else new_thread_id(run_dir)
    return shared.run_config(thread, supersteps(settings))
