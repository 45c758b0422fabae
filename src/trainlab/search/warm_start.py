"""Round 1 of the lab (--warm-start): the literature prior (the supervisor's own choice), the
suggest tool's configuration (tools/suggest.py) or the optimizer's first ask."""

from __future__ import annotations

from pathlib import Path

from trainlab.config import LabSettings
from trainlab.runstore import write_json
from trainlab.search.study import SearchStudy
from trainlab.state import FinalConfig

SUGGESTION_FILE = "suggestion.json"


def warm_start(
    settings: LabSettings, study: SearchStudy, final: FinalConfig, trial_dir: Path
) -> FinalConfig:
    """Round 1's decision under --warm-start (any other round, or prior: `final` itself)."""
    mode = settings.warm_start
    if final.round != 1 or mode == "prior":
        return final
    if mode == "none":
        hparams, source = study.peek(1), "consultant_a"
        why = "--warm-start none: round 1 is the optimizer's first ask."
    else:
        suggestion = _suggest(settings)
        write_json(trial_dir / SUGGESTION_FILE, suggestion.to_json())
        hparams, source = suggestion.hparams, "suggest"
        reasons = "; ".join(f"{k}: {v}" for k, v in suggestion.reasons.items())
        why = f"--warm-start suggest: the suggest tool's configuration ({reasons})."
    return FinalConfig(
        round=1, hparams=hparams, source=source, justification=why, policy=f"warm-start:{mode}"
    )


def _suggest(settings: LabSettings):  # -> tools.suggest.Suggestion (imports torch)
    from trainlab.tools.suggest import suggest
    from trainlab.training.data import load_splits
    from trainlab.training.device import resolve_device

    train = settings.train
    return suggest(
        load_splits(settings.data, train.seed),
        width=train.model_width,
        epochs=train.epochs,
        device=resolve_device(train.device),
        seed=train.seed,
        max_memory_mb=settings.max_memory_mb,
    )
