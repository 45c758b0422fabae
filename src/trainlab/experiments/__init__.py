"""Measure a component against its baseline over paired seeds, through the trainer."""

from trainlab.experiments.config import ArmSpec, ExperimentConfig
from trainlab.experiments.results import ExperimentResult
from trainlab.experiments.runner import ExperimentRunner

__all__ = ["ArmSpec", "ExperimentConfig", "ExperimentResult", "ExperimentRunner"]
