"""``tomotwin``: TomoTwin reference-based picking (embed, map, locate, pick) with its model.

TomoTwin's reference workflow (MPI-Dortmund/tomotwin-cryoet, tutorial 1)::

    tomotwin_embed.py tomogram -m MODEL.pth -v {tomogram} -b B -s S -o {output}/embed/tomogram
    tomotwin_embed.py subvolumes -m MODEL.pth -v REFERENCES/ -o {output}/embed/references
    tomotwin_map.py distance -r .../references/embeddings.temb
        -v .../tomogram/{run}_embeddings.temb -o {output}/map
    tomotwin_locate.py findmax -m {output}/map/map.tmap -o {output}/locate -t T -b BOX -g G
    tomotwin_pick.py -l {output}/locate/located.tloc -o {output}/picks

The references are a folder of subvolumes named after the classes,
``<class>.mrc`` (37³ voxels at the tomogram's 10 Å voxels, e.g. from
``tomotwin_tools.py extractref``); TomoTwin names each reference's picks
after its file, so ``tomotwin_pick.py`` writes ``picks/<class>.coords``
(``x y z`` box centres in voxels, 0-based) for each class it located, and
this preset reads them per class.  ``.coords`` has no score: every pick gets
score 1, and ``min_metric`` (``--minmetric``) sets TomoTwin's own operating
point.  Classes without a reference get no picks, and so does a run where
TomoTwin located nothing (``locate/located.tloc`` but no ``.coords``).

TomoTwin's models work at 10 Å per voxel (rescale the tomograms first) and
embedding a tomogram takes GPU hours on a CPU.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, ClassVar

from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue

from .command_spec import number_text
from .presets import ToolPreset, absolute, require

if TYPE_CHECKING:  # pragma: no cover
    from topcup_bench.datasets.dataset import Dataset

__all__ = ["TomoTwinPicker", "INSTALL_HINT", "VOXEL_SIZE"]

#: What to install when TomoTwin cannot be found.
INSTALL_HINT = (
    "install TomoTwin (pip install tomotwin-cryoet with PyTorch; MPL-2.0) and download its "
    "model (.pth); put the environment's bin folder on PATH"
)
#: Voxel size (Å) TomoTwin's models were trained at, and the accepted deviation.
VOXEL_SIZE = 10.0
_VOXEL_TOLERANCE = 0.1


class TomoTwinPicker(ToolPreset):
    """TomoTwin with one reference subvolume per class.

    Parameters
    ----------
    model : str
        TomoTwin's model (``.pth``).  Required.
    references : str
        Folder of reference subvolumes ``<class>.mrc``.  Required.
    batch_size : int
        Batch size of the tomogram embedding (``-b``).
    stride : int
        Stride of the sliding window, voxels (``-s``).
    tolerance, global_min : float
        ``tomotwin_locate.py findmax`` options ``-t`` and ``-g``.
    boxsize : int
        Box size of the located particles (``-b``), voxels.
    min_metric, max_metric : float
        ``tomotwin_pick.py --minmetric`` / ``--maxmetric`` (0: not given).
    min_size, max_size : float
        ``tomotwin_pick.py --minsize`` / ``--maxsize`` (0: not given).
    check_voxel_size : bool
        Refuse tomograms whose voxel size is not 10 Å (± 10 %).
    timeout_s, label, threads, keep_work, version_command
        As for ``command``.
    """

    name = "tomotwin"
    version = "1"
    description = (
        "TomoTwin metric-learning embeddings (37³ windows) mapped to one reference per class, "
        "located by find-maxima; no score (score 1)"
    )
    citation = (
        "Rice, G. et al. (2023) TomoTwin: generalized 3D localization of macromolecules in "
        "cryo-electron tomograms with structural data mining. Nat. Methods 20, 871-880; "
        "github.com/MPI-Dortmund/tomotwin-cryoet"
    )
    licence = "MPL-2.0 (tomotwin-cryoet, run as a separate program)"
    distribution = "tomotwin-cryoet"
    entry_point = "tomotwin_embed.py"
    install_hint = INSTALL_HINT
    extra_placeholders: ClassVar[tuple[str, ...]] = (
        "tomotwin_model",
        "references",
        "batch_size",
        "stride",
        "tolerance",
        "boxsize",
        "global_min",
        "pick_filters",
    )
    default_command = (
        "tomotwin_embed.py tomogram -m {tomotwin_model} -v {tomogram} -b {batch_size} -s {stride}"
        " -o {output}/embed/tomogram"
        " && tomotwin_embed.py subvolumes -m {tomotwin_model} -v {references}"
        " -o {output}/embed/references"
        " && tomotwin_map.py distance -r {output}/embed/references/embeddings.temb"
        " -v {output}/embed/tomogram/{run}_embeddings.temb -o {output}/map"
        " && tomotwin_locate.py findmax -m {output}/map/map.tmap -o {output}/locate"
        " -t {tolerance} -b {boxsize} -g {global_min}"
        " && tomotwin_pick.py -l {output}/locate/located.tloc -o {output}/picks {pick_filters}"
    )
    default_output = "picks/{class}.coords"
    no_picks_marker = "locate/located.tloc"
    default_format = "coords"

    def __init__(
        self,
        model: str = "",
        references: str = "",
        batch_size: int = 64,
        stride: int = 2,
        tolerance: float = 0.2,
        global_min: float = 0.5,
        boxsize: int = 37,
        min_metric: float = 0.0,
        max_metric: float = 0.0,
        min_size: float = 0.0,
        max_size: float = 0.0,
        check_voxel_size: bool = True,
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        version_command: str = "",
    ) -> None:
        picker = label or self.name
        self.model = absolute(require(model, "model", picker, "model=/models/tomotwin.pth"))
        self.references = absolute(
            require(references, "references", picker, "references=/refs (holding <class>.mrc)")
        )
        self.batch_size, self.stride, self.boxsize = int(batch_size), int(stride), int(boxsize)
        self.tolerance, self.global_min = float(tolerance), float(global_min)
        self.min_metric, self.max_metric = float(min_metric), float(max_metric)
        self.min_size, self.max_size = float(min_size), float(max_size)
        self.check_voxel_size = bool(check_voxel_size)
        for parameter in ("batch_size", "stride", "boxsize"):
            if getattr(self, parameter) < 1:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter {parameter!r} must be >= 1, found {getattr(self, parameter)}",
                )
        for parameter in ("min_metric", "max_metric", "min_size", "max_size"):
            if getattr(self, parameter) < 0:
                raise InputError(
                    f"picker {picker!r}",
                    f"parameter {parameter!r} must be >= 0 (0: not given), "
                    f"found {getattr(self, parameter)}",
                )
        super().__init__(
            version_command=version_command,
            timeout_s=timeout_s,
            label=label,
            threads=threads,
            keep_work=keep_work,
        )

    def preset_files(self) -> dict[str, str]:
        """The model and the references folder."""
        return {"model": self.model, "references": self.references}

    def prepare(self, dataset: Dataset) -> None:
        """As ``ToolPreset.prepare``, and check that the references name the classes.

        Raises
        ------
        InputError
            ``references`` is not a folder, or holds ``<class>.mrc`` for no class
            of the dataset (one without a reference gets no picks: a warning).
        """
        super().prepare(dataset)
        if not os.path.isdir(self.references):
            raise InputError(
                self._source, f"parameter 'references': {self.references} is not a folder"
            )
        names = list(dataset.classes.names)
        missing = [
            n for n in names if not os.path.isfile(os.path.join(self.references, n + ".mrc"))
        ]
        if len(missing) == len(names):
            raise InputError(
                self._source,
                f"parameter 'references': {self.references} holds no <class>.mrc for the "
                f"classes {names}; name each reference after its class",
            )
        if missing:
            warnings.warn(
                f"picker {self.display_name!r}: no reference <class>.mrc in {self.references} "
                f"for {missing}: they get no picks",
                UserWarning,
                stacklevel=2,
            )

    def extra_values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, list[str]]:
        """Model, references and the options of each step.

        Raises
        ------
        InputError
            ``check_voxel_size`` and a voxel size other than 10 Å (± 10 %).
        """
        if self.check_voxel_size and abs(voxel_size - VOXEL_SIZE) > _VOXEL_TOLERANCE * VOXEL_SIZE:
            raise InputError(
                self._source,
                f"TomoTwin's models work at {VOXEL_SIZE:g} Å per voxel; this tomogram has "
                f"{voxel_size:g} Å: use a dataset at 10 Å, or check_voxel_size=false",
            )
        filters: list[str] = []
        for flag, value in (
            ("--minmetric", self.min_metric),
            ("--maxmetric", self.max_metric),
            ("--minsize", self.min_size),
            ("--maxsize", self.max_size),
        ):
            if value > 0:
                filters += [flag, number_text(value)]
        return {
            "tomotwin_model": [self.model],
            "references": [self.references],
            "batch_size": [str(self.batch_size)],
            "stride": [str(self.stride)],
            "tolerance": [number_text(self.tolerance)],
            "boxsize": [str(self.boxsize)],
            "global_min": [number_text(self.global_min)],
            "pick_filters": filters,
        }
