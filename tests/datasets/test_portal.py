"""portal:ID datasets: spec parsing, overlay, probe, configuration, name map, voxel spacing, CLI.

No test reaches the network. The portal is mocked at the two copick functions
that query it, nothing else: ``copick.util.portal.objects_from_datasets`` (the
annotated objects of the datasets, used by ``copick.from_czcdp_datasets``) and
``CopickRootCDP._fetch_portal_data`` (the runs, voxel spacings and tomograms,
cached by copick). The configuration, the copick data-portal root, its runs,
spacings, tomogram types and overlay picks are copick's real code.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from topcup_bench.datasets import portal_probe
from topcup_bench.datasets.catalog import cache_dir, open_dataset
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.datasets.names import PORTAL_NAME_MAP
from topcup_bench.datasets.portal import (
    PortalSpec,
    choose_tomo_type,
    map_portal_objects,
    match_voxel_spacing,
    open_portal_dataset,
    parse_portal_spec,
    portal_overlay,
    probe_portal,
    write_portal_config,
)
from topcup_bench.errors import (
    CopickSourceError,
    InputError,
    PortalUnreachableError,
    TopcupBenchWarning,
)
from topcup_bench.types import COMPETITION_CLASSES

# --- the mocked portal ------------------------------------------------------------------------

#: (name, is_particle) of the fake datasets' annotated objects, as copick names them.
PORTAL_OBJECTS = [
    ("cytosolic-ribosome", True),
    ("ferritin-complex", True),
    ("beta-amylase", True),
    ("membrane", False),
    ("mystery-protein", True),
]


def fake_portal_data(spacing_101=10.012, spacing_102=10.012):
    """What copick's batched portal queries return, for two runs (ids 101, 102)."""
    return {
        "runs": [
            {"id": 101, "name": "TS_5_4", "dataset_id": 10445},
            {"id": 102, "name": "TS_6_4", "dataset_id": 10445},
        ],
        "voxel_spacings": [
            {"id": 1, "run_id": 101, "voxel_spacing": spacing_101},
            {"id": 2, "run_id": 102, "voxel_spacing": spacing_102},
            {"id": 3, "run_id": 101, "voxel_spacing": 4.99},
        ],
        "tomograms": [
            {
                "id": 11,
                "tomogram_voxel_spacing_id": 1,
                "reconstruction_method": "WBP",
                "processing": "denoised",
                "processing_software": "DenoisET",
                "ctf_corrected": True,
                "s3_omezarr_dir": "s3://nowhere/denoised.zarr",
            },
            {
                "id": 12,
                "tomogram_voxel_spacing_id": 1,
                "reconstruction_method": "WBP",
                "processing": "raw",
                "processing_software": None,
                "ctf_corrected": False,
                "s3_omezarr_dir": "s3://nowhere/raw.zarr",
            },
        ],
    }


@pytest.fixture
def mock_portal(monkeypatch, tmp_path):
    """Replace copick's two portal queries; returns a namespace to change the fake data."""
    import copick.util.portal as copick_portal
    from copick.impl.cryoet_data_portal import CopickRootCDP
    from copick.models import PickableObject

    state = SimpleNamespace(objects=list(PORTAL_OBJECTS), data=fake_portal_data(), queried=[])

    def objects_from_datasets(dataset_ids):
        state.queried.append(list(dataset_ids))
        return [
            PickableObject(
                name=name,
                is_particle=is_particle,
                label=i + 1,
                color=(10, 20, 30, 255),
                identifier=f"GO:000{i}",
                radius=50,
            )
            for i, (name, is_particle) in enumerate(state.objects)
        ]

    monkeypatch.setattr(copick_portal, "objects_from_datasets", objects_from_datasets)
    monkeypatch.setattr(CopickRootCDP, "_fetch_portal_data", lambda self: state.data)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # copick's fallback cache
    return state


