"""``topcup-cli``: the official TopCUP command line (``topcup inference``) on the copick project.

TopCUP (PyPI ``topcup``, czimaginginstitute/czii_cryoet_mlchallenge_winning_models)
reads the tomogram through copick and writes every pick of a run into one CSV::

    topcup inference -c CONFIG -ts {run} -p CHECKPOINTS -pa '*.ckpt' --pixelsize V
        -tt TOMO_TYPE -o {output} -g GPUS -bs B

``{output}/val_pred_df_seed.csv`` has the columns ``x, y, z`` (Å),
``particle_type``, ``experiment`` and ``conf`` (the score), read by the CSV
importer.  TopCUP keeps the picks with ``conf`` above each class's
``metadata.score_threshold`` in the copick config (and fails on a class
without one), so the preset hands it a copy of the dataset's config with the
threshold ``score_threshold`` (0: every candidate, for the benchmark's sweep)
in every class; ``config_thresholds=true`` keeps the config's own values
where it has them.  The copy lives in the cache (``command-inputs/topcup-cli``).

TopCUP's post-processing runs on CUDA: it needs a GPU.  It pins torch < 2.5
and copick <= 1.17, so it usually lives in an environment of its own: put
that environment's ``topcup`` on PATH.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, ClassVar

from topcup_bench.datasets.catalog import cache_dir
from topcup_bench.errors import InputError
from topcup_bench.identity import digest_json
from topcup_bench.types import ClassCatalogue

from .command_spec import number_text
from .presets import ToolPreset, absolute, require

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["TopcupCliPicker", "INSTALL_HINT", "write_thresholded_config"]

#: What to install when the ``topcup`` command cannot be found.
INSTALL_HINT = (
    "install TopCUP (pip install topcup; MIT; torch < 2.5, copick <= 1.17, so best in an "
    "environment of its own) and put that environment's bin folder on PATH"
)


class TopcupCliPicker(ToolPreset):
    """The official TopCUP CLI (``topcup inference``) with released or trained checkpoints.

    Parameters
    ----------
    weights : str
        Checkpoint files or folders of checkpoints, comma separated (``-p``).  Required.
    pattern : str
        Checkpoints of a folder that are used (``-pa``).
    tomo_type : str
        copick tomogram type (``-tt``); empty: the dataset's.
    score_threshold : float
        Threshold written into every class of the config copy TopCUP reads;
        it keeps picks with ``conf`` above it.
    config_thresholds : bool
        Keep the dataset config's own ``score_threshold`` where it has one.
    gpus, batch_size : int
        ``-g`` and ``-bs``.
    timeout_s, label, threads, keep_work, version_command
        As for ``command``.
    """

    name = "topcup-cli"
    version = "1"
    description = (
        "the official TopCUP CLI (topcup inference): 3D U-Net ensemble, flip TTA, per-class "
        "max-pool NMS, read through copick; score conf"
    )
    citation = (
        "CZII CryoET Object Identification, 1st place (Kaggle 2025); TopCUP, "
        "github.com/czimaginginstitute/czii_cryoet_mlchallenge_winning_models"
    )
    licence = "MIT (topcup, run as a separate program)"
    distribution = "topcup"
    install_hint = INSTALL_HINT
    extra_placeholders: ClassVar[tuple[str, ...]] = (
        "topcup_config",
        "weights",
        "pattern",
        "tomo_type",
        "gpus",
        "batch_size",
    )
    default_command = (
        "topcup inference -c {topcup_config} -ts {run} -p {weights} -pa {pattern}"
        " --pixelsize {voxel_size} -tt {tomo_type} -o {output} -g {gpus} -bs {batch_size}"
    )
    default_output = "val_pred_df_seed.csv"
    default_format = "csv"
    default_version_command = "topcup --version"

    def __init__(
        self,
        weights: str = "",
        pattern: str = "*.ckpt",
        tomo_type: str = "",
        score_threshold: float = 0.0,
        config_thresholds: bool = False,
        gpus: int = 1,
        batch_size: int = 1,
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        version_command: str = "",
    ) -> None:
        picker = label or self.name
        text = require(weights, "weights", picker, "weights=/models/topcup/checkpoints")
        self.weights = ",".join(absolute(part.strip()) for part in text.split(",") if part.strip())
        self.pattern = require(pattern, "pattern", picker, "pattern='*.ckpt'")
        self.tomo_type = tomo_type.strip()
        self.score_threshold = float(score_threshold)
        self.config_thresholds = bool(config_thresholds)
        self.gpus, self.batch_size = int(gpus), int(batch_size)
        for parameter in ("gpus", "batch_size"):
            if getattr(self, parameter) < 1:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter {parameter!r} must be >= 1, found {getattr(self, parameter)}",
                )
        self._topcup_config: str | None = None
        self._dataset_tomo_type = ""
        super().__init__(
            input="copick",
            version_command=version_command,
            timeout_s=timeout_s,
            label=label,
            threads=threads,
            keep_work=keep_work,
        )

    def preset_files(self) -> dict[str, str]:
        """Each checkpoint file or folder of ``weights``."""
        return {f"weights[{i}]": path for i, path in enumerate(self.weights.split(","))}

    def prepare(self, dataset: Dataset) -> None:
        """As ``ToolPreset.prepare``, then write the config copy with the thresholds.

        Raises
        ------
        InputError
            The dataset is not a copick project, or no tomogram type is known.
        """
        super().prepare(dataset)
        self._dataset_tomo_type = str(getattr(dataset, "tomo_type", "") or "")
        if not (self.tomo_type or self._dataset_tomo_type):
            raise InputError(self._source, "parameter 'tomo_type' is required for this dataset")
        self._topcup_config = str(
            write_thresholded_config(
                self._copick_config or "",
                self.score_threshold,
                keep_own=self.config_thresholds,
            )
        )

    def extra_values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, str]:
        """The config copy, checkpoints, pattern, tomogram type, GPUs and batch size."""
        if self._topcup_config is None:
            raise InputError(self._source, "call prepare(dataset) before pick")
        return {
            "topcup_config": self._topcup_config,
            "weights": self.weights,
            "pattern": self.pattern,
            "tomo_type": self.tomo_type or self._dataset_tomo_type,
            "gpus": str(self.gpus),
            "batch_size": str(self.batch_size),
        }


def write_thresholded_config(config: str, threshold: float, *, keep_own: bool) -> str:
    """A copy of a copick config with ``metadata.score_threshold`` in every object.

    Parameters
    ----------
    config : str
        The dataset's copick config (JSON).
    threshold : float
        The threshold written into each pickable object's metadata.
    keep_own : bool
        Keep the values the config already has.

    Returns
    -------
    str
        Path of the copy, ``CACHE/command-inputs/topcup-cli/<digest>/copick_config.json``;
        the same content gives the same path.

    Raises
    ------
    InputError
        The config cannot be read as JSON.
    """
    try:
        with open(config, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as error:
        raise InputError(config, f"cannot read the copick config: {error}") from None
    for entry in document.get("pickable_objects") or []:
        metadata = entry.get("metadata") or {}
        if not (keep_own and "score_threshold" in metadata):
            metadata["score_threshold"] = float(number_text(threshold))
        entry["metadata"] = metadata
    text = json.dumps(document, indent=2) + "\n"
    folder = cache_dir() / "command-inputs" / "topcup-cli" / digest_json(text)[:16]
    path = folder / "copick_config.json"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".copick_config.{os.getpid()}.tmp"
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    return str(path)
