"""A real lab run's report.html renders in a real headless browser; its tracker logs each epoch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from test_hpo_lab import run_graph, tiny_settings

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)
needs_browser = pytest.mark.skipif(
    BROWSER is None,
    reason="no chromium installed: `make test` installs it (apt-get, as root); "
    "or apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> Path:
    settings = tiny_settings(tmp_path_factory.mktemp("reports"), rounds=2, turns=1)
    return run_graph(settings.model_copy(update={"tracker": "tensorboard"}))[0]


def headless(*args: str, url: str) -> subprocess.CompletedProcess:
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    return subprocess.run(
        [*command, *args, url], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.mark.slow
@needs_browser
def test_report_html_renders_a_non_blank_page_in_chromium(tracked_run, tmp_path):
    shot = tmp_path / "report.png"
    url = (tracked_run / "report.html").as_uri()
    headless("--window-size=1280,1600", f"--screenshot={shot}", url=url)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 1600)
    colours = image.getcolors(maxcolors=1 << 20)
    non_white = sum(count for count, rgb in colours if rgb != (255, 255, 255))
    assert len(colours) > 50 and non_white > 0.02 * 1280 * 1600


@pytest.mark.slow
@needs_browser
def test_report_html_dom_holds_the_trials_table_and_the_inline_plots(tracked_run):
    dom = headless("--dump-dom", url=(tracked_run / "report.html").as_uri()).stdout
    table = dom.split('<table id="trials">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == 3  # header + 2 trials
    assert dom.count('src="data:image/png;base64,') == 3  # progress + each trial's curves


@pytest.mark.slow
def test_tensorboard_tracker_logs_every_epoch_of_every_trial(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for trial in ("trial_0", "trial_1"):
        events = EventAccumulator(str(tracked_run / "tb" / trial))
        events.Reload()
        assert [e.step for e in events.Scalars("val_acc")] == [1, 2]
    assert f"tensorboard --logdir {tracked_run / 'tb'}" in (tracked_run / "report.md").read_text()
