"""The picker registry and the built-in entries."""

from __future__ import annotations

from typing import Any

from topcup_bench.registry import Registry

__all__ = ["PICKERS", "DEFAULT_PICKERS", "register_picker"]

#: Name → picker class; third parties register through the ``topcup_bench.pickers`` entry points.
PICKERS: Registry[type] = Registry("picker", entry_point_group="topcup_bench.pickers")

_BUILTIN = {
    "oracle": "topcup_bench.pickers.reference:OraclePicker",
    "random": "topcup_bench.pickers.reference:RandomPicker",
    "blob": "topcup_bench.pickers.blob:BlobPicker",
    "template": "topcup_bench.pickers.template:TemplatePicker",
    "forest": "topcup_bench.pickers.forest:ForestPicker",
    "external": "topcup_bench.pickers.external:ExternalPicker",
    "topcup": "topcup_bench.pickers.topcup.picker:TopCUPPicker",
    "command": "topcup_bench.pickers.adapters.command:CommandPicker",
    "pytme": "topcup_bench.pickers.adapters.pytme:PytmePicker",
    "octopi": "topcup_bench.pickers.adapters.octopi:OctopiPicker",
    "pytom-match-pick": "topcup_bench.pickers.adapters.pytom:PytomMatchPickPicker",
    "deepfinder": "topcup_bench.pickers.adapters.deepfinder:DeepFinderPicker",
    "tomotwin": "topcup_bench.pickers.adapters.tomotwin:TomoTwinPicker",
    "cryolo": "topcup_bench.pickers.adapters.cryolo:CryoloPicker",
    "topcup-cli": "topcup_bench.pickers.adapters.topcup_cli:TopcupCliPicker",
}
for _name, _path in _BUILTIN.items():
    PICKERS.register(_name, _path, origin="builtin")


def _torch_available() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("monai") is not None


#: Pickers of ``topcup-bench run`` when none are named; ``topcup`` (quick budget) needs the
#: ``topcup`` extra (PyTorch and MONAI) and is left out without it.
DEFAULT_PICKERS = ("oracle", "random", "blob", "template", "forest") + (
    ("topcup",) if _torch_available() else ()
)


def register_picker(name: str) -> Any:
    """Class decorator registering a picker under ``name`` (for code, not packages)."""
    return PICKERS.register(name)
