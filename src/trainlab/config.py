"""Settings: one typed object per job, built from CLI flags over environment defaults.

Secrets (API keys) are never part of these objects: they are read from the environment at the
moment a client is built, so dumping settings to config.json can never leak one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from trainlab.search.objectives import Goal

DatasetName = Literal["cifar10", "digits", "synthetic"]
TrackerName = Literal["none", "tensorboard", "mlflow"]  # reporting/trackers.py
# env-key role name (GEMINI_API_KEY_<ROLE>, --models.<role>) → the graph node it serves
ROLE_NODES: dict[str, str] = {
    "gen_a": "consultant_a",
    "gen_b": "consultant_b",
    "supervisor": "supervisor",
    "exec": "analyst",
    "researcher": "researcher",
}
ROLES: tuple[str, ...] = tuple(ROLE_NODES)
# Gemini model ids, the one place they are written. Source: the endpoint table "All Gemini 3
# models" of https://ai.google.dev/gemini-api/docs/models (checked 2026-12-02): gemini-3.8-flash
# is the newest stable flash model, gemini-3.1-pro-preview the pro model (a preview); the 2.5
# family reached end of life on 2026-12-01.
FLASH_MODEL = "gemini-3.8-flash"
PRO_MODEL = "gemini-3.1-pro-preview"
DEFAULT_MODELS: dict[str, str] = {role: FLASH_MODEL for role in ROLES} | {"supervisor": PRO_MODEL}


def default_data_dir() -> Path:
    """Where datasets are downloaded once and reused (never per trial)."""
    return Path.home() / ".cache" / "trainlab" / "data"


class TrainSettings(BaseModel):
    """How one trial is trained; the hyperparameters themselves live in space.HParams."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: int = Field(20, ge=1, description="epochs per trial")
    patience: int = Field(8, ge=1, description="early-stopping patience")
    scheduler: Literal["none", "cosine", "onecycle"] = Field(
        "cosine",
        description="learning-rate schedule; cosine has a short linear warmup; onecycle peaks "
        "at --lr (OneCycleLR)",
    )
    augment: Literal["none", "basic", "strong"] = Field(
        "basic", description="basic: random crop + flip; strong: also mild colour jitter"
    )
    amp: bool = Field(True, description="mixed precision on CUDA (bf16 where supported, else fp16)")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    seed: int = Field(1337, description="seed for everything")
    save_checkpoints: bool = Field(True, description="keep checkpoint_best.pt per trial")
    model_width: int = Field(
        64, ge=4, description="ResNet-9 base width", json_schema_extra={"flag": "--width"}
    )
    precise_bn_images: int = Field(
        4096, ge=0,
        description="before each evaluation, re-estimate BatchNorm statistics on up to this "
        "many training images (the running averages lag the weights in a short trial); 0 "
        "evaluates with the running averages",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _drop_num_workers(cls, data: Any) -> Any:
        """`num_workers` was accepted and never read (data is in memory, no DataLoader): the
        key of older config.json files is dropped so those runs still resume."""
        if isinstance(data, dict) and "num_workers" in data:
            data = {k: v for k, v in data.items() if k != "num_workers"}
        return data


class DataSettings(BaseModel):
    """Which data a job trains on and how it is split."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: DatasetName = Field(
        "cifar10",
        description="cifar10 (downloaded once), digits (scikit-learn, offline) or "
        "synthetic (tests)",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir, description="dataset cache, shared by all runs"
    )
    val_split: float = Field(
        0.0, ge=0.0, lt=1.0,
        description="hold this fraction of train out for validation; 0 validates on the test "
        "split (recorded as val_and_test_same_dataset)",
    )  # fmt: skip
    train_fraction: float = Field(
        1.0, gt=0.0, le=1.0,
        description="train on a seeded stratified fraction of the training split (a quick "
        "search on less data); validation, test and normalization stay those of the full split",
    )  # fmt: skip


class LabSettings(BaseModel):
    """Everything the HPO lab needs for one run (written to config.json)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rounds: int = Field(10, ge=1, description="HPO rounds")
    consult_turns: int = Field(2, ge=1, description="consultant exchanges per round")
    stagnation_rounds: int = Field(
        3, ge=0, description="after K rounds without a new best, ask for a research proposal; "
        "0: never",
    )  # fmt: skip
    output_dir: Path = Field(
        Path("runs"), description="run folders are created here as <timestamp>/"
    )
    anonymize: bool = Field(
        True, description="never name the dataset or model in agent-facing text"
    )
    offline: bool = Field(False, description="use the offline policies even if keys are set")
    search_provider: Literal["auto", "gemini", "cse", "arxiv", "offline"] = Field(
        "auto", description="where the researcher looks for remedies; auto: the first the keys "
        "allow",
    )  # fmt: skip
    models: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MODELS), description="LLM model id"
    )
    draw_graph: bool = Field(False, description="save the workflow as RUN_DIR/graph.png")
    tracker: TrackerName = Field(
        "none",
        description="also log each trial's hyperparameters, per-epoch metrics and summary to "
        "TensorBoard (RUN_DIR/tb) or MLflow (RUN_DIR/mlflow.db); none: only the run folder",
    )
    sampler: Literal["tpe", "cmaes"] = Field(
        "tpe", description="the run's Optuna sampler (its study is RUN_DIR/optuna.db)"
    )
    agent_share: float = Field(
        0.3, ge=0.0, le=1.0, description="share of the trials given to the consultants' "
        "proposal when it differs from the optimizer's",
    )  # fmt: skip
    budget_epochs: int | None = Field(
        None, gt=0, description="epochs the run may spend in all; the run ends when they or "
        "--rounds run out (default: rounds × workers × epochs)",
    )  # fmt: skip
    pruner: Literal["none", "asha", "hyperband", "median", "predictive"] = Field(
        "asha", description="stop bad trials early; predictive: the convergence predictor"
    )
    workers: int = Field(
        1, ge=1, description="trials trained at once; above 1 each round runs a batch of up to "
        "N distinct configurations as Ray tasks (a local Ray runtime unless --ray-address)",
    )  # fmt: skip
    ray_address: str | None = Field(
        None, description="join a Ray cluster: auto or ray://host:port (the run folder must be "
        "on storage every node shares); default: start a local runtime",
    )  # fmt: skip
    gpus_per_trial: float = Field(
        0.0, ge=0.0, description="GPUs per trial with --workers > 1; fractional: 0.25 puts four "
        "trials on one GPU",
    )  # fmt: skip
    cpus_per_trial: float = Field(
        1.0, gt=0.0, description="CPUs per trial with --workers > 1 (also its torch threads)"
    )
    checkpointer: str = Field(
        "sqlite", repr=False, description="the graph's checkpoints: sqlite (RUN_DIR/"
        "checkpoints.sqlite) or postgresql://user@host/db (password: in the URL or "
        "TRAINLAB_DB_PASSWORD; never written anywhere)",
    )  # fmt: skip
    storage: str | None = Field(
        None, repr=False, description="the Optuna study: sqlite:///PATH or "
        "postgresql://user@host/db (shared by several lab processes); default: "
        "sqlite:///RUN_DIR/optuna.db",
    )  # fmt: skip
    adopt_components: bool = Field(
        False, description="add an optimizer that a stagnation proposal's validation on the "
        "lab's data found significantly better to the search space for the remaining rounds "
        "(evidence: RUN_DIR/adopted.json)",
    )  # fmt: skip
    # --- objectives, constraints, time budget, warm start (search/objectives.py) ---
    objective: tuple[Literal["accuracy", "latency", "params"], ...] = Field(
        ("accuracy",), min_length=1, description="what the study optimizes: accuracy, "
        "accuracy,latency or accuracy,params (multi-objective: the width is searched, trials "
        "are not pruned, the report shows the Pareto front)",
        json_schema_extra={"noun": "objective"},
    )  # fmt: skip
    min_accuracy: float | None = Field(
        None, ge=0.0, le=1.0, description="constraint: validation accuracy at least this"
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="constraint: inference ms per image (batch 1) at most this; "
        "needs latency or params as an objective",
    )  # fmt: skip
    max_memory_mb: float | None = Field(
        None, gt=0, description="constraint: training memory at the trial's batch at most this "
        "(the batch finder's probe); the executor starts at the largest batch that fits",
    )  # fmt: skip
    time_budget: float | None = Field(
        None, gt=0, description="minutes the run may spend; it ends after the trial in flight",
        json_schema_extra={"flag": "--time-budget"},
    )  # fmt: skip
    warm_start: Literal["prior", "suggest", "none"] = Field(
        "prior", description="round 1: the literature prior, the suggest tool's configuration "
        "or the optimizer's first ask",
    )  # fmt: skip
    train: TrainSettings = Field(default_factory=TrainSettings)
    data: DataSettings = Field(default_factory=DataSettings)

    @field_validator("tracker")
    @classmethod
    def _tracker_installed(cls, name: str) -> str:
        """The tracker's package must be installed (found, not imported: parsing stays fast)."""
        from trainlab.reporting.trackers import TrackerUnavailableError, require_tracker

        try:
            require_tracker(name)
        except TrackerUnavailableError as exc:
            raise ValueError(str(exc).removeprefix(f"--tracker {name}: ")) from None
        return name

    @field_validator("checkpointer", "storage")
    @classmethod
    def _database_url(cls, value: str | None, info: Any) -> str | None:
        """The URL parses (its server is checked before a run starts: commands/lab.py)."""
        from trainlab.persistence.urls import parse_checkpointer_url, parse_storage_url

        parse = parse_checkpointer_url if info.field_name == "checkpointer" else parse_storage_url
        try:
            parse(value, Path("."))
        except ValueError as exc:
            flag = f"--{info.field_name} "
            raise ValueError(str(exc).removeprefix(flag).removeprefix(flag.strip())) from None
        return value

    @field_serializer("checkpointer", "storage")
    def _redacted(self, value: str | None) -> str | None:
        """config.json and every dump keep the URL without its password."""
        from trainlab.persistence.urls import redact_url

        return value and redact_url(value)

    @model_validator(mode="after")
    def _execution_valid(self) -> LabSettings:
        from trainlab.execution.ray_backend import validate_ray_settings

        validate_ray_settings(self.ray_settings)
        in_process = [flag for flag, used in self._in_process_only() if used]
        if self.workers > 1 and in_process:
            raise ValueError(
                f"{in_process[0]} with --workers {self.workers}: it runs one trial at a time "
                "for now; drop one of the two"
            )
        if self.workers > 1 and self.train.device.startswith("cuda") and not self.gpus_per_trial:
            # Ray hides the GPUs from a task that asks for none
            raise ValueError(
                f"--device {self.train.device} with --workers {self.workers} needs "
                "--gpus-per-trial > 0 (e.g. 0.25 for four trials per GPU)"
            )
        return self

    def _in_process_only(self) -> list[tuple[str, bool]]:
        """The options a batch of Ray tasks does not carry yet (README: Scale out)."""
        return [
            ("--adopt-components", self.adopt_components),
            (f"--objective {','.join(self.objective)}", self.objective != ("accuracy",)),
            ("--time-budget", self.time_budget is not None),
            ("--max-memory-mb", self.max_memory_mb is not None),
        ]

    @property
    def ray_settings(self) -> Any:
        """How the batches run on Ray (execution.RaySettings)."""
        from trainlab.execution.ray_backend import RaySettings

        return RaySettings(
            workers=self.workers,
            address=self.ray_address,
            cpus_per_trial=self.cpus_per_trial,
            gpus_per_trial=self.gpus_per_trial,
        )

    @model_validator(mode="after")
    def _goal_fits(self) -> LabSettings:
        """Objectives, constraints and sampler that work together (one line naming the fix)."""
        from trainlab.search.objectives import ALLOWED
        from trainlab.space import WIDTHS

        objective = ",".join(self.objective)
        if self.objective not in ALLOWED:
            choices = " or ".join(",".join(a) for a in ALLOWED)
            raise ValueError(f"--objective {objective}: use {choices}")
        multi = len(self.objective) > 1
        if multi and self.adopt_components:
            raise ValueError(f"--adopt-components with --objective {objective}: adoption "
                             "compares accuracy only; use one of the two")  # fmt: skip
        if self.max_latency_ms is not None and not multi:
            raise ValueError("--max-latency-ms: latency only varies when the width is searched; "
                             "add --objective accuracy,latency")  # fmt: skip
        constrained = any(v is not None for v in (self.min_accuracy, self.max_latency_ms,
                                                  self.max_memory_mb))  # fmt: skip
        if self.sampler == "cmaes" and (multi or constrained):
            raise ValueError("--sampler cmaes: CMA-ES optimizes one objective and ignores "
                             "constraints; use --sampler tpe")  # fmt: skip
        if multi and self.train.model_width not in WIDTHS:
            raise ValueError(f"--width {self.train.model_width}: with --objective {objective} "
                             f"the width is searched over {', '.join(map(str, WIDTHS))}; "
                             "start from one of them")  # fmt: skip
        return self

    @property
    def goal(self) -> Goal:
        """The run's objectives and constraint limits (search.objectives.Goal)."""
        from trainlab.search.objectives import CONSTRAINTS, Goal

        limits = {name: getattr(self, name) for name in CONSTRAINTS}
        return Goal(self.objective, {k: v for k, v in limits.items() if v is not None})

    @property
    def epoch_budget(self) -> int:
        """--budget-epochs, else rounds × workers × epochs."""
        return self.budget_epochs or self.rounds * self.workers * self.train.epochs
