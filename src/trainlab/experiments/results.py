"""What an experiment produced: per-seed records, per-arm results and the comparison."""

from __future__ import annotations

from pydantic import BaseModel

from trainlab.experiments.config import ArmSpec, ExperimentConfig
from trainlab.experiments.stats import Comparison, Verdict


class SeedRecord(BaseModel):
    """What one trial of one arm produced."""

    seed: int
    status: str
    reason: str | None = None
    test_acc: float | None
    test_f1: float | None
    test_ece: float | None
    val_nll: float | None  # validation cross-entropy of the final weights
    final_train_loss: float | None  # the arm's own training objective, last epoch
    seconds: float
    peak_memory_mb: float | None  # CUDA: this trial's peak; CPU: the process's high-water mark
    device: str
    epochs_run: int
    val_acc_curve: list[float]
    train_loss_curve: list[float]
    trial_dir: str


class ArmResult(BaseModel):
    spec: ArmSpec
    label: str
    learning_rate: float
    parameters: int
    state_mb: float  # parameters, buffers and optimizer state after one step
    records: list[SeedRecord]

    def values(self, metric: str) -> list[float | None]:
        return [getattr(r, metric) for r in self.records]


class ExperimentResult(BaseModel):
    name: str
    config: ExperimentConfig
    baseline: ArmResult
    candidate: ArmResult
    comparisons: list[Comparison]
    verdict: Verdict  # on test accuracy
    device: str
    machine: str
    created: str
    directory: str

    def comparison(self, metric: str) -> Comparison:
        return next(c for c in self.comparisons if c.metric == metric)
