"""What `main.py suggest` is asked: one typed object, help text on the fields (no torch)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SuggestSettings(BaseModel):
    """The suggest command's options (the data comes from DataSettings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(16, ge=4, description="ResNet-9 base width to train")
    epochs: int = Field(20, ge=1, description="epochs you plan to train")
    max_memory_mb: float | None = Field(
        None, gt=0, description="memory budget for the batch finder (None: the device's free "
        "memory × 0.8)",
    )  # fmt: skip
    lr_steps: int = Field(200, ge=1, description="LR range test steps")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    seed: int = Field(1337, description="seed")
    output_dir: Path = Field(
        Path("runs"),
        description="lr_find.png and suggestion.json go to <output-dir>/<timestamp>-suggest/",
    )
