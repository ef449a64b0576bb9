"""The core command line knows no adapter: adapters add their subcommands through `slf.commands`."""

from __future__ import annotations

from pathlib import Path

import pytest

from slf.cli import build_parser, main
from slf.commands import Command, installed_commands


def test_the_installed_adapters_add_their_subcommands():
    commands = installed_commands()
    assert isinstance(commands.get("graph"), Command) and commands["graph"].trainer == "graph_regression"
    assert isinstance(commands.get("cluster"), Command) and commands["cluster"].trainer == "dac"
    parsed = build_parser(["ce", "slf"]).parse_args(["cluster", "--out", "runs/c", "--loss", "slf"])
    assert (parsed.command, parsed.slf_mode, parsed.epochs_per_round) == ("cluster", "align", 1)


def _install_entry_point(root: Path, name: str, value: str) -> None:
    info = root / "an_extra-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: an-extra\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[slf.commands]\n{name} = {value}\n", encoding="utf-8")


def test_an_adapter_whose_dependencies_are_missing_is_listed_and_says_why(tmp_path, monkeypatch, capsys):
    _install_entry_point(tmp_path, "segment", "slf_segmentation_not_installed.cli:COMMAND")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "cannot be imported" in installed_commands()["segment"]
    assert "unavailable" in build_parser(["ce"]).format_help()
    assert main(["segment", "--out", "x"]) == 2
    error = capsys.readouterr().err
    assert "slf segment:" in error and "slf_segmentation_not_installed" in error and "install" in error


def test_an_entry_point_that_is_not_a_command_is_refused(tmp_path, monkeypatch):
    _install_entry_point(tmp_path, "oops", "slf.cli:main")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert installed_commands()["oops"] == "slf.cli:main is not a slf.commands.Command named 'oops'"


def test_an_unknown_subcommand_is_a_usage_error_naming_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["clusterr"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'clusterr'" in capsys.readouterr().err


def test_the_fairseq_recipes_are_found_by_name_through_the_installed_adapter(capsys):
    assert main(["fairseq-recipe"]) == 0
    names = capsys.readouterr().out.split()
    assert "iwslt14_transformer" in names and "iwslt14_prepare" in names
    assert main(["fairseq-recipe", "iwslt14_lstm2"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "iwslt14_lstm2.sh" and "--encoder-layers 2" in path.read_text()
    assert main(["fairseq-recipe", "iwslt14_gru"]) == 2
    error = capsys.readouterr().err
    assert "no recipe 'iwslt14_gru'; valid choices: iwslt14_common, iwslt14_lstm1" in error
