"""Terminal output: the lab's live progress display and its final table of trials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trainlab.config import LabSettings
from trainlab.reporting.run_report import SAME_SPLIT_NOTE, format_accuracy, same_split
from trainlab.state import TrialSummary


def run_banner(settings: LabSettings, run_dir: Path, resuming: bool) -> str:
    """The lab's first lines: what is about to run, where, and how to resume it after a crash."""
    train, data = settings.train, settings.data
    validation = (
        f"validation: {data.val_split:g} of train"
        if data.val_split
        else "validation = test split (--val-split 0)"
    )
    if data.train_fraction < 1:
        validation += f", training on {data.train_fraction:.0%} of the training split"
    what = (
        f"HPO lab: {data.dataset}, {settings.rounds} rounds × up to {train.epochs} epochs, "
        f"width {train.model_width}, device {_device_name(train.device)}, {validation}."
    )
    goal = settings.goal
    if goal.multi or goal.active or settings.time_budget:
        budget = f"; time budget {settings.time_budget:g} min" if settings.time_budget else ""
        what += f"\nGoal: {goal.describe()}{budget}."
    where = "Resuming" if resuming else "Run folder"
    return f"{what}\n{where} {run_dir} (after a crash: python main.py --resume {run_dir})"


def _device_name(requested: str) -> str:
    from trainlab.training.device import resolve_device  # torch: only when a lab starts

    try:
        return str(resolve_device(requested))
    except ValueError:
        return f"{requested} (not available here)"


class RichLabDisplay:
    """Two live bars: rounds (with the phase and best so far) and the epochs of the trial."""

    def __init__(self, console: Console, rounds: int, best: float | None = None) -> None:
        self.rounds, self.best = rounds, best
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.round_task = self.progress.add_task("rounds", total=rounds, info=self._best_text())
        self.epoch_task = self.progress.add_task("epochs", total=None, info="")
        self.trial_tasks: dict[str, Any] = {}  # a batch's trials in flight: folder → bar

    def __enter__(self) -> RichLabDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.remove_task(self.epoch_task)  # no stale "epochs 0/N" line at the end
        self._clear_trials()
        self.progress.stop()

    def batch(self, progress: Sequence[Any]) -> None:
        """One bar per trial of the batch (execution.TrialProgress): epoch, accuracy, slot."""
        for trial in progress:
            name = trial.trial_dir.name
            if name not in self.trial_tasks:
                self.trial_tasks[name] = self.progress.add_task(name, total=None, info="")
            self.progress.update(
                self.trial_tasks[name],
                completed=trial.epoch,
                total=trial.epochs or None,
                info=trial_line(trial),
            )

    def _clear_trials(self) -> None:
        for task in self.trial_tasks.values():
            self.progress.remove_task(task)
        self.trial_tasks.clear()

    def _best_text(self) -> str:
        return "best —" if self.best is None else f"best {self.best:.4f}"

    def decision(self, round_: int, role: str, policy: str) -> None:
        """Which policy served the role's decision, beside the best so far."""
        info = f"{self._best_text()} · {role}: {policy_label(policy)}"
        self.progress.update(self.round_task, info=info)

    def phase(self, round_: int, name: str) -> None:
        self.progress.update(
            self.round_task,
            description=f"round {round_}/{self.rounds} · {name:<12}",
            completed=max(round_ - 1, self.progress.tasks[self.round_task].completed),
        )

    def epoch(self, row: Mapping[str, Any]) -> None:
        self.progress.update(
            self.epoch_task,
            completed=row["epoch"],
            total=row.get("epochs"),
            info=f"loss {row['train_loss']:.3f} · val acc {row['val_acc']:.4f} · "
            f"{row['images_per_sec']:.0f} img/s",
        )

    def trial_done(self, round_: int, summary: TrialSummary) -> None:
        if summary.status == "complete" and summary.best_val_acc is not None:
            self.best = max(self.best or 0.0, summary.best_val_acc)
        self.progress.update(self.round_task, completed=round_, info=self._best_text())
        self.progress.reset(self.epoch_task, total=None, info=f"last trial: {summary.status}")
        if summary.trial_dir and Path(summary.trial_dir).name in self.trial_tasks:
            self.progress.remove_task(self.trial_tasks.pop(Path(summary.trial_dir).name))


