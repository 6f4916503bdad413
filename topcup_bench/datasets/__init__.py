"""Picks I/O: CSV, RELION STAR, copick and native tool formats, name maps and unit checks.

Every reader returns a validated picks table (see :mod:`topcup_bench.types`):
columns ``experiment, particle_type, x, y, z`` in Å (x-y-z order) and
optionally ``score``. Writers are atomic and never overwrite a file unless asked.
Voxel ↔ Å conversions live in :mod:`topcup_bench.datasets.units` only.
"""

from topcup_bench.datasets.copick_project import (
    catalogue_from_copick_config,
    copick_tomogram_extent,
)
from topcup_bench.datasets.names import PORTAL_NAME_MAP, apply_name_map, load_name_map
from topcup_bench.datasets.picks import (
    PICKS_FORMATS,
    PicksContext,
    PicksFormat,
    read_picks_cbox,
    read_picks_coords,
    read_picks_deepfinder,
    read_picks_dynamo,
    read_picks_ndjson,
)
from topcup_bench.datasets.picks_copick import read_copick_picks, write_copick_picks
from topcup_bench.datasets.picks_csv import read_picks_csv, write_kaggle_csv, write_topcup_csv
from topcup_bench.datasets.picks_star import read_picks_star, write_picks_star
from topcup_bench.datasets.sources import (
    SUPPORTED_SOURCES,
    describe_source,
    parse_copick_source,
    read_picks,
    write_picks,
)
from topcup_bench.datasets.units import (
    angstrom_to_voxels,
    check_units,
    check_units_against,
    voxels_to_angstrom,
    xyz_to_zyx,
    zyx_to_xyz,
)

__all__ = [
    "read_picks",
    "write_picks",
    "describe_source",
    "parse_copick_source",
    "SUPPORTED_SOURCES",
    "PicksContext",
    "PicksFormat",
    "PICKS_FORMATS",
    "read_picks_dynamo",
    "read_picks_deepfinder",
    "read_picks_cbox",
    "read_picks_coords",
    "read_picks_ndjson",
    "read_picks_csv",
    "write_kaggle_csv",
    "write_topcup_csv",
    "read_picks_star",
    "write_picks_star",
    "read_copick_picks",
    "write_copick_picks",
    "catalogue_from_copick_config",
    "copick_tomogram_extent",
    "PORTAL_NAME_MAP",
    "apply_name_map",
    "load_name_map",
    "check_units",
    "check_units_against",
    "voxels_to_angstrom",
    "angstrom_to_voxels",
    "zyx_to_xyz",
    "xyz_to_zyx",
]