@pytest.fixture
def listening_portal(monkeypatch):
    """Point the probe at a local port that accepts connections."""
    server = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setattr(
        portal_probe, "PORTAL_GRAPHQL_URL", f"http://127.0.0.1:{server.getsockname()[1]}/"
    )
    yield server
    server.close()


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_proxy(monkeypatch):
    for name in (
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


# --- spec parsing -----------------------------------------------------------------------------


def test_parse_defaults():
    spec = parse_portal_spec("portal:10445")
    assert spec == PortalSpec("portal:10445", (10445,))
    assert (spec.user, spec.session, spec.tomo_type) == ("data-portal", None, None)
    assert spec.voxel_size_angstrom == 10.0 and spec.overlay is None
    assert spec.key == "10445" and spec.config_name == "copick-portal-10445.json"


def test_parse_all_options(tmp_path):
    spec = parse_portal_spec(
        f"portal:10446, 10445?tomo_type=wbp-raw&user=curation&session=0&voxel_size=4.99"
        f"&overlay={tmp_path}/ov"
    )
    assert spec.dataset_ids == (10445, 10446) and spec.key == "10445-10446"
    assert (spec.tomo_type, spec.user, spec.session) == ("wbp-raw", "curation", "0")
    assert spec.voxel_size_angstrom == 4.99
    assert spec.overlay == tmp_path / "ov"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("portal:", "no dataset ID"),
        ("portal:?user=x", "no dataset ID"),
        ("portal:abc", "positive integer (e.g. 10445), found 'abc'"),
        ("portal:-3", "found '-3'"),
        ("portal:0", "found '0'"),
        ("portal:1.5", "found '1.5'"),
        ("portal:10445,", "found ''"),
        ("portal:10445,10445", "[10445] listed more than once"),
        ("portal:10445?voxelsize=10", "unknown option 'voxelsize'"),
        ("portal:10445?tomo_type=", "option 'tomo_type' is empty"),
        ("portal:10445?overlay=", "option 'overlay' is empty"),
        ("portal:10445?user=a_b", "user must be a non-empty string"),
        ("portal:10445?session=", "session must be a non-empty string"),
        ("portal:10445?voxel_size=ten", "'voxel_size' must be a positive number of Å, found 'ten'"),
        ("portal:10445?voxel_size=-10", "found '-10'"),
        ("portal:10445?voxel_size=0", "found '0'"),
        ("portal:10445?voxel_size=nan", "found 'nan'"),
        ("portal:10445?voxel_size=inf", "found 'inf'"),
    ],
)
def test_parse_errors_name_the_spec_and_the_value(text, expected):
    with pytest.raises(InputError, match="^" + _escape(text)) as info:
        parse_portal_spec(text)
    assert expected in str(info.value)


def test_unknown_option_suggests_the_close_one():
    with pytest.raises(InputError, match="Did you mean 'voxel_size'"):
        parse_portal_spec("portal:10445?voxelsize=10")


def test_parse_refuses_other_specs():
    with pytest.raises(InputError, match="expected portal:ID"):
        parse_portal_spec("phantom:tiny")


# --- the overlay folder -----------------------------------------------------------------------


def test_default_overlay_is_in_the_cache():
    assert portal_overlay(parse_portal_spec("portal:10446,10445")) == (
        Path(cache_dir()).absolute() / "portal" / "10445-10446"
    )


def test_given_overlay_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert portal_overlay(parse_portal_spec("portal:1?overlay=ours")) == tmp_path / "ours"


def test_overlay_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for overlay in ("file.txt", "file.txt/below"):
        with pytest.raises(InputError, match=r"'.*file\.txt' is a file, not a folder"):
            portal_overlay(parse_portal_spec(f"portal:1?overlay={tmp_path / overlay}"))


def test_overlay_inside_the_cache_must_be_the_default():
    for inside in (cache_dir() / "phantoms" / "tiny-x", cache_dir() / "portal" / "2", cache_dir()):
        with pytest.raises(InputError, match="inside the topcup-bench cache folder"):
            portal_overlay(parse_portal_spec(f"portal:1?overlay={inside}"))
    default = cache_dir() / "portal" / "1"
    assert portal_overlay(parse_portal_spec(f"portal:1?overlay={default}")) == default.absolute()


# --- the connectivity probe -------------------------------------------------------------------


