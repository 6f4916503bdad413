"""octopi's training, CPU segmentation and localisation, called through its Python API.

* :func:`train_model`: octopi's data module (``DataGeneratorConfig``) over a
  :class:`~topcup_bench.pickers.adapters.octopi_project.TrainingProject`, a
  MONAI Tversky loss as octopi's ``train`` command builds it, and
  ``octopi.workflows.train`` (a 3D U-Net; CPU when no GPU is visible).  The
  weights come back as bytes, so a trained picker pickles.
* :class:`CpuSegmenter`: octopi's ``Predictor`` on the CPU device.  octopi
  1.7's ``Predictor.__init__`` raises "No GPUs available." whenever
  ``torch.cuda.device_count()`` is 0, even when it is given a CPU device; we
  let it count one GPU while it is built, and nothing else (every tensor is on
  the CPU device we pass).  Its checkpoint resolver also creates a cache folder
  inside the installed package: we point that at our temporary folder.
* :func:`localise`: octopi's ``extract_coordinates`` (watershed or centre of
  mass of each class's connected regions); :func:`fill_fraction` scores each pick.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from topcup_bench.pickers.peaks import ball

from .octopi_project import TARGET_NAME, TARGET_SESSION, TARGET_USER, TrainingProject
from .tool_process import ToolError

__all__ = [
    "TrainedModel",
    "train_model",
    "CpuSegmenter",
    "localise",
    "fill_fraction",
    "captured_output",
    "torch_threads",
    "seeded",
]


@dataclass(frozen=True)
class TrainedModel:
    """A trained octopi model, held in memory.

    Attributes
    ----------
    weights : bytes
        The state dict octopi saved (``best_model.pth``, a ``torch.save`` file).
    config_yaml : str
        octopi's ``model_config.yaml``: architecture, ``num_classes``, ``dim_in``, labels.
    labels : dict of str to int
        Class name → segmentation label (0 is background).
    """

    weights: bytes
    config_yaml: str
    labels: dict[str, int]


def train_model(
    project: TrainingProject,
    output: Path,
    *,
    architecture: Mapping[str, Any],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    tversky_alpha: float,
    background_ratio: float,
    ema: bool,
    overlap: float,
    sw_batch_size: int,
    picker: str = "octopi",
) -> TrainedModel:
    """Train octopi's U-Net on ``project``; octopi writes its files into ``output``.

    One epoch is one step per training run, each on ``batch_size`` random crops of
    ``architecture["dim_in"]`` voxels (octopi's sampling: crops centred on each
    class in turn, ``background_ratio`` of them on background).  octopi validates
    once, after the last epoch, on ``project.validation_run`` (the last training run
    or a crop of it; it needs one to save a model): the saved weights are the final
    ones (their EMA when ``ema``).

    Parameters
    ----------
    project : TrainingProject
        Tomograms and targets.
    output : pathlib.Path
        Folder for octopi's model files.
    architecture : mapping
        octopi's model config without ``num_classes`` (``architecture``,
        ``channels``, ``strides``, ``num_res_units``, ``dropout``, ``dim_in``).
    epochs, batch_size : int
        Training budget.
    learning_rate, tversky_alpha : float
        AdamW learning rate; Tversky α (β = 1 - α).
    background_ratio : float
        octopi's background crop ratio in [0, 1].
    ema : bool
        Keep an exponential moving average of the weights.
    overlap : float
        Sliding-window overlap of the validation pass.
    sw_batch_size : int
        Windows per forward pass in validation.
    picker : str
        Leaderboard name, for messages.

    Raises
    ------
    ToolError
        octopi finished without saving a model.
    """
    from monai.losses import TverskyLoss

    with _quiet_import():
        from octopi.datasets.config import DataGeneratorConfig
        from octopi.workflows import train

    runs = list(project.runs)
    generator = DataGeneratorConfig(
        config=str(project.config_path),
        name=TARGET_NAME,
        user_id=TARGET_USER,
        session_id=TARGET_SESSION,
        tomo_uris=[project.tomo_uri],
        background_ratio=background_ratio,
        trainRunIDs=runs,
        validateRunIDs=[project.validation_run],
    ).create_data_generator()
    model_config = {**architecture, "num_classes": generator.Nclasses}
    loss = TverskyLoss(
        include_background=True,
        to_onehot_y=True,
        softmax=True,
        alpha=tversky_alpha,
        beta=1.0 - tversky_alpha,
    )
    train(
        generator,
        loss,
        batch_size=batch_size,
        model_config=model_config,
        lr0=learning_rate,
        model_save_path=str(output),
        best_metric="fBeta2",
        num_epochs=epochs,
        use_ema=ema,
        val_interval=epochs,
        sw_bs=sw_batch_size,
        overlap=overlap,
    )
    weights, config = Path(output) / "best_model.pth", Path(output) / "model_config.yaml"
    if not (weights.is_file() and config.is_file()):
        raise ToolError(f"picker {picker!r}: octopi's training saved no model in {output}")
    return TrainedModel(
        weights.read_bytes(), config.read_text(encoding="utf-8"), dict(project.labels)
    )


class CpuSegmenter:
    """octopi's ``Predictor`` on the CPU: a tomogram in, a label map out.

    Parameters
    ----------
    model : TrainedModel
        The trained model.
    overlap : float
        Sliding-window overlap in [0, 1).
    sw_batch_size : int
        Windows per forward pass.
    tta : int
        octopi's test-time augmentations (1 = none, up to 8).
    """

    def __init__(self, model: TrainedModel, *, overlap: float, sw_batch_size: int, tta: int):
        import torch

        with _quiet_import():
            import octopi.utils.hub as hub
            from octopi.pytorch.inference import Predictor

        with tempfile.TemporaryDirectory(prefix="topcup-octopi-") as folder:
            folder = Path(folder)
            (folder / "model.pth").write_bytes(model.weights)
            (folder / "model.yaml").write_text(model.config_yaml, encoding="utf-8")
            (folder / "copick.json").write_text(_empty_project(folder), encoding="utf-8")
            with (
                mock.patch.object(torch.cuda, "device_count", return_value=1),
                mock.patch.object(hub, "default_cache_dir", return_value=str(folder / "hub")),
            ):
                self.predictor = Predictor(
                    str(folder / "copick.json"),
                    str(folder / "model.yaml"),
                    str(folder / "model.pth"),
                    sw_bs=sw_batch_size,
                    overlap=overlap,
                    ntta=tta,
                    device=torch.device("cpu"),
                )

    def segment(self, data_zyx: np.ndarray) -> np.ndarray:
        """Label map of a (z, y, x) volume: 0 background, else the class label; same shape."""
        return np.asarray(self.predictor.predict(np.ascontiguousarray(data_zyx, np.float32)))


def _empty_project(folder: Path) -> str:
    """A copick configuration with no objects (octopi's ``Predictor`` opens one)."""
    return json.dumps(
        {
            "config_type": "filesystem",
            "name": "topcup-bench-octopi",
            "version": "1.31.0",
            "pickable_objects": [],
            "overlay_root": f"local://{folder / 'project'}",
        }
    )


def localise(
    labels_zyx: np.ndarray,
    label: int,
    radius_voxels: float,
    *,
    method: str,
    filter_size: int,
    radius_min_scale: float,
    radius_max_scale: float,
) -> np.ndarray:
    """Centres of the regions of one label (octopi's ``extract_coordinates``).

    Regions whose volume lies between the balls of radius ``radius_min_scale`` · R
    and ``radius_max_scale`` · R are kept; octopi merges centres closer than the
    smaller radius and drops those within 0.5 % of the box edges.

    Parameters
    ----------
    labels_zyx : ndarray of int, shape (nz, ny, nx)
        Label map.
    label : int
        The class's label (≥ 1).
    radius_voxels : float
        The class's radius R, voxels.
    method : {"watershed", "com"}
        Split touching regions by a watershed of their distance map, or take each
        connected region's centre of mass.
    filter_size : int
        Maximum-filter size of the watershed seeds, voxels.
    radius_min_scale, radius_max_scale : float
        Size bounds as fractions of R.

    Returns
    -------
    ndarray of float64, shape (N, 3)
        Centres as (z, y, x) voxel coordinates (fractional).
    """
    with _quiet_import():
        from octopi.extract.localize import extract_coordinates

    points = extract_coordinates(
        labels_zyx,
        radius_min_scale * radius_voxels,
        radius_max_scale * radius_voxels,
        label=int(label),
        method=method,
        filter_size=int(filter_size),
    )
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)


