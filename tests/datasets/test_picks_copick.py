"""Reading and writing picks in copick filesystem projects built in tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from topcup_bench.datasets import read_copick_picks, write_copick_picks
from topcup_bench.errors import CopickSourceError, InputError, OutputExistsError
from topcup_bench.types import COMPETITION_CLASSES, ClassCatalogue, ParticleClass

RIBOSOMES = np.array([[100.0, 200.0, 300.0], [1000.5, 2000.25, 30.125]])


def test_reads_positions_scores_and_names(make_copick_project, add_picks):
    config = make_copick_project()
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", RIBOSOMES, scores=np.array([0.9, 0.2]))
    add_picks(config, "TS_6_4", "apo-ferritin", "picker", "1", [[5.0, 6.0, 7.0]])
    table = read_copick_picks(config, user_id="picker")
    assert table["experiment"].tolist() == ["TS_5_4", "TS_5_4", "TS_6_4"]
    assert table["particle_type"].tolist() == ["ribosome", "ribosome", "apo-ferritin"]
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy()[:2], RIBOSOMES)
    assert table["score"].tolist() == [0.9, 0.2, 1.0]  # copick's default score is 1.0


def test_transformation_translation_is_added(make_copick_project, add_picks):
    config = make_copick_project()
    transforms = np.tile(np.eye(4), (2, 1, 1))
    transforms[0, :3, 3] = [1.5, -2.0, 10.0]
    transforms[1, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]  # rotation only: no shift
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", RIBOSOMES, transforms=transforms)
    table = read_copick_picks(config, user_id="picker")
    expected = RIBOSOMES + [[1.5, -2.0, 10.0], [0.0, 0.0, 0.0]]
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy(), expected)


def test_filters_user_session_runs_and_objects(make_copick_project, add_picks):
    config = make_copick_project(runs=("TS_5_4", "TS_6_4", "TS_99_9"))
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", RIBOSOMES)
    add_picks(config, "TS_5_4", "ribosome", "picker", "2", RIBOSOMES[:1])
    add_picks(config, "TS_5_4", "ribosome", "other", "1", RIBOSOMES)
    add_picks(config, "TS_6_4", "thyroglobulin", "picker", "1", RIBOSOMES)
    add_picks(config, "TS_99_9", "ribosome", "picker", "1", RIBOSOMES)
    assert len(read_copick_picks(config, user_id="picker")) == 7
    assert len(read_copick_picks(config, user_id="picker", session_id="2")) == 1
    by_run = read_copick_picks(config, user_id="picker", runs=["TS_6_4"])
    assert by_run["particle_type"].tolist() == ["thyroglobulin"] * 2
    assert read_copick_picks(config, user_id="picker", runs="TS_6_4").equals(by_run)
    by_object = read_copick_picks(config, user_id="picker", object_names=["ribosome"])
    assert set(by_object["particle_type"]) == {"ribosome"} and len(by_object) == 5


def test_classes_restrict_objects(make_copick_project, add_picks):
    config = make_copick_project()
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", RIBOSOMES)
    add_picks(config, "TS_5_4", "apo-ferritin", "picker", "1", RIBOSOMES)
    only_ribosomes = ClassCatalogue((ParticleClass("ribosome", 150.0),))
    table = read_copick_picks(config, user_id="picker", classes=only_ribosomes)
    assert table["particle_type"].tolist() == ["ribosome", "ribosome"]
    assert len(read_copick_picks(config, user_id="picker", classes=COMPETITION_CLASSES)) == 4


def test_empty_picks_file_gives_an_empty_table(make_copick_project, add_picks):
    config = make_copick_project()
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", np.zeros((0, 3)))
    table = read_copick_picks(config, user_id="picker")
    assert len(table) == 0 and "score" in table.columns


def test_no_picks_for_user_lists_existing_users(make_copick_project, add_picks):
    config = make_copick_project()
    add_picks(config, "TS_5_4", "ribosome", "picker", "1", RIBOSOMES)
    add_picks(config, "TS_6_4", "ribosome", "curation", "0", RIBOSOMES)
    with pytest.raises(CopickSourceError) as caught:
        read_copick_picks(config, user_id="pickr")
    message = str(caught.value)
    assert str(config) in message and "'pickr'" in message
    assert "found users: ['curation', 'picker']" in message
    assert "Did you mean 'picker'?" in message
    with pytest.raises(CopickSourceError, match="picker/1"):
        read_copick_picks(config, user_id="picker", session_id="9")


def test_unknown_run_suggests_a_name(make_copick_project):
    config = make_copick_project()
    with pytest.raises(CopickSourceError) as caught:
        read_copick_picks(config, user_id="picker", runs=["TS_5_5"])
    message = str(caught.value)
    assert str(config) in message and "'TS_5_5'" in message and "Did you mean 'TS_5_4'?" in message


def test_unknown_or_non_particle_object(make_copick_project):
    config = make_copick_project()
    with pytest.raises(CopickSourceError, match="'ribosom' is unknown.*Did you mean 'ribosome'"):
        read_copick_picks(config, user_id="picker", object_names=["ribosom"])
    with pytest.raises(CopickSourceError, match="'membrane' is not a particle") as caught:
        read_copick_picks(config, user_id="picker", object_names=["membrane"])
    assert str(config) in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "config file not found"),
        ("{not json", "JSONDecodeError"),
        (json.dumps({"config_type": "filesystem", "pickable_objects": []}), "overlay_root"),
        (json.dumps({"config_type": "nonsense", "pickable_objects": []}), "Unknown config_type"),
    ],
)
def test_bad_config(tmp_path, content, expected):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CopickSourceError, match=expected) as caught:
        read_copick_picks(path, user_id="picker")
    assert str(path) in str(caught.value)


def test_kaggle_layout_picks_file_is_explained(make_copick_project):
    config = make_copick_project()
    picks_dir = config.parent / "overlay" / "ExperimentRuns" / "TS_5_4" / "Picks"
    picks_dir.mkdir(parents=True)
    (picks_dir / "ribosome.json").write_text("{}")
    with pytest.raises(CopickSourceError, match="user_session_object.json") as caught:
        read_copick_picks(config, user_id="picker")
    assert "TS_5_4" in str(caught.value)


def test_corrupt_picks_file_names_the_file(make_copick_project):
    config = make_copick_project()
    picks_dir = config.parent / "overlay" / "ExperimentRuns" / "TS_5_4" / "Picks"
    picks_dir.mkdir(parents=True)
    (picks_dir / "picker_1_ribosome.json").write_text("{broken")
    with pytest.raises(CopickSourceError, match="picker_1_ribosome.json") as caught:
        read_copick_picks(config, user_id="picker")
    assert str(config) in str(caught.value)


def test_write_read_round_trip(make_copick_project, picks_table):
    config = make_copick_project()
    write_copick_picks(picks_table, config, user_id="topcup", session_id="1")
    picks_dir = config.parent / "overlay" / "ExperimentRuns" / "TS_5_4" / "Picks"
    assert sorted(p.name for p in picks_dir.iterdir()) == [
        "topcup_1_apo-ferritin.json",
        "topcup_1_ribosome.json",
    ]
    back = read_copick_picks(config, user_id="topcup", session_id="1")
    key = ["experiment", "particle_type", "x"]
    pd.testing.assert_frame_equal(
        back.sort_values(key).reset_index(drop=True),
        picks_table.sort_values(key).reset_index(drop=True),
    )


def test_write_without_scores_gives_score_one(make_copick_project, picks_table):
    config = make_copick_project()
    write_copick_picks(picks_table.drop(columns="score"), config, user_id="topcup", session_id="1")
    assert read_copick_picks(config, user_id="topcup")["score"].tolist() == [1.0] * 5


def test_write_refuses_to_overwrite(make_copick_project, picks_table):
    config = make_copick_project()
    write_copick_picks(picks_table, config, user_id="topcup", session_id="1")
    with pytest.raises(OutputExistsError) as caught:
        write_copick_picks(picks_table.iloc[:1], config, user_id="topcup", session_id="1")
    assert "topcup_1_ribosome.json" in str(caught.value) and str(config) in str(caught.value)
    assert len(read_copick_picks(config, user_id="topcup")) == 5
    write_copick_picks(
        picks_table.iloc[:1], config, user_id="topcup", session_id="1", overwrite=True
    )
    back = read_copick_picks(config, user_id="topcup")
    assert len(back) == 4  # TS_5_4 ribosomes replaced by one pick; other files untouched


@pytest.mark.parametrize(
    ("field", "user", "session"), [("user_id", "top_cup", "1"), ("session_id", "u", "a b")]
)
def test_write_rejects_ids_copick_cannot_store(
    make_copick_project, picks_table, field, user, session
):
    config = make_copick_project()
    with pytest.raises(InputError, match=field) as caught:
        write_copick_picks(picks_table, config, user_id=user, session_id=session)
    assert str(config) in str(caught.value)


def test_write_unknown_run_or_object(make_copick_project, picks_table):
    config = make_copick_project(runs=("TS_5_4",))
    with pytest.raises(CopickSourceError, match="no run named 'TS_6_4'") as caught:
        write_copick_picks(picks_table, config, user_id="topcup", session_id="1")
    assert str(config) in str(caught.value)
    assert not (config.parent / "overlay" / "ExperimentRuns" / "TS_5_4" / "Picks").exists()
    wrong = picks_table.assign(particle_type="ribosom")
    with pytest.raises(CopickSourceError, match="'ribosom' is not a pickable object"):
        write_copick_picks(wrong, config, user_id="topcup", session_id="1")


def test_picks_of_an_object_missing_from_the_config_are_an_error(make_copick_project, add_picks):
    config = make_copick_project()
    add_picks(config, "TS_5_4", "ribosome", "curation", "0", [[1.0, 2.0, 3.0]])
    picks_dir = config.parent / "overlay" / "ExperimentRuns" / "TS_5_4" / "Picks"
    content = json.loads((picks_dir / "curation_0_ribosome.json").read_text())
    content["pickable_object_name"] = "ribosom"
    (picks_dir / "curation_0_ribosom.json").write_text(json.dumps(content))
    with pytest.raises(CopickSourceError, match=r"curation_0_ribosom\.json.*'ribosom'.*not in"):
        read_copick_picks(config, user_id="curation")
    # the stray file of one user does not block reading another user's picks
    add_picks(config, "TS_5_4", "ribosome", "someone", "0", [[4.0, 5.0, 6.0]])
    assert len(read_copick_picks(config, user_id="someone")) == 1