def test_probe_refused_port_is_one_clear_line(no_proxy):
    port = closed_port()
    with pytest.raises(PortalUnreachableError) as info:
        probe_portal("portal:10445", url=f"http://127.0.0.1:{port}/graphql", timeout=2)
    message = str(info.value)
    assert message.startswith(
        f"portal:10445: cannot reach the CZ cryoET Data Portal at 127.0.0.1:{port}"
    )
    assert "connection refused" in message and "network access" in message
    assert "\n" not in message


def test_probe_gives_up_after_the_timeout_when_nothing_answers(monkeypatch, no_proxy):
    release = threading.Event()

    def hang(address, timeout=None):  # a black-holed host: the thread never returns in time
        release.wait(10)
        raise TimeoutError("timed out")

    monkeypatch.setattr(portal_probe.socket, "create_connection", hang)
    try:
        with pytest.raises(PortalUnreachableError, match=r"no answer within 0\.2 s"):
            probe_portal("portal:1", url="https://portal.invalid/graphql", timeout=0.2)
    finally:
        release.set()


def test_probe_unresolved_host(monkeypatch, no_proxy):
    def unresolved(address, timeout=None):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(portal_probe.socket, "create_connection", unresolved)
    with pytest.raises(PortalUnreachableError) as info:
        probe_portal("portal:1", url="https://graphql.example.org/graphql", timeout=1)
    assert "graphql.example.org:443 (host name not resolved: Name or service not known)" in str(
        info.value
    )


def test_probe_goes_through_the_configured_proxy(monkeypatch, no_proxy):
    port = closed_port()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
    with pytest.raises(PortalUnreachableError, match=f"through the proxy 127.0.0.1:{port}"):
        probe_portal("portal:1", url="https://graphql.example.org/graphql", timeout=2)


def test_probe_passes_when_the_endpoint_accepts(listening_portal, no_proxy):
    assert probe_portal("portal:1", timeout=2) is None


# --- the configuration written by copick ------------------------------------------------------


def test_configuration_is_copicks_dataportal_config(mock_portal, tmp_path):
    spec = parse_portal_spec("portal:10446,10445")
    overlay = tmp_path / "overlay"
    path, objects = write_portal_config(spec, overlay)
    assert path == overlay / "copick-portal-10445-10446.json"
    config = json.loads(path.read_text())
    assert config["config_type"] == "cryoet_data_portal"
    assert config["overlay_root"] == f"local://{overlay}"
    assert config["overlay_fs_args"] == {"auto_mkdir": True}
    assert config["dataset_ids"] == [10445, 10446]
    assert [o["name"] for o in config["pickable_objects"]] == [n for n, _ in PORTAL_OBJECTS]
    assert [o.name for o in objects] == [n for n, _ in PORTAL_OBJECTS]
    assert mock_portal.queried == [[10445, 10446]]
    assert sorted(p.name for p in overlay.iterdir()) == [".copick_cache", path.name]  # no temporary


def test_configuration_is_replaced_whole(mock_portal, tmp_path):
    spec = parse_portal_spec("portal:10445")
    path, _ = write_portal_config(spec, tmp_path)
    mock_portal.objects = [("beta-amylase", True)]
    write_portal_config(spec, tmp_path)
    assert [o["name"] for o in json.loads(path.read_text())["pickable_objects"]] == ["beta-amylase"]


def test_unknown_dataset_writes_nothing(mock_portal, tmp_path):
    mock_portal.objects = []
    with pytest.raises(CopickSourceError, match=r"no annotated object for dataset\(s\) \[99\]"):
        write_portal_config(parse_portal_spec("portal:99"), tmp_path)
    assert not list(tmp_path.glob("*.json"))


def test_copick_failure_is_one_line(mock_portal, monkeypatch, tmp_path):
    import copick.util.portal as copick_portal

    def broken(dataset_ids):
        raise RuntimeError("server said\n  502 Bad Gateway")

    monkeypatch.setattr(copick_portal, "objects_from_datasets", broken)
    with pytest.raises(CopickSourceError) as info:
        write_portal_config(parse_portal_spec("portal:10445"), tmp_path)
    assert "RuntimeError: server said 502 Bad Gateway" in str(info.value)
    assert "\n" not in str(info.value)
    assert not list(tmp_path.glob("*.json"))


# --- name mapping -----------------------------------------------------------------------------


