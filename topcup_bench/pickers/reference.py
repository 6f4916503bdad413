"""Reference pickers that bound every leaderboard: ``oracle`` (1.0) and ``random`` (the floor)."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd

from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import InputError
from topcup_bench.identity import digest_json
from topcup_bench.types import ClassCatalogue, Tomogram

from .protocol import Picker

__all__ = ["OraclePicker", "RandomPicker"]


class OraclePicker(Picker):
    """The ground truth itself, with optional Gaussian jitter.

    Parameters
    ----------
    jitter_angstrom : float
        RMS 3-D displacement σ in Å (per-axis σ = jitter / √3); 0 gives the ground
        truth exactly, which must score 1.0.  σ = 0.25 R keeps about 99 % of the
        points within the 0.5 R match radius.
    seed : int
        Seed of the jitter (combined with the run name).
    """

    name = "oracle"
    version = "1"
    description = "ground-truth positions (score 1.0), optionally jittered; the ceiling"
    citation = "topcup-bench reference picker"

    def __init__(self, jitter_angstrom: float = 0.0, seed: int = 0) -> None:
        if not (jitter_angstrom >= 0 and math.isfinite(jitter_angstrom)):
            raise InputError(
                "picker 'oracle'",
                f"jitter_angstrom must be a finite number >= 0, found {jitter_angstrom!r}",
            )
        self.jitter_angstrom = float(jitter_angstrom)
        self.seed = int(seed)
        self._truth: pd.DataFrame | None = None

    def prepare(self, dataset: Dataset) -> None:
        """Read the ground truth of every run."""
        self._truth = dataset.truth()

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """The run's tomogram digest and its ground truth's digest (the oracle's picks)."""
        return digest_json(
            {"tomogram": dataset.run_digest(run), "truth": dataset.truth_digest([run])}
        )

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        if self._truth is None:
            raise InputError("oracle", "the oracle needs the dataset: call prepare(dataset) first")
        truth = self._truth
        picks = truth.loc[
            (truth["experiment"] == tomogram.run) & truth["particle_type"].isin(classes.names),
            ["experiment", "particle_type", "x", "y", "z"],
        ].reset_index(drop=True)
        if self.jitter_angstrom > 0 and len(picks):
            rng = np.random.default_rng([self.seed, zlib.crc32(tomogram.run.encode())])
            shift = rng.normal(0.0, self.jitter_angstrom / np.sqrt(3.0), size=(len(picks), 3))
            picks[["x", "y", "z"]] = picks[["x", "y", "z"]].to_numpy() + shift
        picks["score"] = 1.0
        return picks


class RandomPicker(Picker):
    """Uniform random points at the ground-truth density, with uniform random scores.

    The expected count per class is the mean ground-truth density (per Å³) of
    the dataset's training runs (all runs when none are recorded) times the
    tomogram's volume.

    Parameters
    ----------
    seed : int
        Seed (combined with the run name, so runs do not depend on their order).
    """

    name = "random"
    version = "1"
    description = "uniform random positions at the ground-truth density; the floor"
    citation = "topcup-bench reference picker"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._density: dict[str, float] | None = None

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """The run's tomogram, plus the ground truth and extents the density comes from."""
        runs = self._density_runs(dataset)
        return digest_json(
            {
                "tomogram": dataset.run_digest(run),
                "density_truth": dataset.truth_digest(runs),
                "density_extents": [dataset.extent_angstrom_xyz(r) for r in runs],
            }
        )

    @staticmethod
    def _density_runs(dataset: Dataset) -> tuple[str, ...]:
        return tuple(dataset.splits.get("train") or dataset.runs)

    def prepare(self, dataset: Dataset) -> None:
        """Estimate the particle density per class from the training runs."""
        runs = self._density_runs(dataset)
        truth = dataset.truth(runs)
        volume = sum(float(np.prod(dataset.extent_angstrom_xyz(run))) for run in runs)
        counts = truth.groupby("particle_type").size()
        self._density = {str(name): float(n) / volume for name, n in counts.items()}

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        if self._density is None:
            raise InputError("random", "call prepare(dataset) first to learn the density")
        rng = np.random.default_rng([self.seed, zlib.crc32(tomogram.run.encode())])
        extent = np.array(tomogram.extent_angstrom_xyz)
        frames = []
        for particle_class in classes:
            expected = self._density.get(particle_class.name, 0.0) * float(np.prod(extent))
            n = int(rng.poisson(expected))
            xyz = rng.uniform(0.0, 1.0, size=(n, 3)) * extent
            frames.append(
                pd.DataFrame(
                    {
                        "experiment": tomogram.run,
                        "particle_type": particle_class.name,
                        "x": xyz[:, 0],
                        "y": xyz[:, 1],
                        "z": xyz[:, 2],
                        "score": rng.uniform(0.0, 1.0, size=n),
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)
