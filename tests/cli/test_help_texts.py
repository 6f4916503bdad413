"""The --help texts are plain text and state the code's defaults; the README agrees with them."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.cli import cli, main
from topcup_bench.cli.train import DEFAULT_CHECKPOINT_EVERY
from topcup_bench.datasets.catalog import PHANTOM_DATASETS
from topcup_bench.pickers import DEFAULT_PICKERS

README = Path(__file__).resolve().parents[2] / "README.md"


def command_paths(group: click.Group, prefix=()):
    """Every command's argument path, e.g. ("cache", "clear")."""
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def help_text(path, capsys) -> str:
    status = main([*path, "--help"])
    out = capsys.readouterr().out
    assert status == 0, path
    return out


def flat(text: str) -> str:
    """Help text with its line wrapping undone."""
    return " ".join(text.split())


def option_help(text: str, option: str) -> str:
    """The (unwrapped) help of ``option``: from the option to the next option line."""
    match = re.search(rf"^  {re.escape(option)}\b(.*?)(?=^  -|\Z)", text, re.M | re.S)
    assert match, option
    return flat(match.group(1))


ALL_PATHS = [(), *command_paths(cli)]


def test_every_command_is_covered():
    assert {"run", "train", "phantom", "cache", "list", "score", "report", "compare"} <= {
        p[0] for p in ALL_PATHS if p
    }
    assert ("cache", "clear") in ALL_PATHS and ("cache", "info") in ALL_PATHS


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: " ".join(p) or "topcup-bench")
def test_help_is_plain_text(path, capsys):
    text = help_text(path, capsys)
    assert "``" not in text
    assert ":func:" not in text and ":class:" not in text


def test_run_help_states_the_default_pickers(capsys):
    text = option_help(help_text(["run"], capsys), "--pickers")
    assert f"[default: {','.join(DEFAULT_PICKERS)}" in text


def test_run_help_states_the_config_defaults(capsys):
    text = help_text(["run"], capsys)
    config = BenchmarkConfig()
    assert f"[default: {config.workers};" in option_help(text, "--workers")
    assert f"[default: {config.bootstrap}]" in option_help(text, "--bootstrap")
    assert f"[default: {config.seed}]" in option_help(text, "--seed")
    assert f"[default: {config.out}]" in option_help(text, "--out").replace("- ", "-")
    assert f"{config.executor} (default)" in option_help(text, "--executor")
    assert f"{config.split} (default)" in option_help(text, "--split")


def test_phantom_help_states_the_default_project(capsys):
    text = help_text(["phantom"], capsys)
    default = PHANTOM_DATASETS["default"]
    assert f"[default: {default.n_runs};" in option_help(text, "--runs")
    assert f"[default: {default.n_test}," in option_help(text, "--test-runs")
    assert f"[default: {default.preset}]" in option_help(text, "--preset").replace("- ", "-")
    assert f"[default: {default.seed};" in option_help(text, "--seed")


def test_train_help_states_the_recipes_defaults(capsys):
    pytest.importorskip("torch")
    from topcup_bench.pickers.topcup.recipes import RECIPES

    text = help_text(["train"], capsys)
    batch = option_help(text, "--batch-size")
    crops = {RECIPES[r]["crops_per_item"] for r in ("quick", "standard")}
    others = {RECIPES[r]["crops_per_item"] for r in ("kaggle", "topcup")}
    assert crops == {2} and others == {4}
    assert "an item is 2 crops of one tomogram in the quick and standard recipes, 4 in" in batch
    assert RECIPES["quick"]["batch_size"] == RECIPES["standard"]["batch_size"] == 1
    assert (RECIPES["kaggle"]["batch_size"], RECIPES["topcup"]["batch_size"]) == (8, 16)
    assert "1 for quick and standard, 8 for kaggle, 16 for topcup" in batch
    crop = option_help(text, "--crop")
    assert RECIPES["quick"]["crop"] == RECIPES["standard"]["crop"] == 64
    assert RECIPES["kaggle"]["crop"] == RECIPES["topcup"]["crop"] == 96
    assert "64 for quick and standard, 96 for kaggle and topcup" in crop
    amp = option_help(text, "--amp")
    assert RECIPES["kaggle"]["amp"] == "bf16"
    assert {RECIPES[r]["amp"] for r in ("quick", "standard", "topcup")} == {"auto"}
    assert "bf16 for kaggle, auto for the others" in amp
    assert f"[default: {DEFAULT_CHECKPOINT_EVERY};" in option_help(text, "--checkpoint-every")


def test_top_level_help_lists_the_cache_command(capsys):
    text = help_text([], capsys)
    assert re.search(r"^\s+cache\s+Show or clear the cache", text, re.M)


# ----------------------------------------------------------------------------- the README


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def synopsis(readme: str, command: str) -> str:
    """The unwrapped synopsis block of ``topcup-bench COMMAND``."""
    match = re.search(rf"```\n(topcup-bench {command} .*?)```", readme, re.S)
    assert match, command
    return flat(match.group(1))


def test_readme_phantom_synopsis_has_the_defaults(readme):
    default = PHANTOM_DATASETS["default"]
    text = synopsis(readme, "phantom")
    assert f"[--preset {default.preset}]" in text
    assert f"[--runs {default.n_runs}]" in text
    assert f"[--test-runs {default.n_test}]" in text
    assert f"[--seed {default.seed}]" in text


def test_readme_run_synopsis_has_the_defaults(readme):
    config = BenchmarkConfig()
    text = synopsis(readme, "run")
    assert f"[--dataset {config.dataset} |" in text
    assert f"[--out {config.out}]" in text
    assert f"[--workers {config.workers}]" in text
    assert f"[--bootstrap {config.bootstrap}]" in text
    assert f"[--seed {config.seed}]" in text


def test_readme_train_synopsis_has_the_defaults(readme):
    text = synopsis(readme, "train")
    assert f"[--checkpoint-every {DEFAULT_CHECKPOINT_EVERY}]" in text
    assert "[--backbone resnet34]" in text and "[--seed 0]" in text and "[--workers 0]" in text
    assert "[--crop 96]" not in text  # the quick and standard recipes crop 64


def test_readme_names_the_default_pickers(readme):
    match = re.search(r"runs the default pickers \(([^)]*)\)", flat(readme))
    assert match
    named = re.findall(r"`([a-z-]+)`", match.group(1))
    base = [p for p in DEFAULT_PICKERS if p != "topcup"]
    assert named == [*base, "topcup"]


def test_readme_phantom_rows_match_the_catalogue(readme):
    for name, row in PHANTOM_DATASETS.items():
        line = next(x for x in readme.splitlines() if x.startswith(f"| `phantom:{name}` |"))
        assert f"{row.n_runs} runs" in line
        train = row.n_runs - row.n_test
        if name == "tiny":
            assert f"({train} train, {row.n_test} test)" in line
        else:
            last_test = f"TS_{row.n_runs - 1:03d}"
            first_test = f"TS_{train:03d}"
            assert f"`{first_test}`–`{last_test}` test" in line


def test_readme_cache_commands_exist(readme):
    assert "topcup-bench cache info" in readme and "topcup-bench cache clear" in readme
