"""Record builders shared by the unit tests of the lab's agents, analysis and display."""

from __future__ import annotations

from typing import Any

from trainlab.space import HParams
from trainlab.state import TrialSummary


def trial_summary(hp: HParams, status: str = "complete", **fields: Any) -> TrialSummary:
    """A trial summary with plain defaults; `fields` overrides any of them."""
    defaults: dict[str, Any] = {
        "requested_hparams": hp,
        "effective_hparams": hp,
        "val_and_test_same_dataset": True,
        "seed": 0,
        "device": "cpu",
        "seconds": 1.0,
        "trial_dir": "x",
    }
    return TrialSummary(status=status, **(defaults | fields))
