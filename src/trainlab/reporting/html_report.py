"""report.html: the run report as one self-contained page (images inlined as base64)."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from trainlab.reporting.pareto import PARETO_PNG, TradeoffTable
from trainlab.reporting.run_report import (
    ADOPTED_TITLE,
    SAME_SPLIT_NOTE,
    adoption_text,
    best_config_rows,
    format_accuracy,
    same_split,
    trial_rows,
)
from trainlab.reporting.trackers import viewer_commands
from trainlab.runstore import atomic_write_bytes
from trainlab.state import Analysis, FinalConfig, ResearchNote, TrialSummary

PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
       padding: 0 1rem; color: #222; background: #fff; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f3f5f8; } td.text, th.text { text-align: left; }
tr.best { background: #fff8dc; font-weight: 600; } td.broken { color: #b91c1c; }
.status { border-radius: .6rem; padding: 0 .5rem; color: #fff; background: #6b7280; }
.status-complete { background: #15803d; } .status-pruned { background: #b45309; }
.status-diverged, .status-failed { background: #b91c1c; }
.note { background: #eef4ff; border-left: 4px solid #3b6fd8; padding: .4rem .8rem; }
code, pre { background: #f3f5f8; padding: .1rem .3rem; }
img { max-width: 100%; } details { margin: .8rem 0; } summary { cursor: pointer; }
</style></head>
<body>
<h1>$title</h1>
$body
</body></html>
""")


def write_html_report(
    run_dir: Path, state: Mapping[str, Any], tradeoffs: TradeoffTable | None = None
) -> Path:
    """Write run_dir/report.html from the lab's final state and the plots in the run folder
    (and the trade-offs of a run with several objectives or constraints)."""
    finals = [FinalConfig.model_validate(f) for f in state.get("finals", [])]
    trials = [TrialSummary.model_validate(t) for t in state.get("trials", [])]
    rows = trial_rows(finals, trials)
    best = state.get("best")
    sections = [
        _trials_section(rows, best),
        _viewers_section(run_dir),
        _best_section(best),
        _tradeoffs_section(run_dir, tradeoffs),
        _not_complete_section(finals, trials),
        _section("Progress", _image(run_dir / "hpo_progress.png", "HPO progress")),
        _rounds_section(run_dir, finals, trials, state),
        _proposals_section(state.get("research_proposals", [])),
        _list_section(ADOPTED_TITLE, [adoption_text(a) for a in state.get("adopted", [])]),
    ]
    title = f"HPO lab report — {run_dir.name}"
    page = PAGE.substitute(title=_e(title), body="\n".join(s for s in sections if s))
    path = run_dir / "report.html"
    atomic_write_bytes(path, page.encode())
    return path