class PlainLabDisplay:
    """The same progress as plain lines (a notebook keeps them as the cell's output; rich's live
    display there needs widgets that a saved or headless notebook does not show)."""

    def __init__(self, console: Console, rounds: int, best: float | None = None) -> None:
        self.console, self.rounds, self.best = console, rounds, best
        self.shown: dict[str, tuple] = {}  # a batch's trials: folder → what was last printed

    def __enter__(self) -> PlainLabDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def phase(self, round_: int, name: str) -> None:
        if name == "executor":
            self.console.print(f"round {round_}/{self.rounds} · training", highlight=False)

    def epoch(self, row: Mapping[str, Any]) -> None:
        self.console.print(
            f"  epoch {row['epoch']}/{row.get('epochs', '?')} · loss {row['train_loss']:.3f} · "
            f"val acc {row['val_acc']:.4f} · {row['images_per_sec']:.0f} img/s",
            highlight=False,
        )

    def decision(self, round_: int, role: str, policy: str) -> None:
        self.console.print(f"  {role}: {policy_label(policy)}", highlight=False)

    def batch(self, progress: Sequence[Any]) -> None:
        """A line per trial of the batch whenever its phase or epoch changes."""
        for trial in progress:
            now = (trial.phase, trial.epoch, trial.attempts)
            if self.shown.get(trial.trial_dir.name) != now:
                self.shown[trial.trial_dir.name] = now
                line = f"  {trial.trial_dir.name}: {trial_line(trial)}"
                self.console.print(line, highlight=False)

    def trial_done(self, round_: int, summary: TrialSummary) -> None:
        if summary.status == "complete" and summary.best_val_acc is not None:
            self.best = max(self.best or 0.0, summary.best_val_acc)
        best = "—" if self.best is None else f"{self.best:.4f}"
        self.console.print(
            f"round {round_}/{self.rounds} · trial {summary.status} · best {best}", highlight=False
        )


def trial_line(trial: Any) -> str:
    """A trial in flight (execution.TrialProgress) in words: phase, epoch, accuracy, slot."""
    if trial.phase == "queued":
        return "queued"
    acc = "—" if trial.val_acc is None else f"{trial.val_acc:.4f}"
    retried = f" · attempt {trial.attempts}" if trial.attempts > 1 else ""
    epoch = f"epoch {trial.epoch}/{trial.epochs or '?'}"
    return f"{trial.phase} · {epoch} · val acc {acc} · {trial.slot}{retried}"


def policy_label(policy: str) -> str:
    """Who served a decision, in words: the LLM (its model id), an offline policy, or an
    offline one because the LLM call failed or the endpoint's circuit breaker is open."""
    kind, _, rest = policy.partition(":")
    if kind == "llm":
        return f"LLM {rest}"
    name, _, why = rest.partition(" (")
    if why.startswith("circuit open"):
        return f"offline {name} (circuit breaker open)"
    if why.startswith("fallback"):
        return f"offline {name} (LLM call failed)"
    return f"offline {name}"


def lab_display(
    console: Console, rounds: int, best: float | None = None
) -> RichLabDisplay | PlainLabDisplay:
    """Live bars in a terminal, plain lines in a notebook (Jupyter, Colab)."""
    return (PlainLabDisplay if console.is_jupyter else RichLabDisplay)(console, rounds, best)


def trials_table(
    rows: Sequence[Mapping[str, Any]], best_round: int | None, best_acc: float | None = None
) -> Table:
    """The final table of trials, the best one marked with a star (in a round of several
    trials, `--workers`: the one with `best_acc`)."""
    best = next(
        (i for i, r in enumerate(rows) if r["round"] == best_round
         and best_acc in (None, r["best_val_acc"])),
        None,
    )  # fmt: skip
    caption = (
        "★ best validation accuracy   ↓ batch stepped down after out-of-memory   "
        "pruned@k: stopped by the pruner after k epochs"
    )
    table = Table(
        title="Trials",
        caption=caption + (f"\n{SAME_SPLIT_NOTE}" if same_split(rows) else ""),
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    for column in ("", "#", "opt", "lr", "bs", "wd", "ls", "status", "val acc", "test acc", "s"):
        table.add_column(column, justify="right", no_wrap=True)
    for i, row in enumerate(rows):
        table.add_row(
            "★" if i == best else "",
            str(row["round"]),
            row["optimizer"],
            f"{row['learning_rate']:.3g}",
            f"{row['train_batch_size']}{'↓' if row['oom_adjusted'] else ''}",
            f"{row['weight_decay']:.3g}",
            f"{row['label_smoothing']:.3g}",
            _status(row),
            format_accuracy(row["best_val_acc"]),
            format_accuracy(row["test_acc"]),
            f"{row['seconds']:.0f}",
        )
    return table


def _status(row: Mapping[str, Any]) -> str:
    if row["status"] == "pruned":
        return f"[yellow]pruned@{row['epochs_run']}[/]"
    return row["status"]
