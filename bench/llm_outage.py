"""LLM outage cost: a 1-round lab run (digits, 1 epoch, width 8) with every role and the
researcher's search pointed at a local black-hole server (accepts, never answers), at the
DEFAULT timeout, retry and breaker settings. Records wall time and connections accepted.

Cases: `cli` runs `python main.py` (which probes each endpoint before its first line);
`no-key` is the same command without a key (the baseline: what the run costs anyway);
`probe` times the CLI's probe alone (`build_advisors(probe_endpoints=True)` in process);
`mid-run` builds the runtime without the probe and runs the graph in process — the cost of an
endpoint that dies after a run has started.

    python bench/llm_outage.py                 # every case; prints the Markdown rows
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from test_llm_outage import BlackHole  # noqa: E402

from trainlab.agents.factory import build_advisors  # noqa: E402
from trainlab.config import DataSettings, LabSettings, TrainSettings  # noqa: E402
from trainlab.graphs.hpo import build_hpo_graph, recursion_limit  # noqa: E402
from trainlab.lab import LabRuntime, start_run  # noqa: E402
from trainlab.lab_history import full_state  # noqa: E402
from trainlab.runstore import RunFolder, open_checkpointer  # noqa: E402

LAB_FLAGS = [
    "--dataset", "digits", "--rounds", "1", "--epochs", "1", "--width", "8",
    "--augment", "none", "--device", "cpu", "--seed", "0",
]  # fmt: skip


def outage_env(url: str) -> dict[str, str]:
    """The process environment with one key for every role against `url`, policy defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINLAB_LLM", "GEMINI"))}
    env.pop("OPENAI_API_KEY", None)
    return {**env, "GEMINI_API_KEY": "sk-bench-outage", "GEMINI_OPENAI_BASE_URL": url}


def run_cli(hole: BlackHole, out: Path, key: bool = True) -> tuple[float, str]:
    """`python main.py` in `out` (no .env there); (seconds, the mode line)."""
    env = outage_env(hole.url)
    if not key:
        del env["GEMINI_API_KEY"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *LAB_FLAGS, "--output-dir", str(out / "runs")],
        cwd=out, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    mode = next(line for line in done.stdout.splitlines() if line.startswith("Agents:"))
    return time.monotonic() - started, mode


def run_probe(hole: BlackHole, out: Path) -> tuple[float, str]:
    """The CLI's probe alone; (seconds, the mode line)."""
    started = time.monotonic()
    _, mode = build_advisors(LabSettings(), lambda: None, outage_env(hole.url), True)
    return time.monotonic() - started, mode


def run_mid_run(hole: BlackHole, out: Path) -> tuple[float, str]:
    """The graph in process, runtime built without the probe; (seconds of the run, policies)."""
    os.environ.clear()
    os.environ.update(outage_env(hole.url))
    settings = LabSettings(
        rounds=1, output_dir=out / "runs",
        train=TrainSettings(epochs=1, model_width=8, augment="none", device="cpu", seed=0),
        data=DataSettings(dataset="digits"),
    )  # fmt: skip
    run_dir = start_run(settings)
    started = time.monotonic()
    with open_checkpointer(run_dir) as saver:
        compiled, _ = build_hpo_graph(LabRuntime.create(settings, run_dir=run_dir), saver)
        config = {"configurable": {"thread_id": "t"}, "recursion_limit": recursion_limit(1, 2)}
        state = compiled.invoke({"run_dir": str(run_dir)}, config, durability="sync")
    state = full_state(RunFolder(run_dir), state)  # the records live in the trial folders
    policies = [record["policy"][:60] for record in (*state["proposals"], *state["finals"])]
    return time.monotonic() - started, "; ".join(policies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cases = {
        "cli": run_cli,
        "no-key": lambda h, o: run_cli(h, o, key=False),
        "probe": run_probe,
        "mid-run": run_mid_run,
    }
    parser.add_argument("--case", choices=[*cases, "all"], default="all")
    args = parser.parse_args()
    for name, run in cases.items():
        if args.case not in (name, "all"):
            continue
        hole = BlackHole()
        with tempfile.TemporaryDirectory() as tmp:
            seconds, detail = run(hole, Path(tmp))
        hole.close()
        print(f"| {name} | {seconds:.1f} s | {len(hole.connections)} | {detail} |", flush=True)


if __name__ == "__main__":
    main()
