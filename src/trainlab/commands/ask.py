"""`python main.py ask --agent systems "question"`: one agent answers one question (the
specialized pattern); the answer is printed and saved under <output-dir>/<ts>/proposals/."""

from __future__ import annotations

import argparse

from trainlab.commands.options import OneLineParser
from trainlab.commands.propose import add_team_options, run
from trainlab.proposals.request import AGENTS, ProposalRequest


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="main.py ask", description="Ask one agent of the proposal team one question."
    )
    parser.add_argument("--agent", choices=AGENTS, required=True, help="who answers")
    parser.add_argument("question", nargs="+", help="the question (quote it or not)")
    add_team_options(parser)
    return parser


def request_from(args: argparse.Namespace) -> ProposalRequest:
    return ProposalRequest(
        pattern="specialized",
        agent=args.agent,
        question=" ".join(args.question),
        out_dir=args.output_dir,
        name=f"ask-{args.agent}",
    )


def main(argv: list[str]) -> int:
    return run(build_parser().parse_args, request_from, argv)