def fill_fraction(
    labels_zyx: np.ndarray, label: int, centres_zyx: np.ndarray, radius_voxels: float
) -> np.ndarray:
    """Fraction of the ball around each centre that the label map gives ``label``.

    Parameters
    ----------
    labels_zyx : ndarray of int, shape (nz, ny, nx)
        Label map.
    label : int
        The label counted.
    centres_zyx : ndarray, shape (N, 3)
        Ball centres, (z, y, x) voxels; rounded to the nearest voxel.
    radius_voxels : float
        Ball radius, voxels (:func:`~topcup_bench.pickers.peaks.ball`).

    Returns
    -------
    ndarray of float64, shape (N,)
        In [0, 1]; voxels of the ball outside the volume are not counted.

    Examples
    --------
    >>> labels = np.zeros((5, 5, 5), dtype=int)
    >>> labels[2, 2, 2] = labels[2, 2, 3] = 1
    >>> fill_fraction(labels, 1, np.array([[2.0, 2.0, 2.0]]), 1.0).tolist()  # 2 of 7 voxels
    [0.2857142857142857]
    """
    offsets = np.argwhere(ball(radius_voxels)) - int(np.floor(radius_voxels))
    shape = np.array(labels_zyx.shape)
    scores = np.zeros(len(centres_zyx), dtype=np.float64)
    for i, centre in enumerate(np.rint(np.asarray(centres_zyx, dtype=np.float64))):
        points = centre.astype(np.int64) + offsets
        points = points[((points >= 0) & (points < shape)).all(axis=1)]
        if len(points):
            scores[i] = float(np.mean(labels_zyx[tuple(points.T)] == label))
    return scores


