"""Ground-truth problems of a copick project are named precisely: the user with no picks (and the
users that have some), the picks file and point index of a NaN location, and changed data."""

from __future__ import annotations

import json
import re

import pytest

from topcup_bench.cli import main
from topcup_bench.datasets.dataset import CopickDataset
from topcup_bench.errors import CopickSourceError, NonFiniteCoordinatesError


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    out = tmp_path_factory.mktemp("truth") / "proj"
    code = main(
        ["phantom", "--out", str(out), "--preset", "tiny", "--runs", "2", "--test-runs", "1"]
    )
    assert code == 0
    return out


def _copy(project, tmp_path):
    import shutil

    shutil.copytree(project, tmp_path / "proj")
    return tmp_path / "proj"


def _run(config, out, capsys):
    code = main(
        [
            "run",
            "--dataset",
            str(config),
            "--split",
            "all",
            "--pickers",
            "oracle",
            "--quiet",
            "--no-report",
            "--bootstrap",
            "20",
            "--out",
            str(out),
        ]
    )
    return code, capsys.readouterr().err


def test_unknown_truth_user_names_the_users_with_picks(project, capsys, tmp_path):
    config = project / "copick_config.json"
    nobody = CopickDataset(config, truth_user="nobody")
    assert len(nobody.truth()) == 0  # still a (truth-less) dataset with an identity
    with pytest.raises(CopickSourceError) as caught:
        nobody.check_truth_user()
    assert (
        f"no ground-truth picks by user 'nobody' session '0' in {config}; "
        "users with picks: ['curation']" in str(caught.value)
    )
    code, err = _run(f"{config}?user=nobody", tmp_path / "o", capsys)
    assert code == 2
    assert "no ground-truth picks by user 'nobody'" in err and "the table has no rows" not in err


def test_the_truth_user_with_picks_passes(project):
    dataset = CopickDataset(project / "copick_config.json")
    dataset.check_truth_user()  # the truth user has picks: no error
    assert len(dataset.truth()) > 0


def test_nan_truth_location_names_the_file_and_point(project, tmp_path, capsys):
    copy = _copy(project, tmp_path)
    path = sorted((copy / "ExperimentRuns").rglob("curation_0_*.json"))[0]
    document = json.loads(path.read_text())
    document["points"][0]["location"]["y"] = float("nan")
    path.write_text(json.dumps(document))
    with pytest.raises(NonFiniteCoordinatesError) as caught:
        CopickDataset(copy / "copick_config.json").truth()
    message = str(caught.value)
    assert message.startswith(f"{path}: run ")
    assert "non-finite (NaN or infinite) location at point index [0] of" in message
    code, err = _run(copy / "copick_config.json", tmp_path / "o", capsys)
    assert code == 2 and str(path) in err


def test_changed_truth_says_the_data_changed(project, tmp_path, capsys):
    copy = _copy(project, tmp_path)
    config = copy / "copick_config.json"
    code, err = _run(config, tmp_path / "o", capsys)
    assert code == 0, err
    path = sorted((copy / "ExperimentRuns").rglob("curation_0_*.json"))[0]
    document = json.loads(path.read_text())
    document["points"][0]["location"]["x"] += 10.0
    path.write_text(json.dumps(document))
    code, err = _run(config, tmp_path / "o", capsys)
    assert code == 2
    assert f"the data of {config} changed since those results (identity digest " in err
    assert re.search(r"identity digest [0-9a-f]{12} -> [0-9a-f]{12}\)", err)
    assert "holds results of another dataset" not in err
