"""Preview figure of a phantom run: central x-y and x-z slices with ground truth."""

from __future__ import annotations

import os

from topcup_bench.datasets.phantom.generator import PhantomRun
from topcup_bench.errors import InputError
from topcup_bench.types import Tomogram

__all__ = ["save_preview"]


def save_preview(
    run: PhantomRun,
    path: str | os.PathLike[str],
    flavour: str = "denoised",
    *,
    overwrite: bool = False,
) -> None:
    """Write a PNG with the central x-y and x-z slices of a generated run and its ground truth.

    See :func:`topcup_bench.reports.slices.save_slice_figure` for the drawing.

    Parameters
    ----------
    run : PhantomRun
        A generated run.
    path : str or os.PathLike
        Destination PNG; written atomically.
    flavour : str
        Which of ``run.volumes`` to show.
    overwrite : bool
        Replace an existing file.

    Raises
    ------
    InputError
        ``flavour`` not in the run.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    from topcup_bench.reports.slices import save_slice_figure

    if flavour not in run.volumes:
        raise InputError(
            "phantom preview", f"flavour {flavour!r} not generated; available: {list(run.volumes)}"
        )
    tomogram = Tomogram("phantom", run.volumes[flavour], run.preset.voxel_size_angstrom)
    save_slice_figure(
        tomogram,
        run.picks,
        path,
        classes=run.preset.catalogue,
        title=(
            f"{run.preset.name}, seed {run.seed}, {flavour}, defocus "
            f"{run.defocus_angstrom / 1e4:.2f} µm"
        ),
        overwrite=overwrite,
    )
