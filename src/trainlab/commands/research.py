"""`python main.py research`: the research team as seed 000's users meet it.

    python main.py research                              # interactive session (a terminal)
    python main.py research --example                    # the example scenarios, end to end
    python main.py research --prompt calibration-loss    # a curated prompt as a proposal
    python main.py research --prompt curriculum --brainstorm
    python main.py research --list-prompts

Everything lands in <output-dir>/<timestamp>/proposals/, as `propose` and `ask` save it.
The arguments are checked before the team (LangGraph, torch) is imported.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from trainlab.commands.options import (
    OneLineParser,
    UsageError,
    add_settings_flags,
    fail,
    one_line_error,
    settings_from,
)
from trainlab.commands.propose import add_team_options
from trainlab.proposals import prompts_library
from trainlab.proposals.request import Budget

if TYPE_CHECKING:
    from rich.console import Console

    from trainlab.proposals.team_api import AgentTeam

NO_TERMINAL = (
    "the interactive research session needs a terminal; without one use "
    "`research --example`, `research --prompt NAME [--brainstorm]`, `propose --topic ...` "
    "or `ask --agent NAME ...`"
)


def build_parser() -> tuple[OneLineParser, dict[str, str]]:
    """The parser and the budget's field → flag map (for one-line errors)."""
    parser = OneLineParser(
        prog="main.py research",
        description="The research team: an interactive session, the example scenarios, or a "
        "curated research prompt as a proposal or a brainstorm.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--example", action="store_true", help="run the example scenarios")
    mode.add_argument("--prompt", metavar="NAME", help="a curated prompt (--list-prompts)")
    mode.add_argument("--list-prompts", action="store_true", help="the prompts by area")
    parser.add_argument(
        "--brainstorm", action="store_true", help="with --prompt: the whole team brainstorms it"
    )
    parser.add_argument(
        "--validate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --prompt: validate the proposal with a minimal experiment (%(default)s)",
    )
    add_team_options(parser)
    return parser, add_settings_flags(parser, Budget, "validation budget")


def parse(
    argv: list[str],
) -> tuple[argparse.Namespace, prompts_library.ResearchPrompt | None, Budget]:
    """The arguments, the chosen prompt and the budget; bad input raises UsageError."""
    parser, flags = build_parser()
    args = parser.parse_args(argv)
    if args.brainstorm and not args.prompt:
        parser.error("--brainstorm needs --prompt NAME")
    try:
        prompt = prompts_library.get(args.prompt) if args.prompt else None
        budget = settings_from(Budget, args)
    except ValueError as exc:  # an unknown prompt, a budget pydantic refuses
        raise UsageError(one_line_error(exc, flags)) from None
    return args, prompt, budget


def main(argv: list[str]) -> int:
    try:
        args, prompt, budget = parse(argv)
    except UsageError as exc:
        return fail(str(exc))
    from rich.console import Console

    console, errors = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    if args.list_prompts:
        console.print(prompts_library.listing(), highlight=False)
        return 0
    if not (args.example or prompt or sys.stdin.isatty()):
        return fail(NO_TERMINAL)
    from trainlab.proposals.team_api import AgentTeam

    try:
        team = AgentTeam(
            offline=args.offline,
            model=args.model,
            output_dir=args.output_dir,
            budget=budget,
            anonymize=args.anonymize,
            log=lambda line: errors.print(f"  {line}", highlight=False),
        )
    except ValueError as exc:
        return fail(one_line_error(exc))
    if prompt is not None:
        return _prompt(team, console, prompt, args.brainstorm, args.validate)
    if args.example:
        return _example(team, console)
    from trainlab.proposals.session import Session

    return Session(team, console).loop()


def _example(team: AgentTeam, console: Console) -> int:
    from trainlab.proposals import examples

    console.print(team.team.mode, highlight=False)
    start = time.perf_counter()
    written = examples.run(team, lambda line: console.print(line, highlight=False))
    console.print(
        f"Wrote ({time.perf_counter() - start:.0f} s):\n" + "\n".join(f"  {p}" for p in written),
        highlight=False,
    )
    return 0


def _prompt(
    team: AgentTeam,
    console: Console,
    prompt: prompts_library.ResearchPrompt,
    brainstorm: bool,
    validate: bool,
) -> int:
    console.print(
        f"{team.team.mode}\n{prompt.area} · {prompt.name}: {prompt.text}", highlight=False
    )
    if brainstorm:
        result = team.brainstorm(prompt.text)
        for rank, idea in enumerate(result.ideas, 1):
            console.print(f"{rank}. {idea.idea} [{idea.testability}]", highlight=False)
    else:
        record = team.run(topic=prompt.text, run_validation=validate)
        console.print(f"[bold]{record.title}[/] — verdict: {record.verdict}", highlight=False)
    console.print(f"Saved in {team.folder}", highlight=False)
    return 0
