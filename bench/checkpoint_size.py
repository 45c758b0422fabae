"""Size of a lab run's checkpoints.sqlite after N rounds of the synthetic lab (offline, CPU).

Runs `python main.py` of a checkout (this one by default; `--repo /path/to/other` measures
another, e.g. the code from before the bounded state) and prints the Markdown row.

    python bench/checkpoint_size.py --rounds 100
    python bench/checkpoint_size.py --rounds 40 --repo /work/main
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
LAB_FLAGS = [
    "--offline", "--dataset", "synthetic", "--epochs", "1", "--width", "4", "--augment", "none",
    "--device", "cpu", "--seed", "0", "--no-draw-graph",
]  # fmt: skip


def measure(repo: Path, rounds: int, turns: int) -> tuple[float, float]:
    """checkpoints.sqlite in MB and the run's wall time in s."""
    with tempfile.TemporaryDirectory() as out:
        argv = [*LAB_FLAGS, "--rounds", str(rounds), "--consult-turns", str(turns)]
        env = os.environ | {"PYTHONPATH": f"{repo / 'src'}:{repo}", "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(repo / "main.py"), *argv, "--output-dir", out],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        (run_dir,) = Path(out).iterdir()
        return (run_dir / "checkpoints.sqlite").stat().st_size / 1e6, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--consult-turns", type=int, default=2)
    parser.add_argument("--repo", type=Path, default=ROOT)
    args = parser.parse_args()
    size, seconds = measure(args.repo.resolve(), args.rounds, args.consult_turns)
    print(f"| {args.rounds} | {args.consult_turns} | {size:.2f} MB | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
