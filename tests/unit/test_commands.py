"""The commands: every settings field is a flag listed in --help with its default; the shared
options; artifacts readable by others; graphs built only on demand."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from trainlab.cli import SUBCOMMANDS, main
from trainlab.commands.options import field_help, positive_int
from trainlab.config import DataSettings, LabSettings, TrainSettings
from trainlab.experiments.config import ExperimentConfig
from trainlab.k1.settings import K1Settings
from trainlab.proposals.request import Budget
from trainlab.runstore import write_json
from trainlab.tools.settings import SuggestSettings

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = {
    "lab": ([], [LabSettings]),
    "train": (["train"], [TrainSettings, DataSettings]),
    "experiment": (["experiment"], [ExperimentConfig]),
    "k1": (["k1"], [K1Settings]),
    "propose": (["propose"], [Budget]),
    "research": (["research"], [Budget]),
    "suggest": (["suggest"], [SuggestSettings, DataSettings]),
}


def _shown(default: object) -> str:
    return ",".join(default) if isinstance(default, tuple) else str(default)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_lists_every_settings_field_with_its_default(name, capsys) -> None:
    argv, models = COMMANDS[name]
    assert main([*argv, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for model in models:
        for flag, default in field_help(model):
            assert flag in text, flag
            shown = "off" if flag == "--structure" else _shown(default)
            assert f"(default: {shown})" in text, (flag, shown)


def test_aliases_name_the_user_facing_flag() -> None:
    flags = dict(field_help(TrainSettings))
    assert "--width" in flags and "--model-width" not in flags
    assert "--lr" in dict(field_help(ExperimentConfig))


def test_positive_int_says_what_it_wants() -> None:
    with pytest.raises(Exception, match="must be a positive integer, got 0"):
        positive_int("0")


def test_help_answers_before_heavy_imports() -> None:
    code = "import sys; from trainlab.cli import main; main(['--help']); print(sorted(sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    modules = out.stdout.splitlines()[-1]
    for heavy in ("'torch'", "'langgraph'", "'trainlab.graphs.hpo'"):
        assert heavy not in modules


def _modules_after(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Exit status, the loaded module names and stderr of `main(argv)` in a fresh process."""
    code = (
        f"import sys; from trainlab.cli import main; rc = main({argv!r}); "
        "print(sorted(sys.modules)); sys.exit(rc)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return out.returncode, (out.stdout.splitlines() or [""])[-1], out.stderr


def test_research_answers_help_before_the_team_and_the_graph() -> None:
    rc, modules, _ = _modules_after(["research", "--help"])
    assert rc == 0
    for heavy in ("'trainlab.graphs.proposal'", "'trainlab.proposals.team_api'"):
        assert heavy not in modules


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_answers_help_without_torch(command: str) -> None:
    rc, modules, _ = _modules_after([command, "--help"])
    assert rc == 0
    for heavy in ("'torch'", "'langgraph'"):
        assert heavy not in modules, f"{command} --help imports {heavy}"


def test_component_plugins_load_only_when_named_and_fail_in_one_line() -> None:
    rc, modules, _ = _modules_after(["--help"])
    assert rc == 0 and "'trainlab.components.custom'" not in modules
    rc, _, err = _modules_after(["--help"], {"TRAINLAB_COMPONENTS": "no_such_plugin_here"})
    assert rc == 2 and err.strip() == (
        "error: TRAINLAB_COMPONENTS: cannot import 'no_such_plugin_here' "
        "(No module named 'no_such_plugin_here')"
    )


def test_research_budget_errors_name_the_flag(tmp_path, capsys) -> None:
    assert (
        main(["research", "--prompt", "curriculum", "--seeds", "1", "--output-dir", str(tmp_path)])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --seeds: ") and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_importing_studio_builds_nothing_until_asked() -> None:
    code = (
        "import sys, trainlab.graphs.studio; print('dotenv' in sys.modules, 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False", "False"]


def test_artifacts_are_readable_by_others_under_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        os.umask(0o077)
        write_json(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600


def test_old_config_with_num_workers_still_loads() -> None:
    assert TrainSettings.model_validate({"num_workers": 4, "epochs": 2}).epochs == 2


def test_adopt_components_is_off_by_default_a_flag_and_kept_on_resume(tmp_path: Path) -> None:
    from trainlab.commands import lab
    from trainlab.commands.options import UsageError, settings_from

    parser, flags = lab.build_parser()
    assert settings_from(LabSettings, parser.parse_args([])).adopt_components is False
    asked = settings_from(LabSettings, parser.parse_args(["--adopt-components"]))
    assert asked.adopt_components is True and flags["adopt_components"] == "--adopt-components"
    write_json(tmp_path / "config.json", asked.model_dump(mode="json"))
    parser, flags = lab.build_parser()
    resumed = lab.resume_settings(parser, flags, ["--rounds", "12"], tmp_path)
    assert resumed.adopt_components is True  # config.json's, with no flag repeated
    parser, flags = lab.build_parser()
    with pytest.raises(UsageError, match="--adopt-components: a resumed run keeps the settings"):
        lab.resume_settings(parser, flags, ["--no-adopt-components"], tmp_path)
    old = LabSettings().model_dump(mode="json")
    del old["adopt_components"]  # a run from before the flag resumes as it ran
    assert LabSettings.model_validate(old).adopt_components is False