def test_objects_map_onto_competition_classes():
    objects = [SimpleNamespace(name=n, is_particle=p) for n, p in PORTAL_OBJECTS]
    found = map_portal_objects(objects, source="portal:1")
    assert found.classes.names == ("apo-ferritin", "beta-amylase", "ribosome")
    assert found.classes["ribosome"] == COMPETITION_CLASSES["ribosome"]  # radius 150 Å, not 50
    assert found.name_map == {
        "cytosolic-ribosome": "ribosome",
        "ferritin-complex": "apo-ferritin",
        "beta-amylase": "beta-amylase",
    }
    assert found.unmapped == ("membrane (not a particle)", "mystery-protein (no competition class)")


def test_two_portal_names_of_one_class():
    objects = [
        SimpleNamespace(name=n, is_particle=True) for n in ("apoferritin", "ferritin-complex")
    ]
    found = map_portal_objects(objects, source="portal:1")
    assert found.classes.names == ("apo-ferritin",)
    assert set(found.name_map.values()) == {"apo-ferritin"} and found.unmapped == ()


def test_no_mapped_object_is_an_error():
    objects = [SimpleNamespace(name="membrane", is_particle=False)]
    with pytest.raises(CopickSourceError, match=r"^portal:1: no portal object maps.*membrane"):
        map_portal_objects(objects, source="portal:1")


def test_the_map_used_is_the_portal_name_map():
    assert set(PORTAL_NAME_MAP) == {
        "apoferritin",
        "ferritin-complex",
        "cytosolic-ribosome",
        "beta-gal",
        "virus-like-capsid",
    }


# --- voxel spacing ----------------------------------------------------------------------------


def test_portal_spacing_matches_the_requested_size():
    spacings = {"TS_1": [4.99, 10.012], "TS_2": [10.012]}
    assert match_voxel_spacing(10, spacings, source="s") == 10.012
    assert match_voxel_spacing(10.012, spacings, source="s") == 10.012
    assert match_voxel_spacing(5, spacings | {"TS_2": [4.99]}, source="s") == 4.99


def test_spacing_tolerance_is_half_a_percent():
    assert match_voxel_spacing(10, {"r": [10.05]}, source="s") == 10.05  # 0.5 %: in
    with pytest.raises(CopickSourceError, match=r"within 0\.5% of voxel_size=10 Å"):
        match_voxel_spacing(10, {"r": [10.051]}, source="s")


def test_closest_spacing_wins():
    assert match_voxel_spacing(10, {"r": [10.04, 9.99, 10.02]}, source="s") == 9.99


def test_out_of_tolerance_lists_the_spacings():
    with pytest.raises(CopickSourceError) as info:
        match_voxel_spacing(9.9, {"TS_1": [10.012, 4.99]}, source="portal:1")
    assert str(info.value) == (
        "portal:1: run 'TS_1' has no voxel spacing within 0.5% of voxel_size=9.9 Å; "
        "its spacings: [4.99, 10.012] (choose one with ?voxel_size=V)"
    )


def test_runs_with_different_spacings_are_refused():
    with pytest.raises(CopickSourceError, match=r"different voxel spacings near 10 Å"):
        match_voxel_spacing(10, {"a": [10.012], "b": [10.0]}, source="s")
    with pytest.raises(CopickSourceError, match="no runs"):
        match_voxel_spacing(10, {}, source="s")


# --- tomogram type ----------------------------------------------------------------------------


def test_tomo_type_choice():
    assert choose_tomo_type(["wbp-raw"], source="s", where="w") == "wbp-raw"
    assert choose_tomo_type(["wbp-raw", "wbp-denoised"], source="s", where="w") == "wbp-denoised"
    with pytest.raises(CopickSourceError, match=r"several tomogram types \['a', 'b'\]; choose"):
        choose_tomo_type(["b", "a"], source="s", where="w")
    with pytest.raises(CopickSourceError, match="w: no tomogram at all"):
        choose_tomo_type([], source="s", where="w")


# --- the dataset, end to end with the mocked portal -------------------------------------------


