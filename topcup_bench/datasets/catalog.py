"""Datasets by name: embedded phantoms (generated and cached), copick projects, Kaggle folders.

Dataset specifications understood by :func:`open_dataset`:

* ``phantom:default`` — the embedded benchmark (see :data:`PHANTOM_DATASETS`);
* ``phantom:paper`` — ``phantom:default`` with 84 test runs, for papers;
* ``phantom:tiny`` — a few tiny runs for tests and smoke runs;
* ``phantom:PRESET[?runs=N&seed=S&test=K&flavours=a,b&crowding=C]`` — any generator preset
  (``small``, ``quarter-hard``, ...), with optional overrides; ``crowding`` is the crowder
  protein concentration in mg/mL (0–675) or ``sample`` (the preset's own, calibrated level,
  ≈ 20 mg/mL) or ``cellular`` (300 mg/mL, cytoplasm-like); also for the named phantoms;
* ``kaggle:DIR`` — the Kaggle competition layout (read only);
* ``portal:ID[,ID...][?tomo_type=T&user=U&session=S&voxel_size=V&overlay=DIR]`` — datasets
  of the CZ cryoET Data Portal (e.g. ``portal:10445``), read through a copick data-portal
  configuration written by copick's own API into a local overlay folder (default
  ``<cache>/portal/<IDs>``); portal object names are mapped to the competition classes, a
  requested voxel size (default 10 Å) matches the portal's spacing within 0.5 % and the exact
  spacing is used; without network access it fails within seconds with one line
  (:mod:`topcup_bench.datasets.portal`);
* ``PATH/TO/copick_config.json`` — a copick project (optionally
  ``?tomo_type=T&user=U&session=S&voxel_size=V``).

Phantoms are generated on first use into the cache folder
(``$TOPCUP_BENCH_CACHE``, else ``$XDG_CACHE_HOME/topcup-bench``, else
``~/.cache/topcup-bench``) under ``phantoms/<name>-<cache key>`` and reused after.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import pandas as pd

from topcup_bench.cache_folder import mark_cache
from topcup_bench.datasets.dataset import CopickDataset, Dataset
from topcup_bench.datasets.kaggle_layout import KaggleDataset
from topcup_bench.datasets.phantom.crowding import with_crowding
from topcup_bench.datasets.phantom.presets import list_presets, resolve_preset
from topcup_bench.datasets.phantom.project import (
    TRUTH_SESSION,
    TRUTH_USER,
    PhantomProjectSpec,
    write_phantom_project,
)
from topcup_bench.errors import InputError, did_you_mean

__all__ = [
    "PhantomDataset",
    "PHANTOM_DATASETS",
    "DEFAULT_DATASET",
    "open_dataset",
    "phantom_spec",
    "cache_dir",
    "describe_datasets",
]

DEFAULT_DATASET = "phantom:default"


@dataclass(frozen=True)
class PhantomDataset:
    """A named embedded phantom benchmark."""

    preset: str
    n_runs: int
    seed: int
    n_test: int
    description: str


#: Embedded phantom benchmarks.  ``default`` is what ``topcup-bench run`` uses.
PHANTOM_DATASETS = {
    "default": PhantomDataset(
        "small-kaggle-like",
        10,
        0,
        4,
        "the embedded benchmark: 10 runs of 92 x 160 x 160 voxels (10 Å), kaggle-like "
        "difficulty; 6 train (4 to fit, 2 to tune thresholds), 4 test",
    ),
    "paper": PhantomDataset(
        "small-kaggle-like",
        90,
        0,
        84,
        "for comparisons in a paper: phantom:default's 6 train runs (the same tomograms, so "
        "trained pickers are shared) and 84 test runs (the first 4 are phantom:default's), "
        "672 test particles, a minimal detectable difference of about 0.05 for the default "
        "pickers",
    ),
    "tiny": PhantomDataset(
        "tiny", 5, 0, 2, "5 tiny runs for tests and smoke runs; 3 train (2 fit, 1 tune), 2 test"
    ),
}

_PHANTOM_OPTIONS = {"runs", "seed", "test", "flavours", "crowding"}
_COPICK_OPTIONS = {"tomo_type", "user", "session", "voxel_size"}


def cache_dir() -> Path:
    """Folder for generated phantoms and other caches."""
    if os.environ.get("TOPCUP_BENCH_CACHE"):
        return Path(os.environ["TOPCUP_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "topcup-bench"


def phantom_spec(spec: str) -> PhantomProjectSpec:
    """Parse ``phantom:NAME[?runs=N&seed=S&test=K&flavours=a,b&crowding=C]`` into a project spec.

    ``crowding`` (mg/mL, ``sample`` or ``cellular``) sets the preset's crowder density
    (:func:`~topcup_bench.datasets.phantom.crowding.with_crowding`), so it enters the cache key.
    """
    body, options = _split_options(spec.removeprefix("phantom:"), _PHANTOM_OPTIONS, spec)
    named = PHANTOM_DATASETS.get(body)
    preset = resolve_preset(named.preset if named else body)
    if "crowding" in options:
        preset = with_crowding(preset, options["crowding"], source=spec)
    n_runs = _int_option(options, "runs", named.n_runs if named else 6, spec)
    n_test = _int_option(options, "test", named.n_test if named else max(1, n_runs // 3), spec)
    if "test" in options and n_test >= n_runs and n_runs >= 1:  # given: never clamped silently
        raise InputError(
            spec, f"test={n_test} must be less than runs={n_runs} (at least one train run)"
        )
    flavours = ()
    if "flavours" in options:
        flavours = tuple(f.strip() for f in options["flavours"].split(",") if f.strip())
        if not flavours:
            raise InputError(spec, f"flavours: no flavour given (found {options['flavours']!r})")
    return PhantomProjectSpec(
        preset=preset,
        n_runs=n_runs,
        seed=_int_option(options, "seed", named.seed if named else 0, spec),
        n_test=min(n_test, n_runs - 1) if n_runs > 1 else 0,
        flavours=flavours,
    )


def open_dataset(spec: str | os.PathLike[str], *, progress: bool = True) -> Dataset:
    """Open a dataset from its specification (see the module docstring).

    Phantoms are generated into the cache on first use (with a progress bar).
    The returned dataset remembers ``spec`` (attribute ``spec``) so that
    worker processes can reopen it.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            "open_dataset: spec must be a string such as 'phantom:default', 'kaggle:DIR' or a "
            f"copick config path, got {type(spec).__name__}"
        )
    dataset = _open(os.fspath(spec), progress)
    dataset.spec = os.fspath(spec)
    return dataset


