"""`python main.py propose ...`: the research-proposal workflow from the command line.

    python main.py propose --topic "faster convergence for small CNNs" --validate
    python main.py propose --topic "better calibration" --pattern iterative --rounds 2
    python main.py ask --agent systems "How does LAMB scale to 100B parameters?"

JSON + Markdown (and transcripts and validation experiments) land in
<output-dir>/<timestamp>/proposals/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console

from graphs.proposal import build_proposal_graph, recursion_limit
from trainlab.cli_options import add_data_options, positive_int
from trainlab.experiments.cli import OneLineParser
from trainlab.proposals.agents import DEFAULT_MODEL, Team, build_team
from trainlab.proposals.request import AGENTS, PATTERNS, Budget, ProposalRequest
from trainlab.proposals.schema import ResearchProposal
from trainlab.proposals.workflow import ProposalRecord
from trainlab.runstore import new_run_dir, read_json

BUDGET = Budget.model_fields


def add_team_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("agents")
    group.add_argument(
        "--offline", action="store_true", help="offline policies even if a key is set"
    )
    group.add_argument("--model", default=DEFAULT_MODEL, help="LLM model id (%(default)s)")
    group.add_argument(
        "--anonymize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="never name datasets or models in prompts (%(default)s)",
    )
    group.add_argument("--output-dir", type=Path, default=Path("runs"), help="(%(default)s)")


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="main.py propose",
        description="Five specialist agents write a structured research proposal; "
        "--validate measures it with a minimal experiment.",
    )
    parser.add_argument("--topic", required=True, help="what the proposal is about")
    parser.add_argument("--pattern", choices=PATTERNS, default="sequential")
    parser.add_argument(
        "--rounds", type=positive_int, default=2, help="iterative refinement rounds (2)"
    )
    parser.add_argument(
        "--agent", choices=AGENTS, help="specialized: who answers (the topic is the question)"
    )
    parser.add_argument(
        "--validate", action="store_true", help="run the designed experiment, record results"
    )
    add_team_options(parser)
    add_budget_options(parser)
    return parser


def add_budget_options(parser: argparse.ArgumentParser) -> None:
    budget = parser.add_argument_group("validation budget")
    for name in ("seeds", "epochs", "width"):
        budget.add_argument(
            f"--{name}", type=positive_int, default=BUDGET[name].default, help="(%(default)s)"
        )
    budget.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (auto)")
    add_data_options(parser)
    parser.set_defaults(dataset="digits", val_split=BUDGET["val_split"].default)


def budget_from(args: argparse.Namespace) -> Budget:
    return Budget(
        dataset=args.dataset,
        data_dir=args.data_dir,
        val_split=args.val_split,
        device=args.device,
        seeds=args.seeds,
        epochs=args.epochs,
        width=args.width,
    )


def request_from(args: argparse.Namespace) -> ProposalRequest:
    """The request (its out_dir a placeholder until the run folder exists)."""
    budget = budget_from(args)
    specialized = args.pattern == "specialized"
    return ProposalRequest(
        topic="" if specialized else args.topic,
        question=args.topic if specialized else "",
        agent=args.agent,
        pattern=args.pattern,
        rounds=args.rounds,
        run_validation=args.validate,
        budget=budget,
        out_dir=args.output_dir,
        name=f"ask-{args.agent}" if specialized else "proposal",
    )


def run(
    parse: Callable[[list[str]], argparse.Namespace],
    make_request: Callable[[argparse.Namespace], ProposalRequest],
    argv: list[str],
) -> int:
    """Parse, check, create the run folder, run the workflow and print what it wrote."""
    try:
        args = parse(argv)
    except SystemExit as exc:  # the parser already printed its one line
        return int(exc.code or 0)
    where: dict[str, Path] = {}
    try:
        request = make_request(args)
        team = build_team(args.offline, args.model, lambda: where.get("dir"), args.anonymize)
    except (ValueError, ValidationError) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 2
    where["dir"] = new_run_dir(args.output_dir) / "proposals"
    return execute(request.model_copy(update={"out_dir": where["dir"]}), team)


def execute(request: ProposalRequest, team: Team) -> int:
    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    console.print(team.mode, highlight=False)
    compiled, _ = build_proposal_graph(
        team, log=lambda line: errors.print(f"  {line}", highlight=False)
    )
    config = {"recursion_limit": recursion_limit(request.rounds)}
    start, records = time.perf_counter(), []
    state = {"proposal_request": request.model_dump(mode="json")}
    for update in compiled.stream(state, config, stream_mode="updates"):
        for node, values in update.items():
            _progress(errors, node, values or {})
            records += (values or {}).get("research_proposals", [])
    record = ProposalRecord.model_validate(records[-1])
    return _report(console, record, time.perf_counter() - start)


def _progress(errors: Console, node: str, values: dict[str, Any]) -> None:
    for message in values.get("proposal_messages", []):
        errors.print(
            f"round {message['round']} · {message['speaker']:<12} {message['policy']}: "
            f"{message['text'].splitlines()[0][:100]}",
            highlight=False,
        )
    if node == "validate":
        errors.print("validation finished", highlight=False)


def _report(console: Console, record: ProposalRecord, seconds: float) -> int:
    console.print(f"[bold]{record.title}[/]", highlight=False)
    failed = False
    if record.kind == "answer":
        console.print(read_json(Path(record.json_path))["text"], highlight=False)
    else:
        proposal = ResearchProposal.model_validate(read_json(Path(record.json_path)))
        results = proposal.results
        console.print(
            f"Verdict: {results.summary() if results else 'not validated (use --validate)'}",
            highlight=False,
        )
        failed = results is not None and results.status == "failed"
    console.print(
        f"Saved {record.json_path} and {record.markdown_path} ({seconds:.1f} s).", highlight=False
    )
    return 1 if failed else 0


def _message(exc: Exception) -> str:
    """One line; for validation errors, each message without pydantic's decoration."""
    if isinstance(exc, ValidationError):
        return "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
    return " ".join(str(exc).split())


def main(argv: list[str]) -> int:
    return run(build_parser().parse_args, request_from, argv)