def test_open_portal_dataset(mock_portal, listening_portal, no_proxy, tmp_path):
    overlay = tmp_path / "overlay"
    with pytest.warns(TopcupBenchWarning, match=r"mystery-protein \(no competition class\)"):
        dataset = open_dataset(f"portal:10445?overlay={overlay}")
    assert isinstance(dataset, CopickDataset) and dataset.spec == f"portal:10445?overlay={overlay}"
    assert dataset.runs == ("101", "102")
    assert dataset.voxel_size_angstrom == 10.012  # the exact spacing, used for Å <-> voxels
    assert dataset.tomo_type == "wbp-denoised-denoiset-ctfdeconv"
    assert dataset.classes.names == ("apo-ferritin", "beta-amylase", "ribosome")
    assert dataset.provenance()["voxel_size_angstrom"] == 10.012  # never the rounded request
    assert dataset.extent_angstrom_xyz  # Å <-> voxel conversion reads voxel_size_angstrom
    record = dataset.provenance()["portal"]
    assert record == {
        "dataset_ids": [10445],
        "overlay": str(overlay),
        "requested_voxel_size_angstrom": 10.0,
        "voxel_size_tolerance": 0.005,
        "voxel_size_angstrom": 10.012,
        "tomo_type": "wbp-denoised-denoiset-ctfdeconv",
        "tomo_type_chosen": "automatically",
        "name_map": {
            "cytosolic-ribosome": "ribosome",
            "ferritin-complex": "apo-ferritin",
            "beta-amylase": "beta-amylase",
        },
        "unmapped_objects": ["membrane (not a particle)", "mystery-protein (no competition class)"],
    }
    assert dataset.provenance()["config"] == str(overlay / "copick-portal-10445.json")


def test_portal_truth_is_mapped_to_competition_names(
    mock_portal, listening_portal, no_proxy, tmp_path
):
    import copick

    overlay = tmp_path / "overlay"
    with pytest.warns(TopcupBenchWarning):
        dataset = open_portal_dataset(f"portal:10445?overlay={overlay}&tomo_type=wbp-raw")
    runs = {run.name: run for run in copick.from_file(dataset.config_path).runs}  # no query
    positions = {
        "cytosolic-ribosome": [[100.0, 200.0, 300.0]],
        "ferritin-complex": [[5.5, 6.0, 7.0]],
    }
    for name, xyz in positions.items():
        picks = runs["101"].new_picks(name, "77", "data-portal")
        picks.from_numpy(np.asarray(xyz))
    other = runs["102"].new_picks("mystery-protein", "77", "data-portal")
    other.from_numpy(np.asarray([[1.0, 2.0, 3.0]]))
    truth = dataset.truth()
    assert truth[["experiment", "particle_type"]].values.tolist() == [
        ["101", "ribosome"],
        ["101", "apo-ferritin"],
    ]
    assert truth[["x", "y", "z"]].values.tolist() == [[100.0, 200.0, 300.0], [5.5, 6.0, 7.0]]
    assert dataset.tomo_type == "wbp-raw"
    assert dataset.provenance()["portal"]["tomo_type_chosen"] == "given"


def test_out_of_tolerance_voxel_size_is_refused(mock_portal, listening_portal, no_proxy, tmp_path):
    with pytest.warns(TopcupBenchWarning), pytest.raises(CopickSourceError) as info:
        open_portal_dataset(f"portal:10445?overlay={tmp_path}&voxel_size=9.9")
    assert "run '101' has no voxel spacing within 0.5% of voxel_size=9.9 Å" in str(info.value)
    assert "its spacings: [4.99, 10.012]" in str(info.value)


def test_default_overlay_is_created_in_the_cache(mock_portal, listening_portal, no_proxy):
    with pytest.warns(TopcupBenchWarning):
        dataset = open_portal_dataset("portal:10445")
    assert Path(dataset.config_path) == cache_dir().absolute() / "portal" / "10445" / (
        "copick-portal-10445.json"
    )
    assert (cache_dir() / "CACHEDIR.TAG").is_file()


def test_offline_open_creates_nothing(mock_portal, monkeypatch, no_proxy, tmp_path):
    monkeypatch.setattr(portal_probe, "PORTAL_GRAPHQL_URL", f"http://127.0.0.1:{closed_port()}/")
    with pytest.raises(PortalUnreachableError, match="connection refused"):
        open_dataset(f"portal:10445?overlay={tmp_path / 'ov'}")
    assert not (tmp_path / "ov").exists() and mock_portal.queried == []


