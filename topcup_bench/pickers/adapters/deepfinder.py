"""``deepfinder``: DeepFinder segmentation and clustering of each tomogram, with trained weights.

Two steps, DeepFinder's documented command-line tools (cryoet-deepfinder,
``docs/source/cmd_line_tools.rst``; the scripts ``bin/segment`` and
``bin/cluster`` of its repository)::

    segment -t {tomogram} -w WEIGHTS.h5 -c N_CLASSES -p PATCH -o {output}/labelmap.mrc
    cluster -l {output}/labelmap.mrc -r RADIUS -o {output}/objects.xml

``segment`` writes a label map (0 = background, ``i`` = the network's class
``i``); ``cluster`` groups its voxels by mean shift and writes an object list
``<objlist><object class_label= x= y= z= cluster_size=/>...`` (voxels, 0-based,
``x`` the fastest array axis).  The list holds every class, so this preset
splits it by ``class_label`` before the DeepFinder importer reads each part
with its class; ``cluster_size`` (voxels in the cluster) is the score.

DeepFinder runs on TensorFlow and needs trained weights; a GPU makes it fast
(it uses the GPUs TensorFlow sees: set ``CUDA_VISIBLE_DEVICES`` to choose).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import ClassVar

import pandas as pd

from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue, Tomogram

from .presets import ToolPreset, absolute, require

__all__ = ["DeepFinderPicker", "INSTALL_HINT", "parse_labels"]

#: What to install when DeepFinder's scripts cannot be found.
INSTALL_HINT = (
    "install cryoet-deepfinder (pip install cryoet-deepfinder; GPL-3.0, TensorFlow) and put "
    "the bin/ folder of its repository (github.com/deep-finder/cryoet-deepfinder: bin/segment, "
    "bin/cluster) on PATH: the 0.2.1 wheel's segment and cluster entry points name a module "
    "it does not ship"
)


class DeepFinderPicker(ToolPreset):
    """DeepFinder (``segment`` + ``cluster``) with trained weights.

    Parameters
    ----------
    weights : str
        The network's weights (``.h5``, from DeepFinder's training).  Required.
    labels : str
        Which class each label of the network is: ``"1:ribosome,2:apo-ferritin"``;
        empty: label ``i`` is the ``i``-th class of the dataset.  Objects of
        labels not listed are dropped.
    n_classes : int
        Classes of the network including the background (``segment -c``);
        0: the highest label + 1.
    patch_size : int
        Patch size of the segmentation (``segment -p``), a multiple of 4.
    cluster_radius : int
        Mean-shift radius in voxels (``cluster -r``); 0: the mean radius of the
        labelled classes at the tomogram's voxel size, rounded.
    timeout_s, label, threads, keep_work, version_command
        As for ``command``.
    """

    name = "deepfinder"
    version = "1"
    description = (
        "DeepFinder 3D U-Net segmentation + mean-shift clustering (segment + cluster) with "
        "trained weights; score cluster_size"
    )
    citation = (
        "Moebel, E. et al. (2021) Deep learning improves macromolecule identification in 3D "
        "cellular cryo-electron tomograms. Nat. Methods 18, 1386-1394; "
        "github.com/deep-finder/cryoet-deepfinder"
    )
    licence = "GPL-3.0 (cryoet-deepfinder, run as a separate program)"
    distribution = "cryoet-deepfinder"
    entry_point = "segment"
    install_hint = INSTALL_HINT
    extra_placeholders: ClassVar[tuple[str, ...]] = (
        "weights",
        "n_classes",
        "patch_size",
        "cluster_radius",
    )
    default_command = (
        "segment -t {tomogram} -w {weights} -c {n_classes} -p {patch_size}"
        " -o {output}/labelmap.mrc"
        " && cluster -l {output}/labelmap.mrc -r {cluster_radius} -o {output}/objects.xml"
    )
    default_output = "objects.xml"
    default_format = "deepfinder"

    def __init__(
        self,
        weights: str = "",
        labels: str = "",
        n_classes: int = 0,
        patch_size: int = 160,
        cluster_radius: int = 0,
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        version_command: str = "",
    ) -> None:
        picker = label or self.name
        self.weights = absolute(require(weights, "weights", picker, "weights=/models/net.h5"))
        self.labels, self._labels = labels, parse_labels(labels, picker)
        self.n_classes, self.patch_size = int(n_classes), int(patch_size)
        self.cluster_radius = int(cluster_radius)
        checks = (
            (self.n_classes >= 0, "n_classes", "0 (automatic) or the network's class count"),
            (self.patch_size >= 4 and self.patch_size % 4 == 0, "patch_size", "a multiple of 4"),
            (self.cluster_radius >= 0, "cluster_radius", "0 (automatic) or a radius in voxels"),
        )
        for ok, parameter, expected in checks:
            if not ok:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter {parameter!r} must be {expected}, found {getattr(self, parameter)}",
                )
        if self._labels and 0 < self.n_classes <= max(self._labels):
            raise InputError(
                f"picker {picker!r}",
                f"parameter 'n_classes' = {self.n_classes} leaves no room for label "
                f"{max(self._labels)} of 'labels' (count the background too)",
            )
        super().__init__(
            version_command=version_command,
            timeout_s=timeout_s,
            label=label,
            threads=threads,
            keep_work=keep_work,
        )

    def preset_files(self) -> dict[str, str]:
        """The weights file."""
        return {"weights": self.weights}

    def label_classes(self, classes: ClassCatalogue) -> dict[int, str]:
        """Label → class name: from ``labels``, else label ``i`` = the ``i``-th class.

        Raises
        ------
        InputError
            ``labels`` names a class the dataset does not have.
        """
        if not self._labels:
            return {index: name for index, name in enumerate(classes.names, start=1)}
        unknown = sorted(set(self._labels.values()) - set(classes.names))
        if unknown:
            raise InputError(
                self._source,
                f"parameter 'labels' names class(es) {unknown} that the dataset does not have; "
                f"classes: {list(classes.names)}",
            )
        return dict(self._labels)

    def extra_values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, str]:
        """Weights, class count (with background), patch size and clustering radius."""
        mapping = self.label_classes(classes)
        radius = self.cluster_radius
        if radius == 0:
            radii = [classes[name].radius_angstrom / voxel_size for name in mapping.values()]
            radius = max(1, math.floor(sum(radii) / len(radii) + 0.5)) if radii else 1
        return {
            "weights": self.weights,
            "n_classes": str(self.n_classes or max(mapping, default=0) + 1),
            "patch_size": str(self.patch_size),
            "cluster_radius": str(radius),
        }

    def read_tool_outputs(
        self,
        found: list[tuple[Path, str | None]],
        tomogram: Tomogram,
        classes: ClassCatalogue,
    ) -> pd.DataFrame:
        """Split each object list by ``class_label``, then read each part with its class.

        The parts are written beside the list as ``objects.label<N>.xml``.
        A list that is not an object list goes to the importer whole, which
        says what is wrong with it.

        Raises
        ------
        InputError
            With the default mapping, a label beyond the dataset's classes;
            an unreadable list (from the importer).
        """
        mapping = self.label_classes(classes)
        parts: list[tuple[Path, str | None]] = []
        for path, _ in found:
            groups = _objects_by_label(path)
            if groups is None:
                parts.append((path, None))
                continue
            for label, elements in sorted(groups.items()):
                if label not in mapping:
                    if self._labels:
                        continue  # a class of the network that the benchmark does not score
                    raise InputError(
                        str(path),
                        f"class_label {label} but the dataset has {len(mapping)} classes "
                        f"{list(mapping.values())}; map the network's labels with "
                        "labels='1:CLASS,2:CLASS'",
                    )
                part = path.with_name(f"{path.stem}.label{label}{path.suffix}")
                root = ElementTree.Element("objlist")
                root.extend(elements)
                ElementTree.ElementTree(root).write(part, encoding="utf-8", xml_declaration=True)
                parts.append((part, mapping[label]))
        return super().read_tool_outputs(parts, tomogram, classes)


def parse_labels(text: str, picker: str) -> dict[int, str]:
    """``"1:ribosome,2:apo-ferritin"`` → {1: "ribosome", 2: "apo-ferritin"}.

    Raises
    ------
    InputError
        An item that is not ``LABEL:CLASS`` with a label >= 1, or a label given twice.

    Examples
    --------
    >>> parse_labels("2:ribosome, 1:apo-ferritin", "deepfinder")
    {2: 'ribosome', 1: 'apo-ferritin'}
    """
    mapping: dict[int, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, _, name = item.partition(":")
        if not label.strip().isdigit() or int(label) < 1 or not name.strip():
            raise InputError(
                f"picker {picker!r}",
                f"parameter 'labels': expected 'LABEL:CLASS' with LABEL >= 1 (e.g. "
                f"'1:ribosome,2:apo-ferritin'), found {item!r}",
            )
        if int(label) in mapping:
            raise InputError(
                f"picker {picker!r}", f"parameter 'labels': label {int(label)} given twice"
            )
        mapping[int(label)] = name.strip()
    return mapping


def _objects_by_label(path: Path) -> dict[int, list[ElementTree.Element]] | None:
    """``<object>`` elements grouped by integer ``class_label``; None if not a plain object list."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError):
        return None
    if root.tag != "objlist":
        return None
    groups: dict[int, list[ElementTree.Element]] = {}
    for element in root:
        try:
            label = float(element.get("class_label", ""))
        except ValueError:
            return None
        if element.tag != "object" or not math.isfinite(label) or label != int(label):
            return None
        groups.setdefault(int(label), []).append(element)
    return groups
