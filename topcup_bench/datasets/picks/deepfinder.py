"""Picks from a DeepFinder object list (``.xml``).

DeepFinder (``deepfinder.utils.objl``: ``read_xml``/``write_xml``) writes one
``<object>`` element per particle under an ``<objlist>`` root::

    <objlist>
      <object tomo_idx="0" obj_id="3" class_label="1" x="12.000" y="40.500" z="7.000"
              psi="..." phi="..." the="..." cluster_size="57"/>
    </objlist>

``x, y, z`` are voxel coordinates of the tomogram array, 0-based, with ``x``
the fastest (last) array axis: DeepFinder stores an object found at array
index ``(z, y, x)`` as ``x = index[2], y = index[1], z = index[0]``.
``class_label`` is the class number the network was trained with,
``tomo_idx`` (optional) the tomogram's index in the list DeepFinder was given,
and ``cluster_size`` (optional) the number of voxels of the cluster the object
came from — DeepFinder thresholds on it, so it becomes the ``score``.

The list states neither the pixel size, nor the run behind ``tomo_idx``, nor
the class name behind ``class_label``: they come from the
:class:`~topcup_bench.datasets.picks.context.PicksContext`, and a list with
several tomograms or several class labels is refused.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable

import numpy as np
import pandas as pd

from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.table import one_value, picks_table
from topcup_bench.datasets.units import voxels_to_angstrom
from topcup_bench.errors import EmptyInputError, InputError, SchemaError, short_repr
from topcup_bench.types import ClassCatalogue, ParticleClass

__all__ = ["read_picks_deepfinder"]

_ROOT = "objlist"
_ELEMENT = "object"
_COORDINATES = ("x", "y", "z")


def read_picks_deepfinder(
    path: str | os.PathLike[str],
    *,
    context: PicksContext | None = None,
    classes: ClassCatalogue | Iterable[ParticleClass] | None = None,
) -> pd.DataFrame:
    """Read a DeepFinder XML object list into a validated picks table.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.xml`` file; it is only read.
    context : PicksContext, optional
        ``pixel_size_angstrom``, ``experiment`` and ``particle_type``, all
        required when the list has objects.
    classes : ClassCatalogue or iterable of ParticleClass, optional
        When given, ``particle_type`` must be one of these classes.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment, particle_type, x, y, z`` (Å: voxels × pixel size,
        x-y-z) and ``score`` (``cluster_size``) when every object has one;
        shape (N, 5) or (N, 6).

    Raises
    ------
    InputError
        Missing file or a directory.
    EmptyInputError
        An empty file.
    SchemaError
        Not XML, a root other than ``<objlist>``, an element other than
        ``<object>``, a missing or non-numeric attribute, ``cluster_size`` on
        some objects only, several ``tomo_idx`` or ``class_label`` values, or a
        run, class or pixel size the context does not give.
    NonFiniteCoordinatesError, UnknownParticleError
        From :func:`~topcup_bench.types.validate_picks_table`.
    """
    source = os.fspath(path)
    context = context or PicksContext()
    objects = _objects(source)
    if not objects:
        return picks_table(source, np.empty((0, 3)), experiment=None, particle_type=None)
    voxels = np.array(
        [
            [_number(obj, index, name, source) for name in _COORDINATES]
            for index, obj in enumerate(objects)
        ]
    )
    tomogram = one_value(
        (obj.get("tomo_idx") for obj in objects),
        source,
        what="attribute 'tomo_idx'",
        why="a list with several tomograms cannot be given run names; split it per tomogram",
    )
    label = one_value(
        (_number(obj, index, "class_label", source) for index, obj in enumerate(objects)),
        source,
        what="attribute 'class_label'",
        why="class labels do not say which particle type they are; split the list per class",
    )
    tomo = "" if tomogram is None else f", tomo_idx {tomogram}"
    run = context.run_name(source, what=f"<object> elements{tomo}")
    name = context.class_name(source, what=f"attribute 'class_label' (label {label:g})")
    size = context.pixel_size(source, what="attributes x, y, z")
    return picks_table(
        source,
        voxels_to_angstrom(voxels, size),
        experiment=run,
        particle_type=name,
        score=_scores(objects, source),
        classes=classes,
    )


def _objects(source: str) -> list[ElementTree.Element]:
    if os.path.isdir(source):
        raise InputError(source, "is a directory; expected a DeepFinder object list (.xml)")
    try:
        root = ElementTree.parse(source).getroot()
    except FileNotFoundError:
        raise InputError(source, "file not found") from None
    except ElementTree.ParseError as error:
        if os.path.getsize(source) == 0:
            raise EmptyInputError(source, "file is empty; expected an <objlist> element") from None
        raise SchemaError(source, f"cannot parse as XML: {error}") from None
    if root.tag != _ROOT:
        raise SchemaError(
            source, f"root element is <{root.tag}>; a DeepFinder object list has <{_ROOT}>"
        )
    others = sorted({child.tag for child in root if child.tag != _ELEMENT})
    if others:
        raise SchemaError(
            source, f"<{_ROOT}> holds element(s) {others}; expected only <{_ELEMENT}> elements"
        )
    return list(root)


def _number(element: ElementTree.Element, index: int, name: str, source: str) -> float:
    text = element.get(name)
    if text is None:
        raise SchemaError(
            source,
            f"<{_ELEMENT}> number {index} (0-based) has no attribute {name!r}; found "
            f"{sorted(element.attrib)}",
        )
    try:
        return float(text)
    except ValueError:
        raise SchemaError(
            source,
            f"<{_ELEMENT}> number {index} (0-based): attribute {name!r} must be a number, "
            f"found {short_repr(text)}",
        ) from None


def _scores(objects: list[ElementTree.Element], source: str) -> np.ndarray | None:
    having = [obj.get("cluster_size") is not None for obj in objects]
    if not any(having):
        return None
    if not all(having):
        missing = [i for i, has in enumerate(having) if not has]
        raise SchemaError(
            source,
            f"attribute 'cluster_size' (the score) is on some objects only; missing on "
            f"{len(missing)} (0-based objects {missing[:10]})",
        )
    return np.array([_number(obj, i, "cluster_size", source) for i, obj in enumerate(objects)])
