"""notebooks/quickstart.ipynb runs top to bottom headless (nbclient, a real kernel) offline on
digits, one tiny round (TRAINLAB_NOTEBOOK_QUICK=1), opened from notebooks/ as Jupyter does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"

pytestmark = pytest.mark.slow


def _text(cell: dict) -> str:
    """Everything a code cell showed: streams and the plain-text form of displays."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    output = tmp_path_factory.mktemp("notebook-runs")
    saved = dict(os.environ)
    os.environ.update(TRAINLAB_NOTEBOOK_QUICK="1", TRAINLAB_NOTEBOOK_OUTPUT=str(output))
    os.environ.update(OMP_NUM_THREADS="1")
    for key in [k for k in os.environ if k.startswith(("GEMINI_", "OPENAI_"))]:
        del os.environ[key]
    try:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        client = nbclient.NotebookClient(
            notebook, timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    texts = [_text(cell) for cell in notebook.cells if cell.cell_type == "code"]
    return texts, output


def test_every_cell_runs_and_the_trials_table_is_printed(executed) -> None:
    texts, _ = executed
    everything = "\n".join(texts)
    assert "No key: offline agents" in everything
    assert "Trials" in everything and "exit code 0" in everything
    assert "round 1/1 · trial complete" in everything  # plain lines, not a live widget


def test_the_run_folder_holds_the_artifacts(executed) -> None:
    _, output = executed
    (run,) = output.glob("2*/")
    for name in ("report.md", "trials_summary.csv", "hpo_progress.png", "graph.png"):
        assert (run / name).is_file()


def test_the_resume_cell_finds_the_run_finished(executed) -> None:
    texts, _ = executed
    assert any("already finished; nothing to resume" in text for text in texts)
