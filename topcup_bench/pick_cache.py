"""The runner's per-(picker, run) picks cache: content-keyed and checksummed.

Each entry is two files under ``<root>/<picker>/``::

    <key>.csv    the run's picks (Kaggle CSV with a score column)
    <key>.json   sidecar: {"key", "csv_sha256", "csv_bytes", "pick_seconds"}

The key hashes everything the picks depend on (:meth:`PickCache.key`): the
picker (name, version, parameters), the run, the classes and voxel size, the
digest of the picker's input data (:meth:`Picker.input_digest`: the
tomogram's values, for the oracle also the run's ground truth, for
``external`` the source's content), for trainable pickers the digests of the
training runs, and the package version.  Editing a tomogram or the ground
truth therefore never returns picks of the old data.

An entry is used only when both files exist, the sidecar names the key and
the CSV's SHA-256 matches: a truncated, corrupt or half-written entry is
reported (:class:`~topcup_bench.errors.TopcupBenchWarning` naming its path),
deleted and recomputed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from topcup_bench._version import __version__
from topcup_bench.datasets.atomic import atomic_output
from topcup_bench.datasets.dataset import Dataset
from topcup_bench.errors import TopcupBenchWarning
from topcup_bench.identity import digest_bytes, digest_json
from topcup_bench.pickers.protocol import Picker, TrainablePicker

__all__ = ["PickCache", "training_digest", "training_identity"]


def training_digest(dataset: Dataset, runs: Sequence[str]) -> str:
    """Digest of what training on ``runs`` reads: their tomograms and ground truth."""
    return digest_json(
        {
            "truth": dataset.truth_digest(list(runs)),
            "tomograms": {run: dataset.run_digest(run) for run in runs},
        }
    )


def training_identity(dataset: Dataset, runs: Sequence[str]) -> dict:
    """The dataset's identity without its other runs: what training on ``runs`` depends on.

    :meth:`Dataset.identity` less its run list, truth digest and tomogram
    digests, plus :func:`training_digest` of ``runs``: two datasets that share
    their training runs (``phantom:default`` and ``phantom:paper``) give the same
    value.
    """
    kept = {
        key: value
        for key, value in dataset.identity().items()
        if key not in ("runs", "truth_digest", "tomogram_digests", "digest")
    }
    return {**kept, "training_data": training_digest(dataset, runs)}


class PickCache:
    """Per-(picker, run) picks on disk: ``<root>/<picker>/<key>.csv`` plus a checksummed sidecar.

    Parameters
    ----------
    root : pathlib.Path or None
        Folder of the cache; ``None`` disables it (nothing is read or written).
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def key(self, picker: Picker, dataset: Dataset, run: str, train_runs: Sequence[str]) -> str:
        """Hex key (20 characters) of the picks of ``picker`` on ``run`` of ``dataset``."""
        trainable = isinstance(picker, TrainablePicker)
        fields = {
            "picker": picker.name,
            "version": picker.version,
            "parameters": picker.parameters(),
            "run": run,
            "input": picker.input_digest(dataset, run),
            "voxel_size_angstrom": float(dataset.voxel_size_angstrom),
            "classes": [dataclasses.asdict(c) for c in dataset.classes],
            "train_runs": list(train_runs) if trainable else [],
            "training_data": training_digest(dataset, train_runs) if trainable else None,
            "topcup_bench": __version__,
        }
        return digest_json(fields)[:20]

    def load(self, picker: Picker, key: str) -> tuple[pd.DataFrame, float] | None:
        """The cached picks and pick time of ``key``, or None (a miss, or a bad entry removed)."""
        if self.root is None or not picker.cacheable:
            return None
        path = self._path(picker, key)
        meta = path.with_suffix(".json")
        if not path.is_file() and not meta.is_file():
            return None
        try:
            return self._read(path, meta, key)
        except _BadEntry as problem:
            warnings.warn(
                f"picks cache entry {path}: {problem}; discarded, the picks are recomputed",
                TopcupBenchWarning,
                stacklevel=2,
            )
            path.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
            return None

    def store(self, picker: Picker, key: str, table: pd.DataFrame, seconds: float) -> None:
        """Write the picks of ``key``: the CSV first, then the sidecar holding its checksum."""
        if self.root is None or not picker.cacheable:
            return
        path = self._path(picker, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = table.to_csv(index=False).encode("utf-8")
        with atomic_output(path, overwrite=True) as temporary:
            temporary.write_bytes(data)
        sidecar = {
            "key": key,
            "csv_sha256": digest_bytes(data),
            "csv_bytes": len(data),
            "pick_seconds": float(seconds),
        }
        with atomic_output(path.with_suffix(".json"), overwrite=True) as temporary:
            temporary.write_text(json.dumps(sidecar), encoding="utf-8")

    def _read(self, path: Path, meta: Path, key: str) -> tuple[pd.DataFrame, float]:
        if not meta.is_file():
            raise _BadEntry(f"sidecar {meta.name} missing (an interrupted write?)")
        if not path.is_file():
            raise _BadEntry(f"sidecar {meta.name} without its CSV")
        try:
            sidecar = json.loads(meta.read_text(encoding="utf-8"))
            recorded_key, checksum = sidecar["key"], sidecar["csv_sha256"]
            seconds = float(sidecar["pick_seconds"])
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
            raise _BadEntry(
                f"unreadable sidecar {meta.name} ({type(error).__name__}: {error})"
            ) from None
        if recorded_key != key:
            raise _BadEntry(f"sidecar {meta.name} names another key {str(recorded_key)[:40]!r}")
        data = path.read_bytes()
        if digest_bytes(data) != checksum:
            raise _BadEntry(
                f"checksum mismatch ({len(data)} bytes; truncated or modified since written)"
            )
        try:
            table = pd.read_csv(io.BytesIO(data), dtype={"experiment": str, "particle_type": str})
        except (ValueError, pd.errors.ParserError) as error:
            raise _BadEntry(f"unreadable CSV ({type(error).__name__}: {error})") from None
        return table, seconds

    def _path(self, picker: Picker, key: str) -> Path:
        return self.root / picker.display_name / f"{key}.csv"


class _BadEntry(Exception):
    """A cache entry that must not be used (the message says why)."""