# --- the name-map hook of CopickDataset -------------------------------------------------------


def test_copick_dataset_name_map(make_copick_project, add_picks):
    objects = [
        {"name": "cytosolic-ribosome", "is_particle": True, "label": 1, "radius": 150.0},
        {"name": "ribosome", "is_particle": True, "label": 2, "radius": 140.0},
        {"name": "thyroglobulin", "is_particle": True, "label": 3, "radius": 130.0},
    ]
    config = make_copick_project(runs=("TS_1",), objects=objects)
    add_picks(config, "TS_1", "cytosolic-ribosome", "curation", "0", np.array([[10.0, 20.0, 30.0]]))
    add_picks(config, "TS_1", "thyroglobulin", "curation", "0", np.array([[1.0, 2.0, 3.0]]))
    plain = CopickDataset(config, voxel_size_angstrom=10)
    assert plain.classes.names == ("cytosolic-ribosome", "ribosome", "thyroglobulin")
    assert plain.truth()["particle_type"].tolist() == ["cytosolic-ribosome", "thyroglobulin"]
    mapped = CopickDataset(config, voxel_size_angstrom=10, name_map=PORTAL_NAME_MAP)
    assert mapped.classes.names == ("ribosome", "thyroglobulin")  # first object's radius kept
    assert mapped.classes["ribosome"].radius_angstrom == 150.0
    truth = mapped.truth()
    assert truth["particle_type"].tolist() == ["ribosome", "thyroglobulin"]
    assert truth[["x", "y", "z"]].values.tolist() == [[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]]
    assert mapped.truth_digest() != plain.truth_digest()


def test_write_copick_uses_the_projects_object_names(make_copick_project):
    import pandas as pd

    from topcup_bench.copick_output import write_outcome_to_copick

    objects = [
        {"name": "cytosolic-ribosome", "is_particle": True, "label": 1, "radius": 150.0},
        {"name": "thyroglobulin", "is_particle": True, "label": 2, "radius": 130.0},
    ]
    config = make_copick_project(runs=("TS_1",), objects=objects)
    dataset = CopickDataset(config, voxel_size_angstrom=10, name_map=PORTAL_NAME_MAP)
    picks = pd.DataFrame(
        {
            "experiment": ["TS_1", "TS_1"],
            "particle_type": ["ribosome", "thyroglobulin"],
            "x": [10.0, 1.0],
            "y": [20.0, 2.0],
            "z": [30.0, 3.0],
            "score": [0.9, 0.5],
        }
    )
    outcome = SimpleNamespace(picks=picks, card=SimpleNamespace(name="blob"))
    write_outcome_to_copick(outcome, dataset, overwrite=False)
    written = dataset.__class__(
        config, voxel_size_angstrom=10, name_map=PORTAL_NAME_MAP, truth_user="blob"
    ).truth()
    assert written["particle_type"].tolist() == ["ribosome", "thyroglobulin"]
    stored = sorted(p.name for p in (config.parent / "overlay").rglob("blob_*.json"))
    assert stored == ["blob_0_cytosolic-ribosome.json", "blob_0_thyroglobulin.json"]


# --- the command line -------------------------------------------------------------------------


def test_cli_offline_is_one_error_line(monkeypatch, capsys, no_proxy, tmp_path):
    from topcup_bench.cli import main

    monkeypatch.setattr(
        portal_probe, "PORTAL_GRAPHQL_URL", f"http://127.0.0.1:{closed_port()}/graphql"
    )
    status = main(["run", "--dataset", "portal:10445", "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: portal:10445: cannot reach the CZ cryoET Data Portal")
    assert "Traceback" not in captured.err + captured.out


def test_cli_bad_portal_spec_is_one_error_line(capsys, tmp_path):
    from topcup_bench.cli import main

    status = main(["run", "--dataset", "portal:ten", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.strip() == (
        "error: portal:ten: dataset ID must be a positive integer (e.g. 10445), found 'ten'"
    )


def _escape(text: str) -> str:
    import re

    return re.escape(text)
