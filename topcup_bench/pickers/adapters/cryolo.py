"""``cryolo``: crYOLO's tomography mode, one trained model per class.

crYOLO picks one particle type per model: it finds 2D boxes on each slice
and traces them through z.  For each class with a model, in a folder of its
own::

    cryolo_predict.py -c CONFIG.json -w MODEL.h5 -i {tomogram} -o {output}/CLASS
        --tomogram --write_empty -t THRESHOLD -g GPU -nc {threads} -tsr R -tmem M -tmin L

crYOLO writes ``CBOX_3D/{run}.cbox`` (and ``CBOX_UNTRACED``, ``EMAN_3D``,
``COORDS``) into that folder: a STAR file whose block ``data_cryolo`` holds
``_CoordinateX/Y`` (box corner), ``_CoordinateZ`` (centre slice), ``_Width``,
``_Height``, ``_Depth`` and ``_Confidence`` (the score), in voxels; with
``--write_empty`` also when it finds nothing, so that an empty tomogram is
no picks rather than a tool that wrote nothing.  It also
writes ``logs/`` into its current folder, which is the output folder.

crYOLO runs on TensorFlow; its licence allows non-commercial academic use only.
"""

from __future__ import annotations

import shlex

from topcup_bench.errors import InputError
from topcup_bench.types import ClassCatalogue

from .command_spec import number_text
from .presets import (
    ToolPreset,
    absolute,
    parse_class_paths,
    parse_gpu_ids,
    require,
    split_options,
)

__all__ = ["CryoloPicker", "INSTALL_HINT"]

#: What to install when crYOLO cannot be found.
INSTALL_HINT = (
    "install crYOLO (pip install 'cryolo[c11]' in its own environment, see "
    "cryolo.readthedocs.io; non-commercial licence) and put the environment's bin folder on PATH"
)


class CryoloPicker(ToolPreset):
    """crYOLO tomography picking (``cryolo_predict.py --tomogram``), a model per class.

    Parameters
    ----------
    weights : str
        ``"class:model.h5,class:model.h5"``: the crYOLO model of each class.
        Required; classes without a model get no picks.
    config : str
        crYOLO's configuration file (``.json``, the one the model was trained
        with): one path for every model, or ``"class:config.json,..."``.  Required.
    threshold : float
        Confidence threshold (``-t``); lower than crYOLO's 0.3 so that the
        benchmark sweeps the threshold on ``_Confidence``.
    gpu : str
        GPU indices (``-g``), ``"0"`` or ``"0,1"``.
    tracing_search_range, tracing_memory, tracing_min_length : int
        Tracing through z (``-tsr``, ``-tmem``, ``-tmin``); crYOLO's defaults.
    options : str
        More options of ``cryolo_predict.py``, split like a shell line.
    timeout_s, label, threads, keep_work, version_command
        As for ``command`` (``threads`` is crYOLO's ``-nc``).
    """

    name = "cryolo"
    version = "1"
    description = (
        "crYOLO tomography mode (2D YOLO boxes per slice traced through z), one model per "
        "class; score _Confidence"
    )
    citation = (
        "Wagner, T. et al. (2019) SPHIRE-crYOLO is a fast and accurate fully automated "
        "particle picker for cryo-EM. Commun. Biol. 2, 218; cryolo.readthedocs.io"
    )
    licence = (
        "crYOLO: SPHIRE-crYOLO Complimentary Science Software License (non-commercial "
        "academic use only; run as a separate program)"
    )
    distribution = "cryolo"
    entry_point = "cryolo_predict.py"
    install_hint = INSTALL_HINT
    default_output = "{class}/CBOX_3D/*.cbox"
    default_format = "cbox"

    def __init__(
        self,
        weights: str = "",
        config: str = "",
        threshold: float = 0.1,
        gpu: str = "0",
        tracing_search_range: int = -1,
        tracing_memory: int = 0,
        tracing_min_length: int = 5,
        options: str = "",
        timeout_s: float = 3600.0,
        label: str = "",
        threads: int = 1,
        keep_work: bool = False,
        version_command: str = "",
    ) -> None:
        picker = label or self.name
        self.weights, self.config, self.gpu = weights, config, gpu
        self.threshold = float(threshold)
        self.tracing_search_range = int(tracing_search_range)
        self.tracing_memory, self.tracing_min_length = int(tracing_memory), int(tracing_min_length)
        self.options = options
        models = parse_class_paths(
            require(weights, "weights", picker, "weights=ribosome:/models/ribosome.h5"),
            "weights",
            picker,
        )
        configs = _configs(
            require(config, "config", picker, "config=/models/config.json"), models, picker
        )
        missing = sorted(set(models) - set(configs))
        if missing:
            raise InputError(
                f"picker {picker!r}", f"parameter 'config' gives no configuration for {missing}"
            )
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError(
                f"picker {picker!r}", f"parameter 'threshold' must be in [0, 1], found {threshold}"
            )
        self._models, self._configs = models, configs
        common = [
            "--tomogram",
            "--write_empty",
            "-t", number_text(self.threshold),
            "-g", *parse_gpu_ids(gpu, "gpu", picker),
            "-nc", "{threads}",
            "-tsr", str(self.tracing_search_range),
            "-tmem", str(self.tracing_memory),
            "-tmin", str(self.tracing_min_length),
            *split_options(options, "options", picker),
        ]  # fmt: skip
        steps = [
            " ".join(
                [
                    "cryolo_predict.py -c",
                    _literal(configs[name]),
                    "-w",
                    _literal(path),
                    "-i {tomogram} -o",
                    "{output}/" + _literal(name),
                    *(token if token == "{threads}" else _literal(token) for token in common),
                ]
            )
            for name, path in models.items()
        ]
        super().__init__(
            command=" && ".join(steps),
            version_command=version_command,
            timeout_s=timeout_s,
            label=label,
            threads=threads,
            keep_work=keep_work,
        )

    def preset_files(self) -> dict[str, str]:
        """The model and configuration of each class."""
        files = {f"weights[{name}]": path for name, path in self._models.items()}
        files.update({f"config[{name}]": path for name, path in self._configs.items()})
        return files

    def extra_values(self, voxel_size: float, classes: ClassCatalogue) -> dict[str, str]:
        """No extra placeholders; checks that every class of ``weights`` is in the dataset.

        Raises
        ------
        InputError
            ``weights`` names a class the dataset does not have.
        """
        unknown = sorted(set(self._models) - set(classes.names))
        if unknown:
            raise InputError(
                self._source,
                f"parameter 'weights' names class(es) {unknown} that the dataset does not have; "
                f"classes: {list(classes.names)}",
            )
        return {}


def _configs(text: str, models: dict[str, str], picker: str) -> dict[str, str]:
    """One configuration for every class, or ``class:path`` pairs (a class has no ``/``)."""
    prefix, sep, _ = text.split(",")[0].partition(":")
    if sep and "/" not in prefix and "\\" not in prefix:
        return parse_class_paths(text, "config", picker)
    return dict.fromkeys(models, absolute(text.strip()))


def _literal(text: str) -> str:
    """A literal command token: quoted for the split, braces doubled for the template."""
    return shlex.quote(text.replace("{", "{{").replace("}", "}}"))
