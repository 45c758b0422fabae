"""`python main.py components [--kind KIND] [--json]`: the component registry."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from trainlab.commands.options import OneLineParser
from trainlab.components import registry


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="main.py components",
        description="List the optimizers, losses and architectures that experiments can name.",
    )
    parser.add_argument("--kind", choices=registry.KINDS, help="only this kind")
    parser.add_argument("--json", action="store_true", help="metadata as JSON (for agents)")
    return parser


def table(kind: registry.Kind) -> Table:
    out = Table(title=f"{kind}s", show_lines=True, title_justify="left")
    out.add_column("name", no_wrap=True, style="bold")
    out.add_column("idea (reference)")
    out.add_column("costs (memory, time)")
    out.add_column("vs", no_wrap=True)
    for c in registry.describe(kind):
        out.add_row(
            c["name"],
            f"{c['idea']}\n[dim]{c['reference']}[/]",
            f"{c['memory']}\n{c['time']}",
            c["baseline"] or "[dim]baseline[/]",
        )
    return out


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.json:
        print(json.dumps(registry.describe(args.kind), indent=2))
    else:
        console = Console()
        for kind in [args.kind] if args.kind else registry.KINDS:
            console.print(table(kind))
    return 0
