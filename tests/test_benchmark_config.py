"""``--config`` TOML files: values of the wrong type are refused naming the file, key and value."""

from __future__ import annotations

import pytest

from topcup_bench import BenchmarkConfig
from topcup_bench.benchmark_config import load_config
from topcup_bench.cli import main
from topcup_bench.errors import InputError, SchemaError


def _toml(tmp_path, text):
    path = tmp_path / "bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ('[run]\nworkers = "two"\n', "[run] workers must be an integer >= 1, found 'two' (str)"),
        ("[run]\nworkers = 0\n", "[run] workers must be an integer >= 1, found 0"),
        ("[run]\nbootstrap = 1.5\n", "[run] bootstrap must be an integer >= 1, found 1.5 (float)"),
        ("[run]\nseed = -1\n", "[run] seed must be an integer >= 0, found -1"),
        ("[run]\nseed = true\n", "[run] seed must be an integer >= 0, found True (bool)"),
        ('[run]\ncache = "yes"\n', "[run] cache must be true or false, found 'yes' (str)"),
        ("[run]\nout = 3\n", "[run] out must be a string (a folder path), found 3 (int)"),
        ("[dataset]\nspec = 3\n", "[dataset] spec must be a string, found 3 (int)"),
        ("run = 3\n", "[run] must be a table, found 3"),
        ('pickers = "x"\n', "pickers must be an array of tables [[pickers]]"),
        ('[[pickers]]\nname = "blob"\nparams = 3\n', "pickers[0].params must be a table"),
        ("[[pickers]]\nname = 3\n", "pickers[0].name must be a non-empty string, found 3"),
    ],
)
def test_wrong_toml_types_name_the_file_key_and_value(tmp_path, text, message):
    path = _toml(tmp_path, text)
    with pytest.raises(SchemaError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_huge_value_is_not_echoed(tmp_path):
    path = _toml(tmp_path, f'[run]\nworkers = "{"x" * 1_000_000}"\n')
    with pytest.raises(SchemaError, match=r"\(1000002 characters\)") as caught:
        load_config(path)
    assert len(str(caught.value)) < 500


def test_wrong_toml_type_exits_2_on_the_command_line(tmp_path, capsys):
    path = _toml(tmp_path, "[run]\nbootstrap = 1.5\n")
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: [run] bootstrap must be an integer >= 1, found 1.5")
    assert "Traceback" not in err


def test_unreadable_or_binary_config_exits_2(tmp_path, capsys):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00 = 1")
    with pytest.raises(SchemaError, match="not valid TOML"):
        load_config(binary)
    with pytest.raises(InputError, match="cannot read the config file"):
        load_config(tmp_path)  # a folder


def test_valid_config_still_loads(tmp_path):
    path = _toml(
        tmp_path,
        '[run]\nworkers = 3\nseed = 5\nout = "res"\ncache = false\n'
        '[[pickers]]\nname = "blob"\nparams = { sigma = 2.0 }\n',
    )
    config = load_config(path)
    assert (config.workers, config.seed, config.cache) == (3, 5, False)
    assert config.pickers == (("blob", {"sigma": 2.0}),)
    assert str(config.out) == "res"


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("workers", "two", TypeError),
        ("bootstrap", 1.5, TypeError),
        ("seed", -1, InputError),
        ("pickers", "blob", TypeError),
        ("pickers", (("blob", 3),), TypeError),
        ("out", 3, TypeError),
        ("cache", "yes", TypeError),
        ("dataset", None, TypeError),
    ],
)
def test_benchmark_config_checks_types_from_python(field, value, error):
    with pytest.raises(error, match=f"BenchmarkConfig.{field}"):
        BenchmarkConfig(**{field: value})
