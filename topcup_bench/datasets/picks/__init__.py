"""Native picks formats: one reader per format, a registry of formats, a context.

Each reader returns a validated picks table (Å, x-y-z) and converts its own
units and axes, stated in its module docstring:

* :func:`read_picks_dynamo` — Dynamo ``.tbl`` (pixels, 1-based);
* :func:`read_picks_deepfinder` — DeepFinder ``.xml`` object lists (voxels);
* :func:`read_picks_cbox`, :func:`read_picks_coords` — crYOLO / TomoTwin
  ``.cbox`` and ``.coords`` (pixels);
* :func:`read_picks_ndjson` — CryoET Data Portal ``.ndjson`` points (voxels).

CSV and RELION STAR (4 and 5) live in :mod:`topcup_bench.datasets.picks_csv`
and :mod:`topcup_bench.datasets.picks_star`. :data:`PICKS_FORMATS` lists them
all; :func:`topcup_bench.datasets.read_picks` dispatches through it.
"""

from topcup_bench.datasets.picks.cbox import read_picks_cbox, read_picks_coords
from topcup_bench.datasets.picks.context import PicksContext
from topcup_bench.datasets.picks.deepfinder import read_picks_deepfinder
from topcup_bench.datasets.picks.dynamo import read_picks_dynamo
from topcup_bench.datasets.picks.formats import (
    PICKS_FORMATS,
    PicksFormat,
    describe_formats,
    format_for_path,
    picks_format,
)
from topcup_bench.datasets.picks.ndjson import read_picks_ndjson

__all__ = [
    "PicksContext",
    "PicksFormat",
    "PICKS_FORMATS",
    "picks_format",
    "format_for_path",
    "describe_formats",
    "read_picks_dynamo",
    "read_picks_deepfinder",
    "read_picks_cbox",
    "read_picks_coords",
    "read_picks_ndjson",
]
