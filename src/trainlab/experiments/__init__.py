"""Measure a component against its baseline over paired seeds, through the trainer."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from trainlab.experiments.config import ArmSpec, ExperimentConfig

_HEAVY = {"ExperimentResult": "results", "ExperimentRunner": "runner"}  # import torch

__all__ = ["ArmSpec", "ExperimentConfig", "ExperimentResult", "ExperimentRunner"]


def __getattr__(name: str) -> Any:
    """The runner and its results on first use, so reading a config never loads torch."""
    if name in _HEAVY:
        return getattr(import_module(f"trainlab.experiments.{_HEAVY[name]}"), name)
    raise AttributeError(f"module 'trainlab.experiments' has no attribute {name!r}")
