"""The interactive research session (`python main.py research` in a terminal): seed 000's
menu — brainstorm with the full team, generate a complete proposal, query a specific agent,
run the example scenarios — plus the saved proposals. Every answer is saved as the CLI saves
it; `stream` replaces the terminal's input (tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from rich.console import Console
from rich.prompt import Confirm, Prompt
from rich.table import Table

from trainlab.proposals import examples, prompts_library
from trainlab.proposals.request import AGENTS
from trainlab.proposals.team_api import AgentTeam
from trainlab.runstore import read_json

MENU: tuple[tuple[str, str], ...] = (
    ("1", "Brainstorm with the full team"),
    ("2", "Generate a complete proposal"),
    ("3", "Query a specific agent"),
    ("4", "Run example research scenarios"),
    ("5", "Show my saved proposals"),
    ("q", "Quit"),
)
LIST = "list"  # typed instead of a topic: show the curated prompts


class Session:
    def __init__(self, team: AgentTeam, console: Console, stream: TextIO | None = None) -> None:
        self.team, self.console, self.stream = team, console, stream
        self.actions: dict[str, Callable[[], None]] = {
            "1": self.brainstorm,
            "2": self.proposal,
            "3": self.query,
            "4": self.examples,
            "5": self.saved,
        }

    def ask(self, text: str, **options: Any) -> str:
        return Prompt.ask(text, console=self.console, stream=self.stream, **options)

    def loop(self) -> int:
        self.console.print(self.team.team.mode, highlight=False)
        while True:
            for key, label in MENU:
                self.console.print(f"  {key}. {label}", highlight=False)
            choice = self.ask("Choose", choices=[key for key, _ in MENU], default="q")
            if choice == "q":
                return 0
            try:
                self.actions[choice]()
            except (ValueError, ValidationError) as exc:  # an empty topic, a bad prompt name
                self.console.print(f"[red]error:[/] {' '.join(str(exc).split())}")

    def topic(self, what: str) -> str:
        """Free text, or a curated prompt by name (`list` shows them)."""
        while True:
            text = self.ask(f"{what} (or a prompt name; '{LIST}' shows them)").strip()
            if text != LIST:
                break
            self.console.print(prompts_library.listing(), highlight=False)
        if not text:
            raise ValueError(f"the {what.lower()} is empty")
        found = prompts_library.prompts().get(text)
        return found.text if found else text

    def brainstorm(self) -> None:
        result = self.team.brainstorm(self.topic("Open question"))
        table = Table("rank", "idea", "named by", "testability", title="Ideas, most testable first")
        for rank, idea in enumerate(result.ideas, 1):
            table.add_row(str(rank), idea.idea, ", ".join(idea.named_by), idea.testability)
        self.console.print(table)
        self._saved_in()

    def proposal(self) -> None:
        topic = self.topic("Topic")
        pattern = self.ask(
            "Pattern", choices=["sequential", "parallel", "iterative"], default="sequential"
        )
        validate = Confirm.ask(
            "Validate with a minimal experiment?",
            default=True,
            console=self.console,
            stream=self.stream,
        )
        record = self.team.run(topic=topic, pattern=pattern, run_validation=validate)
        self.console.print(f"[bold]{record.title}[/] — verdict: {record.verdict}", highlight=False)
        self.console.print(f"Saved {record.json_path} and {record.markdown_path}", highlight=False)

    def query(self) -> None:
        agent = self.ask("Agent", choices=list(AGENTS), default="algorithms")
        question = self.ask("Question")
        self.console.print(self.team.get_agent(agent).query(question), highlight=False)
        self._saved_in()

    def examples(self) -> None:
        written = examples.run(self.team, lambda line: self.console.print(line, highlight=False))
        self.console.print("Wrote:\n" + "\n".join(f"  {p}" for p in written), highlight=False)

    def saved(self) -> None:
        rows = saved_items(self.team.output_dir)
        table = Table(
            "file", "kind", "what", "verdict", title=f"Saved under {self.team.output_dir}"
        )
        for row in rows:
            table.add_row(*row)
        self.console.print(table if rows else "Nothing saved yet.")

    def _saved_in(self) -> None:
        self.console.print(f"Saved in {self.team.folder}", highlight=False)


def saved_items(output_dir: Path) -> list[tuple[str, str, str, str]]:
    """(file, kind, title or question, verdict) of every saved proposal, answer, brainstorm."""
    rows = []
    for path in sorted(output_dir.glob("*/proposals/*.json")):
        data = read_json(path)
        if "ideas" in data:
            rows.append((str(path), "brainstorm", data["question"], f"{len(data['ideas'])} ideas"))
        elif "question" in data:
            rows.append((str(path), f"answer ({data['speaker']})", data["question"], "answered"))
        else:
            results = data.get("results") or {}
            verdict = results.get("verdict") or results.get("status") or "not validated"
            rows.append((str(path), "proposal", data["title"], verdict))
    return rows