def _open(text: str, progress: bool) -> Dataset:
    if text.startswith("phantom:"):
        project = phantom_spec(text)
        name = text.removeprefix("phantom:").split("?")[0]
        mark_cache(cache_dir())  # a new cache folder gets its CACHEDIR.TAG
        folder = cache_dir() / "phantoms" / f"{name}-{project.cache_key()}"
        config = write_phantom_project(
            folder, project, progress=progress, size_source=f"{text}: runs"
        )
        return CopickDataset(config, tomo_type=project.flavours[0], name=text)
    if text.startswith("kaggle:"):
        return KaggleDataset(text.removeprefix("kaggle:"))
    if text.startswith("portal:"):
        from topcup_bench.datasets.portal import open_portal_dataset  # imports this module

        return open_portal_dataset(text)
    path, options = _split_options(text, _COPICK_OPTIONS, text)
    if path.endswith(".json") or Path(path).is_file():
        return CopickDataset(
            path,
            tomo_type=options.get("tomo_type", "denoised"),
            truth_user=options.get("user", TRUTH_USER),
            truth_session=options.get("session", TRUTH_SESSION),
            voxel_size_angstrom=float(options["voxel_size"]) if "voxel_size" in options else None,
        )
    raise InputError(
        text,
        "unknown dataset; expected phantom:NAME (names: "
        f"{sorted(PHANTOM_DATASETS)} or a preset), kaggle:DIR, portal:ID, or a copick config "
        ".json",
    )


def describe_datasets() -> pd.DataFrame:
    """Embedded phantom datasets and generator presets, one row each."""
    rows = [
        {
            "dataset": f"phantom:{name}",
            "preset": d.preset,
            "runs": d.n_runs,
            "test runs": d.n_test,
            "seed": d.seed,
            "description": d.description,
        }
        for name, d in PHANTOM_DATASETS.items()
    ]
    for preset in list_presets():
        rows.append(
            {
                "dataset": f"phantom:{preset}",
                "preset": preset,
                "runs": 6,
                "test runs": 2,
                "seed": 0,
                "description": resolve_preset(preset).describe(),
            }
        )
    return pd.DataFrame(rows)


def _split_options(text: str, allowed: set[str], spec: str) -> tuple[str, dict[str, str]]:
    body, _, query = text.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    for key in options:
        if key not in allowed:
            raise InputError(
                spec,
                f"unknown option {key!r}; allowed: {sorted(allowed)}." + did_you_mean(key, allowed),
            )
    return body, options


def _int_option(options: dict[str, str], key: str, default: int, spec: str) -> int:
    if key not in options:
        return default
    try:
        return int(options[key])
    except ValueError:
        raise InputError(
            spec, f"option {key!r} must be an integer, found {options[key]!r}"
        ) from None
