"""The benchmark configuration of ``topcup-bench run``: defaults, TOML file, command-line overrides.

A TOML file may declare::

    [dataset]
    spec = "phantom:default"     # or a copick config path, or "kaggle:DIR"
    split = "test"

    [run]
    executor = "serial"          # serial | processes | dask
    workers = 2
    scheduler = ""               # address of an existing dask scheduler
    out = "topcup-bench-results"
    bootstrap = 1000
    seed = 0
    write_copick = false
    cache = true
    tune_thresholds = true       # operating point: best thresholds on the train split

    [[pickers]]
    name = "template"
    params = { n_rotations = 24 }
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from topcup_bench.datasets.catalog import DEFAULT_DATASET
from topcup_bench.errors import InputError, SchemaError, did_you_mean
from topcup_bench.pickers import DEFAULT_PICKERS, parse_picker_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["BenchmarkConfig", "load_config"]


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything ``topcup-bench run`` needs to know."""

    dataset: str = DEFAULT_DATASET
    split: str = "test"
    pickers: tuple[tuple[str, dict[str, Any]], ...] = field(
        default_factory=lambda: tuple((name, {}) for name in DEFAULT_PICKERS)
    )
    executor: str = "serial"
    workers: int = 2
    scheduler: str | None = None
    out: Path = Path("topcup-bench-results")
    bootstrap: int = 1000
    seed: int = 0
    write_copick: bool = False
    cache: bool = True
    tune_thresholds: bool = True

    def with_overrides(self, **overrides: Any) -> BenchmarkConfig:
        """A copy with the given (non-None) values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


_SECTIONS = {
    "dataset": {"spec", "split"},
    "run": {
        "executor",
        "workers",
        "scheduler",
        "out",
        "bootstrap",
        "seed",
        "write_copick",
        "cache",
        "tune_thresholds",
    },
}


def load_config(path: str | os.PathLike[str]) -> BenchmarkConfig:
    """Read a TOML benchmark configuration (unknown keys are errors with a hint)."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(source, "config file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SchemaError(source, f"not valid TOML ({error})") from None
    values: dict[str, Any] = {}
    for section, content in document.items():
        if section == "pickers":
            values["pickers"] = _pickers(content, source)
            continue
        if section not in _SECTIONS:
            raise SchemaError(
                source,
                f"unknown section [{section}]; known: {sorted(_SECTIONS) + ['pickers']}"
                + did_you_mean(section, list(_SECTIONS) + ["pickers"]),
            )
        for key, value in content.items():
            if key not in _SECTIONS[section]:
                raise SchemaError(
                    source,
                    f"unknown key {key!r} in [{section}]; known: {sorted(_SECTIONS[section])}"
                    + did_you_mean(key, _SECTIONS[section]),
                )
            values["dataset" if (section, key) == ("dataset", "spec") else key] = value
    if "out" in values:
        values["out"] = Path(values["out"])
    if values.get("scheduler") == "":
        values["scheduler"] = None
    return BenchmarkConfig().with_overrides(**values)


def _pickers(content: Any, source: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    if not isinstance(content, list):
        raise SchemaError(source, "[[pickers]] must be an array of tables with 'name' and 'params'")
    pickers = []
    for index, item in enumerate(content):
        if isinstance(item, str):
            pickers.append(parse_picker_spec(item))
            continue
        if not isinstance(item, dict) or "name" not in item:
            raise SchemaError(source, f"pickers[{index}] needs a 'name'")
        extra = set(item) - {"name", "params"}
        if extra:
            raise SchemaError(source, f"pickers[{index}]: unknown keys {sorted(extra)}")
        pickers.append((str(item["name"]), dict(item.get("params", {}))))
    return tuple(pickers)
