"""`python main.py propose ...`: the research-proposal workflow from the command line.

    python main.py propose --topic "faster convergence for small CNNs" --validate
    python main.py propose --topic "better calibration" --pattern iterative --rounds 2
    python main.py ask --agent systems "How does LAMB scale to 100B parameters?"

JSON + Markdown (and transcripts and validation experiments) land in
<output-dir>/<timestamp>/proposals/.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trainlab.commands.options import (
    OneLineParser,
    add_settings_flags,
    fail,
    one_line_error,
    positive_int,
    settings_from,
)
from trainlab.config import DEFAULT_MODELS
from trainlab.proposals.request import AGENTS, PATTERNS, Budget, ProposalRequest


def add_team_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("agents")
    group.add_argument(
        "--offline", action="store_true", help="offline policies even if a key is set"
    )
    model = DEFAULT_MODELS["researcher"]
    group.add_argument("--model", default=model, help=f"LLM model id (default: {model})")
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
    parser.add_argument(
        "--pattern", choices=PATTERNS, default="sequential", help="(default: sequential)"
    )
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
    add_settings_flags(parser, Budget, "validation budget")
    return parser


def request_from(args: argparse.Namespace) -> ProposalRequest:
    """The request (its out_dir a placeholder until the run folder exists)."""
    budget = settings_from(Budget, args)
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
    args = parse(argv)
    from trainlab.proposals import library
    from trainlab.proposals.agents import build_team
    from trainlab.runstore import RunFolder, new_run_dir

    where: dict[str, Path] = {}
    try:
        request = make_request(args)
        team = build_team(args.offline, args.model, lambda: where.get("dir"), args.anonymize)
        if team.offline and request.pattern != "specialized":
            library.focus(request.topic)  # offline, the topic must fit the library
    except (ValueError, ValidationError) as exc:
        return fail(one_line_error(exc))
    where["dir"] = RunFolder(new_run_dir(args.output_dir)).proposals
    return execute(request.model_copy(update={"out_dir": where["dir"]}), team)


def execute(request: ProposalRequest, team: Any) -> int:
    from rich.console import Console

    from trainlab.graphs.proposal import build_proposal_graph, recursion_limit
    from trainlab.proposals.workflow import ProposalRecord

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


def _progress(errors: Any, node: str, values: dict[str, Any]) -> None:
    for message in values.get("proposal_messages", []):
        errors.print(
            f"round {message['round']} · {message['speaker']:<12} {message['policy']}: "
            f"{message['text'].splitlines()[0][:100]}",
            highlight=False,
        )
    if node == "validate":
        errors.print("validation finished", highlight=False)


def _report(console: Any, record: Any, seconds: float) -> int:
    from trainlab.proposals.schema import ResearchProposal
    from trainlab.runstore import read_json

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


def main(argv: list[str]) -> int:
    return run(build_parser().parse_args, request_from, argv)