@contextlib.contextmanager
def captured_output(log_path: Path, mode: str = "a") -> Iterator[None]:
    """Send Python's stdout and stderr (octopi's prints, progress bars) to ``log_path``.

    octopi's and MONAI's deprecation notices (``DeprecationWarning``,
    ``FutureWarning``), which a benchmark user cannot act on, are not shown.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log_path, mode, encoding="utf-8", errors="replace") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
        warnings.catch_warnings(),
    ):
        for category in (DeprecationWarning, FutureWarning):
            warnings.filterwarnings("ignore", category=category)
        yield


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch threads and ``threads - 1`` octopi loader workers (at least 1)."""
    import torch

    previous, workers = torch.get_num_threads(), os.environ.get("OCTOPI_MAX_WORKERS")
    torch.set_num_threads(threads)
    os.environ["OCTOPI_MAX_WORKERS"] = str(max(1, threads - 1))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        if workers is None:
            os.environ.pop("OCTOPI_MAX_WORKERS", None)
        else:
            os.environ["OCTOPI_MAX_WORKERS"] = workers


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global generators; restore their states after."""
    import torch

    # octopi and MONAI draw from the legacy global generators: seed those, then put them back
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])  # noqa: NPY002
        torch.set_rng_state(states[2])


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """Import octopi modules without keeping the warning filters they install on import.

    (``octopi.pytorch.trainer`` ignores every ``UserWarning`` process-wide.)
    """
    with warnings.catch_warnings():
        yield
