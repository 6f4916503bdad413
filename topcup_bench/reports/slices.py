"""Central x-y and x-z slices of a tomogram with ground truth (and picks) overlaid.

Ground-truth particles whose centre lies within their radius R of a slice are
drawn as circles of their cross-section there (radius ``sqrt(R² - d²)``),
coloured by class; picks within R of the slice are drawn as crosses.  Axes are
in Å.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from topcup_bench.datasets.atomic import atomic_output  # noqa: E402
from topcup_bench.datasets.units import angstrom_to_voxels  # noqa: E402
from topcup_bench.palette import class_colour  # noqa: E402
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, Tomogram  # noqa: E402

__all__ = ["save_slice_figure"]


def save_slice_figure(
    tomogram: Tomogram,
    truth: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    classes: ClassCatalogue | None = None,
    picks: pd.DataFrame | None = None,
    title: str | None = None,
    overwrite: bool = False,
) -> None:
    """Write a PNG with the central x-y and x-z slices, ground truth and picks marked.

    Parameters
    ----------
    tomogram : Tomogram
        The volume (z, y, x) and its voxel size.
    truth : pandas.DataFrame
        Ground-truth picks (Å, x-y-z); rows of other runs are ignored.
    path : str or os.PathLike
        Destination PNG, written atomically.
    classes : ClassCatalogue, optional
        Radii for the circles (default: the competition classes).
    picks : pandas.DataFrame, optional
        Predicted picks to mark with crosses.
    title : str, optional
        Figure title (default: the run name).
    overwrite : bool
        Replace an existing file.
    """
    catalogue = ClassCatalogue.coerce(classes) if classes is not None else COMPETITION_CLASSES
    volume = tomogram.data
    nz, ny, nx = volume.shape
    v = tomogram.voxel_size_angstrom
    kz, jy = nz // 2, ny // 2
    truth = _of_run(truth, tomogram.run, catalogue)
    picks = _of_run(picks, tomogram.run, catalogue) if picks is not None else None
    low, high = np.percentile(volume[kz], [1, 99])
    fig, (ax_xy, ax_xz) = plt.subplots(
        2, 1, figsize=(7, 7 * (ny + nz) / nx + 0.8), height_ratios=[ny, nz], layout="constrained"
    )
    panels = (
        (ax_xy, volume[kz], 1, 2, kz, "y (Å)", f"x-y slice at z = {kz * v:g} Å"),
        (ax_xz, volume[:, jy, :], 2, 1, jy, "z (Å)", f"x-z slice at y = {jy * v:g} Å"),
    )
    for ax, image, vertical, across, index, ylabel, slice_title in panels:
        extent = (-0.5 * v, (image.shape[1] - 0.5) * v, -0.5 * v, (image.shape[0] - 0.5) * v)
        ax.imshow(image, cmap="gray", origin="lower", extent=extent, vmin=low, vmax=high)
        _draw_truth(ax, truth, catalogue, v, vertical, across, index)
        if picks is not None:
            _draw_picks(ax, picks, catalogue, v, vertical, across, index)
        ax.set_xlim(extent[0], extent[1])  # circles cut at the volume's faces
        ax.set_ylim(extent[2], extent[3])
        ax.set_xlabel("x (Å)")
        ax.set_ylabel(ylabel)
        ax.set_title(slice_title, fontsize=9)
    handles = [
        Line2D([], [], marker="o", ls="", mfc="none", color=_colour(c), label=c)
        for c in catalogue.names
    ]
    if picks is not None:
        handles.append(Line2D([], [], marker="x", ls="", color="k", label="picks"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title or tomogram.run, fontsize=10)
    try:
        with atomic_output(path, overwrite=overwrite) as temporary:
            fig.savefig(temporary, format="png", dpi=110)
    finally:
        plt.close(fig)


def _of_run(table: pd.DataFrame, run: str, catalogue: ClassCatalogue) -> pd.DataFrame:
    kept = table.loc[(table["experiment"] == run) if "experiment" in table else slice(None)]
    return kept.loc[kept["particle_type"].isin(catalogue.names)]


def _distances(table, catalogue, v, across, index):
    xyz = table[["x", "y", "z"]].to_numpy(np.float64)
    voxels = angstrom_to_voxels(xyz, v) if len(xyz) else np.zeros((0, 3))
    radius = np.array([catalogue[c].radius_angstrom for c in table["particle_type"]])
    return xyz, np.abs(voxels[:, across] - index) * v, radius


def _draw_truth(ax, truth, catalogue, v, vertical, across, index) -> None:
    xyz, distance, radius = _distances(truth, catalogue, v, across, index)
    names = truth["particle_type"].to_numpy()
    for row in np.flatnonzero(distance <= radius):
        r = float(np.sqrt(radius[row] ** 2 - distance[row] ** 2))
        centre = (xyz[row, 0], xyz[row, vertical])
        ax.add_patch(Circle(centre, r, fill=False, lw=1.2, color=_colour(names[row])))


def _draw_picks(ax, picks, catalogue, v, vertical, across, index) -> None:
    xyz, distance, radius = _distances(picks, catalogue, v, across, index)
    near = distance <= radius
    colours = [_colour(c) for c in picks["particle_type"].to_numpy()[near]]
    ax.scatter(xyz[near, 0], xyz[near, vertical], marker="x", s=18, c=colours, linewidths=1.0)


def _colour(name: str) -> str:
    return class_colour(name)
