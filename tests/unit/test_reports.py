"""The run reports: report.md and report.html say what the run found, readably."""

from __future__ import annotations

from pathlib import Path

from lab_records import trial_summary

from trainlab.reporting.html_report import write_html_report
from trainlab.reporting.run_report import (
    progress_figure,
    trial_rows,
    write_report,
    write_run_artifacts,
)
from trainlab.space import HParams
from trainlab.state import FinalConfig

HP = HParams(
    optimizer="adam",
    learning_rate=0.0039261234,
    train_batch_size=32,
    weight_decay=0.000138123,
    label_smoothing=0.13421,
)
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)


def final(round_: int, justification: str = "picked A's proposal") -> dict:
    record = FinalConfig(
        round=round_, hparams=HP, source="consultant_a", justification=justification, policy="p"
    )
    return record.model_dump(mode="json")


def lab_state(run_dir: Path, statuses: tuple[str, ...] = ("complete", "failed")) -> dict:
    """A finished lab state with one trial per status, as the graph leaves it."""
    finals = [final(k + 1, f"<b>why {k + 1}</b>") for k in range(len(statuses))]
    trials = [
        trial_summary(
            HP,
            status,
            best_val_acc=0.9 if status == "complete" else None,
            trial_dir=f"/elsewhere/trial_{k}",
        )
        for k, status in enumerate(statuses)
    ]
    for k in range(len(statuses)):
        (run_dir / f"trial_{k}").mkdir(parents=True)
        (run_dir / f"trial_{k}" / "combined.png").write_bytes(PNG_1PX)
    best = write_run_artifacts(run_dir, [FinalConfig(**f) for f in finals], trials, seed=0)
    return {
        "finals": finals,
        "trials": [t.model_dump(mode="json") for t in trials],
        "best": best,
        "research": [
            {"round": 1, "query": "q", "remedies": [], "policy": "offline:knowledge-base"}
        ],
    }


def test_report_md_shows_the_best_configuration_as_a_table_to_3_significant_figures(tmp_path):
    state = lab_state(tmp_path)
    finals = [FinalConfig(**f) for f in state["finals"]]
    rows = trial_rows(finals, [trial_summary(HP, best_val_acc=0.9)] * 2)
    text = write_report(tmp_path, rows, state["best"]).read_text()
    assert "| learning_rate | 0.00393 |" in text and "| weight_decay | 0.000138 |" in text
    assert "{" not in text  # no raw dict


def test_reports_say_when_validation_and_test_are_the_same_split(tmp_path):
    state = lab_state(tmp_path)
    rows = trial_rows([FinalConfig(**f) for f in state["finals"]], [trial_summary(HP)])
    note = "validation = test split (--val-split 0)"
    assert note in write_report(tmp_path, rows, None).read_text()
    assert note in write_html_report(tmp_path, state).read_text()


def test_report_md_names_the_command_that_opens_the_tracker(tmp_path):
    (tmp_path / "tb").mkdir()
    text = write_report(tmp_path, [], None).read_text()
    assert f"tensorboard --logdir {tmp_path / 'tb'}" in text


def test_report_html_is_self_contained_with_every_trial_and_status_styled(tmp_path):
    state = lab_state(tmp_path, ("complete", "diverged", "failed"))
    page = write_html_report(tmp_path, state).read_text()
    assert page.count('src="data:image/png;base64,') == 4  # progress plot + 3 trials' curves
    assert 'src="http' not in page and "<link" not in page
    for status in ("diverged", "failed"):  # in the table, the stopped trials and the round
        assert page.count(f'<span class="status status-{status}">{status}</span>') == 3
    assert "&lt;b&gt;why 2&lt;/b&gt;" in page and "<b>why" not in page  # escaped justification
    assert 'id="trials"' in page and page.count('<tr class="best">') == 1


def test_progress_plot_has_integer_round_ticks_and_its_legend_outside_the_axes():
    rows = [{"round": r, "best_val_acc": 0.5 + r / 10, "status": "complete"} for r in (1, 2, 3)]
    fig = progress_figure(rows)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks == [1.0, 2.0, 3.0]
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # right of the axes: hides no point
