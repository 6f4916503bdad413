"""``octopi``: octopi's 3D U-Net, trained and run on the CPU through its Python API.

octopi (Object deTection Of Proteins in cryo-electron tomograms, CZ Imaging
Institute / Biohub; MIT) trains a MONAI U-Net to segment particles from
targets painted around picks, then localises each class's regions.  This
adapter drives each step through octopi's own functions:

1. targets: the training runs (tomograms and ground truth) are copied into a
   temporary copick project, where octopi's ``generate_targets`` paints balls of
   ``radius_scale`` · R (:mod:`~topcup_bench.pickers.adapters.octopi_project`);
   the user's project is only read;
2. training: ``octopi.workflows.train`` for ``epochs`` epochs on the CPU (one
   step per training run of ``batch_size`` crops); the weights are kept in memory;
3. segmentation: octopi's ``Predictor`` on the CPU device (its command line
   refuses to run without a GPU), sliding windows of ``crop_size`` voxels;
4. localisation: octopi's ``extract_coordinates`` (``method``, regions of volume
   between balls of ``radius_min_scale`` · R and ``radius_max_scale`` · R).

``score`` is the fraction of the ball of radius ``radius_scale`` · R around a
pick that the segmentation gives the pick's class (0-1; 1 = a full target ball).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from topcup_bench.datasets.units import voxel_peaks_to_picks
from topcup_bench.errors import InputError
from topcup_bench.identity import digest_json
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

from ..blob import radius_voxels
from ..protocol import TrainablePicker
from ..validation import check_boolean, check_integer, check_number
from .tool_process import ToolMissingError, log_folder

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["OctopiPicker", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'topcup-bench[octopi]'"
_METHODS = ("watershed", "com")


class OctopiPicker(TrainablePicker):
    """octopi's U-Net segmentation and localisation, trained on the training runs (CPU).

    Parameters
    ----------
    epochs : int
        Training epochs; one epoch is one optimiser step per training run.
    batch_size : int
        Random crops per training run and step (octopi's ``batch_size``).
    crop_size : int
        Edge of the cubic crops and of the inference windows, voxels; a multiple
        of the product of ``strides``.
    channels : tuple of int
        U-Net channels per level (octopi's ``--channels``), at least 2.
    strides : tuple of int
        U-Net strides between levels, ``len(channels) - 1`` values (1 or 2).
    res_units : int
        Residual units per U-Net block.
    dropout : float
        Dropout in [0, 1).
    learning_rate : float
        AdamW learning rate (octopi adds a 5-epoch warm-up and cosine decay).
    tversky_alpha : float
        Tversky loss α in [0, 1] (β = 1 - α; octopi's default 0.3 favours recall).
    radius_scale : float
        Targets are balls of ``radius_scale`` · R around the truth picks (0 < s ≤ 1);
        also the ball of the score.
    background_ratio : float
        octopi's share of background-centred crops, in [0, 1].
    ema : bool
        Use the exponential moving average of the weights (octopi's default).
    tta : int
        Test-time augmentations of octopi's predictor, 1 (none) to 8.
    overlap : float
        Sliding-window overlap in [0, 1).
    sw_batch_size : int
        Windows per forward pass.
    method : str
        Localisation: ``"com"``, the centre of mass of each connected region, or
        ``"watershed"`` (octopi's default), which splits touching regions.  ``"com"``
        is the default here: after the short CPU training the regions are rounded
        blobs that the watershed over-splits or drops (best-threshold F-beta 0.37
        against 0.25 on the two held-out tuning runs of ``phantom:default``).
    filter_size : int
        Watershed seed filter size, voxels.
    radius_min_scale, radius_max_scale : float
        Keep regions whose volume lies between balls of these fractions of R.
    seed : int
        Seed of the weights and of the crops (the same seed and threads give the
        same model).
    threads : int
        Torch threads; octopi's data loader gets ``threads - 1`` worker processes (at least 1).
    """

    name = "octopi"
    version = "1"
    description = "octopi 3D U-Net segmentation + localisation, trained on the CPU (adapter)"
    citation = (
        "octopi: Object deTection Of Proteins in cryo-electron tomograms. J. Schwartz, K. Zhao, "
        "D. Ji, U. Ermel et al., CZ Imaging Institute / Biohub; https://github.com/Biohub/octopi"
    )
    licence = "MIT"

    def __init__(
        self,
        epochs: int = 60,
        batch_size: int = 8,
        crop_size: int = 48,
        channels: tuple = (16, 32, 64, 64),
        strides: tuple = (2, 2, 1),
        res_units: int = 1,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        tversky_alpha: float = 0.3,
        radius_scale: float = 0.7,
        background_ratio: float = 0.0,
        ema: bool = True,
        tta: int = 1,
        overlap: float = 0.25,
        sw_batch_size: int = 4,
        method: str = "com",
        filter_size: int = 10,
        radius_min_scale: float = 0.5,
        radius_max_scale: float = 1.0,
        seed: int = 0,
        threads: int = 2,
    ) -> None:
        self.epochs = check_integer("octopi", "epochs", epochs, 1)
        self.batch_size = check_integer("octopi", "batch_size", batch_size, 1)
        self.channels = _integers("channels", channels, low=1, count=None)
        self.strides = _integers("strides", strides, low=1, count=len(self.channels) - 1)
        if any(s > 2 for s in self.strides):
            raise InputError("octopi", f"parameter strides must be 1 or 2, found {strides!r}")
        self.crop_size = check_integer("octopi", "crop_size", crop_size, 8)
        factor = 2 ** self.strides.count(2)
        if self.crop_size % factor:
            raise InputError(
                "octopi",
                f"parameter crop_size must be a multiple of {factor} (the product of strides "
                f"{list(self.strides)}), found {crop_size!r}",
            )
        self.res_units = check_integer("octopi", "res_units", res_units, 0)
        self.dropout = _fraction("dropout", dropout, closed=False)
        self.learning_rate = check_number(
            "octopi", "learning_rate", learning_rate, low=0.0, strict=True
        )
        self.tversky_alpha = _fraction("tversky_alpha", tversky_alpha, closed=True)
        self.radius_scale = check_number("octopi", "radius_scale", radius_scale, low=0, strict=True)
        if self.radius_scale > 1:
            raise InputError(
                "octopi", f"parameter radius_scale must be <= 1, found {radius_scale!r}"
            )
        self.background_ratio = _fraction("background_ratio", background_ratio, closed=True)
        self.ema = check_boolean("octopi", "ema", ema)
        self.tta = check_integer("octopi", "tta", tta, 1)
        if self.tta > 8:
            raise InputError("octopi", f"parameter tta must be at most 8, found {tta!r}")
        self.overlap = _fraction("overlap", overlap, closed=False)
        self.sw_batch_size = check_integer("octopi", "sw_batch_size", sw_batch_size, 1)
        if method not in _METHODS:
            raise InputError(
                "octopi", f"parameter method must be one of {list(_METHODS)}, found {method!r}"
            )
        self.method = method
        self.filter_size = check_integer("octopi", "filter_size", filter_size, 1)
        self.radius_min_scale = check_number(
            "octopi", "radius_min_scale", radius_min_scale, low=0.0
        )
        self.radius_max_scale = check_number(
            "octopi", "radius_max_scale", radius_max_scale, low=self.radius_min_scale, strict=True
        )
        self.seed = check_integer("octopi", "seed", seed, 0)
        self.threads = check_integer("octopi", "threads", threads, 1)
        self.trained_on: tuple[str, ...] = ()
        self._model = None  # octopi_model.TrainedModel once fitted
        self._segmenter = None  # CpuSegmenter, built on first pick (never pickled)

    # ------------------------------------------------------------------ tool
    @property
    def tool_version(self) -> str:
        """The installed octopi's version (``"unknown: ..."`` when it is not installed)."""
        try:
            return metadata.version("octopi")
        except metadata.PackageNotFoundError:
            return "unknown: octopi is not installed"

    def prepare(self, dataset: Dataset) -> None:
        """Check that octopi can be imported.

        Raises
        ------
        ToolMissingError
            octopi (or one of its own dependencies) is not installed.
        """
        _require_octopi(self.display_name)

    def input_digest(self, dataset: Dataset, run: str) -> str:
        """The run's tomogram digest and the octopi version."""
        return digest_json({"tomogram": dataset.run_digest(run), "octopi": self.tool_version})

    def log_files(self, runs: Sequence[str]) -> dict[str, str]:
        """octopi's output: ``fit`` → the training log, run → that run's segmentation log."""
        folder = log_folder(self.display_name)
        paths = {"fit": folder / "fit.log", **{run: folder / f"{run}.log" for run in runs}}
        return {key: str(path) for key, path in paths.items() if path.is_file()}

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset, runs: Sequence[str]) -> None:
        """Train octopi on ``runs`` of ``dataset``; sets ``trained_on``.

        The dataset is only read: targets are painted in a temporary project,
        removed after training.  octopi's output goes to the ``fit`` log file.

        Raises
        ------
        ToolMissingError
            octopi is not installed.
        InputError
            No runs, no ground truth in them, or runs of different voxel sizes.
        ToolError
            octopi saved no model.
        """
        from .octopi_model import captured_output, seeded, torch_threads, train_model
        from .octopi_project import build_training_project

        _require_octopi(self.display_name)
        runs = (runs,) if isinstance(runs, str) else tuple(runs)
        log = log_folder(self.display_name) / "fit.log"
        with (
            tempfile.TemporaryDirectory(prefix="topcup-octopi-") as folder,
            captured_output(log, mode="w"),
            torch_threads(self.threads),
            seeded(self.seed),
        ):
            project = build_training_project(
                dataset, runs, Path(folder) / "project", radius_scale=self.radius_scale
            )
            self._model = train_model(
                project,
                Path(folder) / "model",
                architecture=self.architecture(),
                epochs=self.epochs,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                tversky_alpha=self.tversky_alpha,
                background_ratio=self.background_ratio,
                ema=self.ema,
                overlap=self.overlap,
                sw_batch_size=self.sw_batch_size,
                picker=self.display_name,
            )
        self._segmenter = None
        self.trained_on = runs

    def architecture(self) -> dict[str, Any]:
        """octopi's model configuration (without ``num_classes``, set from the targets)."""
        return {
            "architecture": "Unet",
            "channels": list(self.channels),
            "strides": list(self.strides),
            "num_res_units": self.res_units,
            "dropout": self.dropout,
            "dim_in": self.crop_size,
        }

    # ------------------------------------------------------------------ picking
    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Segment ``tomogram`` with octopi on the CPU and localise each class.

        Returns
        -------
        pandas.DataFrame
            Picks in Å (x, y, z); ``score`` = fraction of the ball of radius
            ``radius_scale`` · R around the pick segmented as its class.

        Raises
        ------
        InputError
            The picker is not trained, or ``classes`` has a class it was not trained on.
        """
        from .octopi_model import captured_output, fill_fraction, localise, torch_threads

        if self._model is None:
            raise InputError("octopi", "the model is not trained: call fit(dataset, runs) first")
        missing = [c.name for c in classes if c.name not in self._model.labels]
        if missing:
            raise InputError(
                "octopi", f"classes {missing} were not in training ({list(self._model.labels)})"
            )
        log = log_folder(self.display_name) / f"{tomogram.run}.log"
        with captured_output(log, mode="w"), torch_threads(self.threads):
            labels = self._segment(tomogram)
            frames = []
            for particle_class in classes:
                label = self._model.labels[particle_class.name]
                radius = radius_voxels(particle_class.radius_angstrom, tomogram.voxel_size_angstrom)
                centres = localise(
                    labels,
                    label,
                    radius,
                    method=self.method,
                    filter_size=self.filter_size,
                    radius_min_scale=self.radius_min_scale,
                    radius_max_scale=self.radius_max_scale,
                )
                scores = fill_fraction(labels, label, centres, self.radius_scale * radius)
                frames.append(
                    voxel_peaks_to_picks(
                        tomogram.run,
                        particle_class.name,
                        centres,
                        scores,
                        tomogram.voxel_size_angstrom,
                    )
                )
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else empty_picks_table()

    def _segment(self, tomogram: Tomogram):
        from .octopi_model import CpuSegmenter

        if self._segmenter is None:
            self._segmenter = CpuSegmenter(
                self._model, overlap=self.overlap, sw_batch_size=self.sw_batch_size, tta=self.tta
            )
        return self._segmenter.segment(tomogram.data)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_segmenter"] = None  # rebuilt from the weights (bytes) in the new process
        return state


def _require_octopi(picker: str) -> None:
    """Import octopi's modules that the adapter calls, or raise one clear line."""
    from .octopi_model import _quiet_import

    try:
        with _quiet_import():
            import octopi.extract.localize  # noqa: F401
            import octopi.processing.create_targets_from_picks  # noqa: F401
            import octopi.pytorch.inference  # noqa: F401
            import octopi.workflows  # noqa: F401
    except ImportError as error:
        if (error.name or "octopi").split(".")[0] == "octopi":
            problem = "octopi is not installed"
        else:  # octopi is there, one of its own dependencies is not
            problem = f"octopi cannot be imported ({' '.join(str(error).split())})"
        raise ToolMissingError(f"picker {picker!r}: {problem}; {INSTALL_HINT}") from None


def _integers(name: str, value: object, *, low: int, count: int | None) -> tuple[int, ...]:
    """A tuple of ints ``>= low`` (strings from the command line converted), of ``count`` items."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (int, float)):
        items = (value,)
    else:
        items = value
    try:
        numbers = tuple(int(str(v).strip()) for v in items)
    except (TypeError, ValueError):
        numbers = ()
    bad = (
        not numbers
        or any(isinstance(v, (bool, float)) for v in items)
        or min(numbers) < low
        or (count is None and len(numbers) < 2)
        or (count is not None and len(numbers) != count)
    )
    if bad:
        size = "at least 2" if count is None else str(count)
        raise InputError(
            "octopi",
            f"parameter {name} must be {size} integers >= {low}, found {value!r}",
        )
    return numbers


def _fraction(name: str, value: object, *, closed: bool) -> float:
    """A number in [0, 1] (``closed``) or [0, 1)."""
    number = check_number("octopi", name, value, low=0.0)
    if number > 1 or (not closed and number == 1):
        bound = "<= 1" if closed else "< 1"
        raise InputError("octopi", f"parameter {name} must be {bound}, found {value!r}")
    return number
