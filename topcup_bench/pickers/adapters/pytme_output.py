"""Read pyTME's ``orientations`` table (``pytme postprocess --output-format orientations``).

The file is tab-separated text with a header line naming its columns::

    x   y   z   euler_x   euler_y   euler_z   score   detail

``x, y, z`` are the peak positions in **voxels** of the target, in **x, y, z
order** (pyTME holds an MRC volume transposed, so its first array axis is x),
with voxel ``i`` at ``i · voxel size`` Å; ``score`` is the matching score at the
peak.  The Euler angles and ``detail`` are not used.  A row at voxel
(-1, -1, -1) is one of pyTME's unfilled peak slots (it starts its peak list
with such rows, score -1, and may leave one when asked for more peaks than it
found and for scores down to -1 or below): it is dropped.  The voxel → Å conversion
goes through :mod:`topcup_bench.datasets.units`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from topcup_bench.datasets.units import voxel_peaks_to_picks, xyz_to_zyx
from topcup_bench.errors import InputError, SchemaError

__all__ = ["read_orientations"]

#: Columns of the orientations table that the picks need.
_REQUIRED = ("x", "y", "z", "score")
#: Voxel position of pyTME's unfilled peak slots.
_UNFILLED = -1.0


def read_orientations(
    path: Path, *, run: str, particle_type: str, voxel_size_angstrom: float
) -> pd.DataFrame:
    """Picks table of one pyTME orientations file.

    Parameters
    ----------
    path : pathlib.Path
        The ``.tsv`` file written by ``pytme postprocess --output-format orientations``.
    run, particle_type : str
        Values of the ``experiment`` and ``particle_type`` columns.
    voxel_size_angstrom : float
        Å per voxel of the target the peaks were found in.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z, score``: one row per peak,
        coordinates in Å (x, y, z order), ``score`` pyTME's score; in file order,
        without unfilled slots.

    Raises
    ------
    SchemaError
        A required column (``x``, ``y``, ``z``, ``score``) is missing, or a value
        is not a number.
    InputError
        The file cannot be read, or holds non-finite values.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "o.tsv").write_text("x\\ty\\tz\\tscore\\n3\\t2\\t1\\t0.5\\n")
    >>> read_orientations(folder / "o.tsv", run="TS_1", particle_type="ribosome",
    ...                   voxel_size_angstrom=10.0)[["x", "y", "z", "score"]].values
    array([[30. , 20. , 10. ,  0.5]])
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise SchemaError(
            str(path), "empty file: expected a header line x, y, z, ..., score"
        ) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(str(path), f"cannot read pyTME orientations: {error}") from None
    missing = [name for name in _REQUIRED if name not in table.columns]
    if missing:
        raise SchemaError(
            str(path), f"missing column(s) {missing}; found columns {list(table.columns)}"
        )
    values = {name: _numbers(table[name], name, path) for name in _REQUIRED}
    xyz = np.column_stack([values["x"], values["y"], values["z"]]).reshape(-1, 3)
    filled = ~(xyz == _UNFILLED).all(axis=1)
    xyz, scores = xyz[filled], values["score"][filled]
    return voxel_peaks_to_picks(run, particle_type, xyz_to_zyx(xyz), scores, voxel_size_angstrom)


def _numbers(column: pd.Series, name: str, path: Path) -> np.ndarray:
    """The column as float64, or an error naming the first bad row (1-based, header excluded)."""
    values = np.empty(len(column), dtype=np.float64)
    for row, text in enumerate(column):
        try:
            values[row] = float(text)
        except ValueError:
            raise SchemaError(
                str(path), f"column {name!r}, row {row + 1}: expected a number, found {text!r}"
            ) from None
        if not np.isfinite(values[row]):
            raise InputError(
                str(path),
                f"column {name!r}, row {row + 1}: expected a finite number, found {text!r}",
            )
    return values
