"""What `main.py deploy` does to a run's model: one typed object, help text on the fields."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Step = Literal["export", "quantize", "prune", "distill"]
STEPS: tuple[Step, ...] = ("export", "quantize", "prune", "distill")


class DeploySettings(BaseModel):
    """The deploy command's options (also written to deploy/results.json)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_dir: Path = Field(..., description="a lab or `train` run folder")
    trial: int | None = Field(
        None, ge=0, description="deploy trial_K (None: the run's best completed trial)"
    )
    steps: tuple[Step, ...] = Field(
        STEPS,
        description="comma-separated steps; quantize implies export",
        json_schema_extra={"noun": "step"},
    )
    sparsity: float = Field(
        0.5, ge=0.0, lt=1.0, description="global magnitude pruning: fraction of weights zeroed"
    )
    channel_sparsity: float = Field(
        0.25, ge=0.0, lt=1.0, description="structured pruning: fraction of conv channels removed"
    )
    finetune_epochs: int = Field(2, ge=1, description="fine-tune epochs after pruning")
    student_width: int | None = Field(
        None, ge=4, description="distilled student's ResNet-9 width (None: half the teacher's)"
    )
    student_epochs: int | None = Field(
        None, ge=1, description="epochs for each student (None: the run's --epochs)"
    )
    temperature: float = Field(4.0, gt=0.0, description="distillation temperature T")
    alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="weight of the hard-label loss (1: no teacher)"
    )
    calibration_images: int = Field(
        256, ge=1, description="training images that calibrate static INT8 quantization"
    )
    max_drop: float = Field(
        1.0, ge=0.0, description="reject an artifact losing more test accuracy points than this"
    )
    repeats: int = Field(30, ge=3, description="timed repeats per latency figure (median)")
    device: str = Field("auto", description="where fine-tunes and students train")

    @field_validator("steps")
    @classmethod
    def _ordered_steps(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        if not steps:
            raise ValueError("name at least one step")
        wanted = set(steps) | ({"export"} if "quantize" in steps else set())
        return tuple(s for s in STEPS if s in wanted)
