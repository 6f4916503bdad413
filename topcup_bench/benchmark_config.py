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

import numbers
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from topcup_bench.datasets.catalog import DEFAULT_DATASET
from topcup_bench.errors import InputError, SchemaError, did_you_mean, short_repr
from topcup_bench.executors import check_scheduler, check_workers
from topcup_bench.pickers import DEFAULT_PICKERS, parse_picker_spec
from topcup_bench.pickers.labels import check_picker_label

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

    def __post_init__(self) -> None:
        """Check every field's type (API callers get a clear error, not a late AttributeError).

        Raises
        ------
        TypeError
            A field of the wrong type, named with the value found.
        InputError
            A number out of range (``workers``, ``bootstrap`` >= 1, ``seed`` >= 0).
        """
        if isinstance(self.out, (str, os.PathLike)):
            object.__setattr__(self, "out", Path(self.out))
        else:
            _wrong("out", "a folder path (str or pathlib.Path)", self.out)
        object.__setattr__(self, "pickers", _checked_pickers(self.pickers))
        for name in ("dataset", "split", "executor"):
            if not isinstance(getattr(self, name), str):
                _wrong(name, "a string", getattr(self, name))
        if self.scheduler is not None and not isinstance(self.scheduler, str):
            _wrong("scheduler", "a string or None", self.scheduler)
        for name in ("write_copick", "cache", "tune_thresholds"):
            if not isinstance(getattr(self, name), bool):
                _wrong(name, "True or False", getattr(self, name))
        for name, low in (("workers", 1), ("bootstrap", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                _wrong(name, f"an integer >= {low}", value)
            if value < low:
                raise _invalid(name, f"must be >= {low}, found {value!r}")
        self._check_values()

    def _check_values(self) -> None:
        """Refuse values no run can use: no picker, too many workers, a bad scheduler."""
        if not self.pickers:
            raise _invalid("pickers", "no picker given")
        try:
            check_workers(self.workers)
            if self.scheduler is not None:
                check_scheduler(self.scheduler)
        except InputError as error:
            raise _invalid(error.source.lstrip("-"), error.detail) from None
        if self.scheduler is not None and self.executor != "dask":
            raise _invalid(
                "scheduler",
                f"--scheduler needs --executor dask (the executor is {self.executor!r})",
            )

    def with_overrides(self, **overrides: Any) -> BenchmarkConfig:
        """A copy with the given (non-None) values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _invalid(name: str, message: str) -> InputError:
    """An :class:`InputError` for the field ``name`` (its flag ``--name``); ``.field`` is set."""
    error = InputError(f"BenchmarkConfig.{name} (--{name})", message)
    error.field = name
    return error


def _wrong(name: str, expected: str, value: Any) -> None:
    raise TypeError(
        f"BenchmarkConfig.{name} must be {expected}, got {short_repr(value)} "
        f"({type(value).__name__})"
    )


def _checked_pickers(pickers: Any) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``pickers`` as a tuple of ``(name, params)``; a bare name means no parameters."""
    if isinstance(pickers, (str, bytes)) or not isinstance(pickers, (list, tuple)):
        _wrong("pickers", "a sequence of (name, params) pairs", pickers)
    checked = []
    for item in pickers:
        if isinstance(item, str):
            item = (item, {})
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 2
            or not isinstance(item[0], str)
            or not isinstance(item[1], Mapping)
        ):
            _wrong("pickers", "a sequence of (name, params) pairs", item)
        checked.append((item[0], dict(item[1])))
    return tuple(checked)


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


def load_config(path: str | os.PathLike[str], **overrides: Any) -> BenchmarkConfig:
    """Read a TOML benchmark configuration (unknown keys are errors with a hint).

    ``overrides`` (the command-line options; None: not given) replace the
    file's values before the whole is checked, so that a file's ``scheduler``
    with ``--executor dask`` is valid.  A bad value names its flag when it came
    from ``overrides``, else the file and its key.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError(source, "config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SchemaError(source, f"not valid TOML ({short_repr(str(error), 300)[1:-1]})") from None
    except OSError as error:
        raise InputError(source, f"cannot read the config file: {error.strerror}") from None
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
        if not isinstance(content, dict):
            raise SchemaError(source, f"[{section}] must be a table, found {short_repr(content)}")
        for key, value in content.items():
            if key not in _SECTIONS[section]:
                raise SchemaError(
                    source,
                    f"unknown key {key!r} in [{section}]; known: {sorted(_SECTIONS[section])}"
                    + did_you_mean(key, _SECTIONS[section]),
                )
            _check_type(section, key, value, source)
            values["dataset" if (section, key) == ("dataset", "spec") else key] = value
    if "out" in values:
        values["out"] = Path(values["out"])
    if values.get("scheduler") == "":
        values["scheduler"] = None
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return BenchmarkConfig().with_overrides(**{**values, **given})
    except InputError as error:  # name the file and the key, not the dataclass
        field = getattr(error, "field", None)
        if field is None:
            raise
        if field in given:
            raise InputError(f"--{field}", error.detail) from None
        key = "pickers" if field == "pickers" else f"[run] {field}"
        raise SchemaError(source, f"{key}: {error.detail}") from None


#: Expected TOML type of each key: (Python types, description, extra check or None).
_INT = (int,)
_TYPES: dict[str, tuple[tuple[type, ...], str, Any]] = {
    "spec": ((str,), "a string", None),
    "split": ((str,), "a string", None),
    "executor": ((str,), "a string (serial, processes or dask)", None),
    "workers": (_INT, "an integer >= 1", lambda v: v >= 1),
    "scheduler": ((str,), "a string (a dask scheduler address, or empty)", None),
    "out": ((str,), "a string (a folder path)", None),
    "bootstrap": (_INT, "an integer >= 1", lambda v: v >= 1),
    "seed": (_INT, "an integer >= 0", lambda v: v >= 0),
    "write_copick": ((bool,), "true or false", None),
    "cache": ((bool,), "true or false", None),
    "tune_thresholds": ((bool,), "true or false", None),
}


def _check_type(section: str, key: str, value: Any, source: str) -> None:
    """Refuse a value of the wrong TOML type, naming the file, the key and the value."""
    if key not in _TYPES:
        return
    types, expected, extra = _TYPES[key]
    wrong_bool = isinstance(value, bool) and bool not in types  # true is not an integer here
    if wrong_bool or not isinstance(value, types) or (extra is not None and not extra(value)):
        raise SchemaError(
            source,
            f"[{section}] {key} must be {expected}, found {short_repr(value)} "
            f"({type(value).__name__})",
        )


def _pickers(content: Any, source: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    if not isinstance(content, list):
        raise SchemaError(
            source,
            "pickers must be an array of tables [[pickers]] with 'name' and 'params' (or of "
            f"strings), found {short_repr(content)} ({type(content).__name__})",
        )
    pickers = []
    for index, item in enumerate(content):
        if isinstance(item, str):
            name, params = parse_picker_spec(item)
            _check_label(params, f"{source}: pickers[{index}]")
            pickers.append((name, params))
            continue
        if not isinstance(item, dict) or "name" not in item:
            raise SchemaError(source, f"pickers[{index}] needs a 'name'")
        extra = set(item) - {"name", "params"}
        if extra:
            raise SchemaError(source, f"pickers[{index}]: unknown keys {sorted(extra)}")
        name, params = item["name"], item.get("params", {})
        if not isinstance(name, str) or not name:
            raise SchemaError(
                source,
                f"pickers[{index}].name must be a non-empty string, found {short_repr(name)}",
            )
        if not isinstance(params, dict):
            raise SchemaError(
                source,
                f"pickers[{index}].params must be a table {{key = value}}, found "
                f"{short_repr(params)} ({type(params).__name__})",
            )
        _check_label(params, f"{source}: pickers[{index}].params")
        pickers.append((name, dict(params)))
    return tuple(pickers)


def _check_label(params: Mapping[str, Any], where: str) -> None:
    """A ``label`` parameter must be a plain name; the error names the file and the picker."""
    if "label" in params:
        check_picker_label(params["label"], source=f"{where}.label")