def _trials_section(rows: Sequence[dict], best: Mapping[str, Any] | None) -> str:
    heads = ["#", "optimizer", "lr", "batch", "wd", "ls", "status", "val acc", "test acc"]
    body = []
    for row in rows:
        css = ' class="best"' if best and row["round"] == best["round"] else ""
        cells = [
            str(row["round"]),
            _e(row["optimizer"]),
            f"{row['learning_rate']:.3g}",
            f"{row['train_batch_size']}{' (OOM step-down)' if row['oom_adjusted'] else ''}",
            f"{row['weight_decay']:.3g}",
            f"{row['label_smoothing']:.3g}",
            _status(row["status"]),
            format_accuracy(row["best_val_acc"]),
            format_accuracy(row["test_acc"]),
        ]
        body.append(f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    note = _note(SAME_SPLIT_NOTE) if same_split(rows) else ""
    table = _table(heads, body, "trials") if rows else "<p>No trial finished.</p>"
    return _section("Trials", table + note)


def _best_section(best: Mapping[str, Any] | None) -> str:
    if best is None:
        return _section("Best configuration", "<p>No trial completed.</p>")
    pairs = best_config_rows(best)
    body = [f'<tr><td class="text">{_e(k)}</td><td>{_e(v)}</td></tr>' for k, v in pairs]
    text = (
        f"<p>Round {best['round']}: validation accuracy {format_accuracy(best['best_val_acc'])}, "
        f"test accuracy {format_accuracy(best['test_acc'])} (seed {best['seed']}, "
        f"device {_e(best['device'])}).</p>"
    )
    return _section("Best configuration", text + _table(["hyperparameter", "value"], body))


def _tradeoffs_section(run_dir: Path, table: TradeoffTable | None) -> str:
    """Each trial's objectives and constraints; the Pareto front highlighted, broken
    constraints marked."""
    if table is None:
        return ""
    body = []
    for cells, front, broken in zip(table.cells, table.front, table.broken, strict=True):
        css = ' class="best"' if front else ""
        tds = "".join(f"<td>{_e(c)}</td>" for c in cells[:-1])
        mark = ' class="text broken"' if broken else ' class="text"'
        body.append(f"<tr{css}>{tds}<td{mark}>{_e(cells[-1])}</td></tr>")
    text = f"<p>Goal: {_e(table.goal_text)}.</p>" + _table(table.heads, body, "tradeoffs")
    text += _image(run_dir / PARETO_PNG, "Pareto front")
    return _section("Objectives and constraints", text)


def _not_complete_section(finals: Sequence[FinalConfig], trials: Sequence[TrialSummary]) -> str:
    """Pruned, diverged or failed trials, whatever the status, with the recorded reason."""
    body = [
        f"<tr><td>{final.round}</td><td>{_status(trial.status)}</td>"
        f'<td>{trial.epochs_run}</td><td class="text">{_e(trial.reason or "")}</td></tr>'
        for final, trial in zip(finals, trials, strict=False)
        if trial.status != "complete"
    ]
    heads = ["#", "status", "epochs run", "reason"]
    table = _table(heads, body) if body else "<p>Every trial completed.</p>"
    return _section("Stopped trials (pruned, diverged, failed)", table)


def _rounds_section(
    run_dir: Path,
    finals: Sequence[FinalConfig],
    trials: Sequence[TrialSummary],
    state: Mapping[str, Any],
) -> str:
    """Per round: the decision and its justification, the analyst's reading, the researcher's
    remedies and the trial's learning curves."""
    analyses = {a["round"]: Analysis.model_validate(a) for a in state.get("analyses", [])}
    notes = {n["round"]: ResearchNote.model_validate(n) for n in state.get("research", [])}
    parts = []
    for final, trial in zip(finals, trials, strict=False):
        folder = run_dir / Path(trial.trial_dir).name  # the run folder may have moved
        inner = [
            f"<p><b>Decision</b> ({_e(final.source)}, {_e(final.policy)}): "
            f"{_e(final.justification)}</p>",
            _list(final.warnings, "Warnings"),
            _analysis(analyses.get(final.round)),
            _research(notes.get(final.round)),
            _image(folder / "combined.png", f"learning curves of round {final.round}"),
        ]
        head = f"Round {final.round}: {_e(final.hparams.brief())} {_status(trial.status)}"
        parts.append(f"<details open><summary>{head}</summary>{''.join(inner)}</details>")
    return _section("Rounds", "".join(parts)) if parts else ""


def _analysis(analysis: Analysis | None) -> str:
    if analysis is None:
        return ""
    flags = ", ".join(analysis.flags) or "none"
    return f"<p><b>Analyst</b> (flags: {_e(flags)}): {_e(analysis.summary)}</p>"


def _research(note: ResearchNote | None) -> str:
    if note is None or not note.remedies:
        return ""
    items = [f"{r.action} [{r.flag}] ({r.reference})" for r in note.remedies]
    return _list(items, f"Researcher ({note.policy})")


def _proposals_section(proposals: Sequence[Mapping[str, Any]]) -> str:
    items = [
        f"round {p['lab_round']}: {p['title']} ({', '.join(p['components']) or 'no'} "
        f"components) — {p['verdict']}"
        for p in proposals
    ]
    return _section("Research proposals (the lab stagnated)", _list(items)) if items else ""


def _list_section(title: str, items: Sequence[str]) -> str:
    return _section(title, _list(items)) if items else ""


def _viewers_section(run_dir: Path) -> str:
    commands = viewer_commands(run_dir)
    body = "".join(f"<pre>{_e(c)}</pre>" for c in commands)
    return _section("Open this run in", body) if commands else ""


def _section(title: str, body: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{body}</section>"


def _table(heads: Sequence[str], rows: Iterable[str], css_id: str = "") -> str:
    ident = f' id="{css_id}"' if css_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _list(items: Sequence[str], label: str = "") -> str:
    if not items:
        return ""
    title = f"<p><b>{_e(label)}</b></p>" if label else ""
    return title + "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _image(path: Path, alt: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _status(status: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in status)
    return f'<span class="status status-{slug}">{_e(status)}</span>'


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _e(value: Any) -> str:
    return html.escape(str(value))
