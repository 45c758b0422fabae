"""In a notebook the lab's progress is plain lines (kept in the saved cell output); in a
terminal it stays the live display."""

from __future__ import annotations

import io

from lab_records import trial_summary
from rich.console import Console

from trainlab.reporting.console import PlainLabDisplay, RichLabDisplay, lab_display
from trainlab.space import HParams

HP = HParams(
    optimizer="sgd",
    learning_rate=0.05,
    train_batch_size=64,
    weight_decay=5e-4,
    label_smoothing=0.1,
)


def test_a_notebook_console_gets_plain_lines_a_terminal_the_live_bars() -> None:
    assert isinstance(lab_display(Console(force_jupyter=True), 2), PlainLabDisplay)
    assert isinstance(lab_display(Console(force_jupyter=False), 2), RichLabDisplay)


def test_plain_lines_name_the_round_each_epoch_and_the_best() -> None:
    out = io.StringIO()
    with PlainLabDisplay(Console(file=out, width=120, force_jupyter=False), rounds=2) as display:
        display.phase(1, "consultant_a")
        display.phase(1, "executor")
        row = {"epoch": 1, "epochs": 2, "train_loss": 0.5, "val_acc": 0.8, "images_per_sec": 900}
        display.epoch(row)
        display.trial_done(1, trial_summary(HP, best_val_acc=0.8))
    assert out.getvalue().splitlines() == [
        "round 1/2 · training",
        "  epoch 1/2 · loss 0.500 · val acc 0.8000 · 900 img/s",
        "round 1/2 · trial complete · best 0.8000",
    ]
