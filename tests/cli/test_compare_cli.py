"""``topcup-bench compare``: exit 1 on a planted regression, 0 on identical inputs, 2 on
inputs that cannot be compared (malformed files, other datasets or metrics, bad options)."""

from __future__ import annotations

import copy
import json

import pytest

from topcup_bench.cli import main
from topcup_bench.errors import InputError
from topcup_bench.reports.compare import compare_results
from topcup_bench.results import read_results


def _results(score=0.7, seconds=2.0, status="ok"):
    entry = {
        "picker": "template",
        "status": status,
        "error": None if status == "ok" else "boom",
        "score": score,
        "score_interval": {"low": 0.65, "high": 0.75}
        if score is None
        else {"low": score - 0.05, "high": score + 0.05},
        "classes": {
            "ribosome": {"fbeta": score, "precision": 0.5, "recall": 0.9, "tp": 9, "fp": 9, "fn": 1}
        },
        "timings": {"pick_s_per_tomogram": seconds},
    }
    return {
        "schema_version": 3,
        "dataset": {
            "identity": {"kind": "copick", "digest": "d1" * 32},
            "source": {"config": "/somewhere/copick_config.json"},
            "spec": "phantom:default",
            "split": "test",
            "runs": ["a"],
            "classes": {"ribosome": {"radius_angstrom": 150.0, "weight": 1.0}},
        },
        "metric": {"rule": "competition", "beta": 4.0, "distance_multiplier": 0.5},
        "results": [entry],
    }


def _write(tmp_path, name, results):
    path = tmp_path / name
    path.write_text(json.dumps(results))
    return path


def _set_entry(key, value):
    def edit(results):
        results["results"][0][key] = value

    return edit


def _set_score(value):
    return _set_entry("score", value)


def _set_interval(key, value):
    def edit(results):
        results["results"][0]["score_interval"][key] = value

    return edit


def _set_class(key, value):
    def edit(results):
        results["results"][0]["classes"]["ribosome"][key] = value

    return edit


def _duplicate_picker(results):
    results["results"].append(copy.deepcopy(results["results"][0]))


def test_identical_results_exit_0(tmp_path, capsys):
    base = _write(tmp_path, "base.json", _results())
    assert main(["compare", str(base), str(base)]) == 0
    assert "no regression" in capsys.readouterr().out


@pytest.mark.parametrize(
    "new, options, reason",
    [
        (_results(score=0.65), [], "score 0.7000 -> 0.6500"),
        (_results(seconds=4.0), [], "more than 1.5x slower"),
        (_results(status="failed"), [], "failed"),
        (_results(score=0.64), ["--use-interval"], "below the base interval"),
    ],
)
def test_planted_regressions_exit_1(tmp_path, capsys, new, options, reason):
    base = _write(tmp_path, "base.json", _results())
    changed = _write(tmp_path, "new.json", new)
    assert main(["compare", str(base), str(changed), *options]) == 1
    assert reason in capsys.readouterr().err


def test_tolerances_and_interval_gate_can_pass(tmp_path):
    base, new = _results(), _results(score=0.695, seconds=2.2)
    assert not compare_results(base, new).regressed
    assert not compare_results(base, _results(score=0.66), use_interval=True).regressed
    assert compare_results(base, _results(score=0.66), score_tolerance=0.05).regressions == []


def test_different_datasets_are_refused(tmp_path, capsys):
    other = copy.deepcopy(_results())
    other["dataset"]["identity"]["digest"] = "e2" * 32
    with pytest.raises(InputError, match="different datasets.*d1d1.*e2e2"):
        compare_results(_results(), other)
    base = _write(tmp_path, "b.json", _results())
    assert main(["compare", str(base), str(_write(tmp_path, "o.json", other))]) == 2
    assert "different datasets" in capsys.readouterr().err


@pytest.mark.parametrize("field, value", [("split", "all"), ("runs", ["a", "b"])])
def test_other_split_or_runs_are_refused(field, value):
    other = _results()
    other["dataset"][field] = value
    with pytest.raises(InputError, match="different datasets"):
        compare_results(_results(), other)


def test_same_content_in_other_folders_compares(tmp_path, capsys):
    """Identity is the digest: another cache folder or spec spelling is the same dataset."""
    other = _results()
    other["dataset"]["source"] = {"config": "/elsewhere/copick_config.json"}
    other["dataset"]["spec"] = "phantom:default?seed=0"
    base, new = _write(tmp_path, "b.json", _results()), _write(tmp_path, "n.json", other)
    assert main(["compare", str(base), str(new)]) == 0


@pytest.mark.parametrize(
    "key, value", [("beta", 1.0), ("distance_multiplier", 1.0), ("rule", "one-to-one")]
)
def test_results_scored_differently_are_refused(tmp_path, capsys, key, value):
    other = _results()
    other["metric"][key] = value
    base, new = _write(tmp_path, "b.json", _results()), _write(tmp_path, "n.json", other)
    assert main(["compare", str(base), str(new)]) == 2
    err = capsys.readouterr().err
    assert "scored differently" in err and key in err


def test_missing_score_is_a_regression(tmp_path, capsys):
    base = _write(tmp_path, "b.json", _results())
    new = _write(tmp_path, "n.json", _results(score=None))
    assert main(["compare", str(base), str(new)]) == 1
    assert "template: score missing or not a number in the new results" in capsys.readouterr().err
    assert main(["compare", str(base), str(new), "--use-interval"]) == 1


@pytest.mark.parametrize(
    "edit, message",
    [
        # NaN is written as the literal NaN: not a score, and not null
        (_set_score(float("nan")), "'results[0].score': expected a number between 0 and 1"),
        (
            _set_score(7.5),
            "'results[0].score': expected a number between 0 and 1, or null, found 7.5",
        ),
        (
            _set_score(-1),
            "'results[0].score': expected a number between 0 and 1, or null, found -1",
        ),
        (_set_entry("score_best", 1.5), "'results[0].score_best': expected a number between 0"),
        (
            _set_interval("low", float("nan")),
            "'results[0].score_interval.low': expected a number "
            "between 0 and 1, or null, found nan",
        ),
        (_set_interval("high", 2.0), "'results[0].score_interval.high'"),
        (
            _set_interval("low", 0.9),
            "'results[0].score_interval': expected low <= high, found low=0.9, high=0.75",
        ),
        (_set_class("precision", 1.2), "'results[0].classes.ribosome.precision'"),
        (_set_class("recall", -0.5), "'results[0].classes.ribosome.recall'"),
        (_set_class("fbeta", float("inf")), "'results[0].classes.ribosome.fbeta'"),
        (_duplicate_picker, "results: picker 'template' appears twice"),
    ],
)
@pytest.mark.parametrize("side", ["base", "new"])
def test_out_of_range_or_duplicate_entries_exit_2(tmp_path, capsys, edit, message, side):
    broken = _results()
    edit(broken)
    good, bad = _write(tmp_path, "good.json", _results()), _write(tmp_path, "bad.json", broken)
    pair = [bad, good] if side == "base" else [good, bad]
    assert main(["compare", *map(str, pair)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: ") and message in err and "Traceback" not in err


def test_bounds_are_tolerant_and_the_score_may_lie_outside_its_interval(tmp_path):
    edge = _results(score=1.0 + 1e-12)
    edge["results"][0]["score_interval"] = {"low": 0.2, "high": 0.3}  # few resamples: possible
    edge["results"][0]["classes"]["ribosome"]["recall"] = -1e-12
    path = _write(tmp_path, "edge.json", edge)
    assert read_results(path)["results"][0]["score"] == pytest.approx(1.0)
    assert main(["compare", str(path), str(path)]) == 0


@pytest.mark.parametrize(
    "options, flag",
    [
        (["--score-tolerance", "nan"], "--score-tolerance"),
        (["--score-tolerance", "-0.1"], "--score-tolerance"),
        (["--score-tolerance", "inf"], "--score-tolerance"),
        (["--time-ratio", "nan"], "--time-ratio"),
        (["--time-ratio", "0"], "--time-ratio"),
        (["--time-ratio", "-2"], "--time-ratio"),
        (["--time-ratio", "inf"], "--time-ratio"),
    ],
)
def test_bad_tolerances_exit_2_naming_the_flag(tmp_path, capsys, options, flag):
    base = _write(tmp_path, "b.json", _results())
    assert main(["compare", str(base), str(base), *options]) == 2
    assert f"error: {flag}: expected a finite number" in capsys.readouterr().err


def _without(path):
    def edit(results):
        *parents, last = path
        for key in parents:
            results = results[key]
        del results[last]

    return edit


def _set(path, value):
    def edit(results):
        *parents, last = path
        for key in parents:
            results = results[key]
        results[last] = value

    return edit


@pytest.mark.parametrize(
    "edit, field",
    [
        (_without(["results"]), "'results'"),
        (_set(["results"], {"picker": "x"}), "'results'"),
        (_without(["results", 0, "picker"]), "'results[0].picker'"),
        (_set(["results", 0, "score"], "0.7"), "'results[0].score'"),
        (_set(["results", 0, "classes"], ["ribosome"]), "'results[0].classes'"),
        (_set(["results", 0, "classes", "ribosome", "fbeta"], "high"), "fbeta'"),
        (_without(["results", 0, "classes", "ribosome"]), "'results[0].classes.ribosome'"),
        (_without(["results", 0, "score_interval"]), "'results[0].score_interval'"),
        (_set(["results", 0, "status"], "done"), "'results[0].status'"),
        (_set(["results", 0, "timings"], None), "'results[0].timings'"),
        (_without(["dataset", "identity"]), "'dataset.identity'"),
        (_set(["dataset", "runs"], "a"), "'dataset.runs'"),
        (_without(["metric"]), "'metric'"),
        (_set(["metric", "beta"], "four"), "'metric.beta'"),
        (_set(["results", 0, "picker"], "x" * 100_000), None),
    ],
)
def test_malformed_results_exit_2_naming_file_and_field(tmp_path, capsys, edit, field):
    good = _write(tmp_path, "good.json", _results())
    broken = _results()
    edit(broken)
    if field is None:  # a valid file with a huge name: compares, never echoes megabytes
        broken["results"][0]["picker"] = "template"
        broken["results"][0]["error"] = "x" * 100_000
    bad = _write(tmp_path, "bad.json", broken)
    status = main(["compare", str(good), str(bad)])
    err = capsys.readouterr().err
    if field is None:
        assert status == 0 and len(err) < 1000
        return
    assert status == 2
    assert err.startswith(f"error: {bad}: ") and field in err
    assert "Traceback" not in err and len(err) < 1000


@pytest.mark.parametrize("content", ["", "[1, 2]", '{"schema_version": 3', "\x00\xff"])
def test_unreadable_results_exit_2(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("latin-1"))
    good = _write(tmp_path, "good.json", _results())
    assert main(["compare", str(good), str(bad)]) == 2
    assert f"error: {bad}: " in capsys.readouterr().err


def test_a_folder_as_results_file_exits_2(tmp_path, capsys):
    good = _write(tmp_path, "good.json", _results())
    assert main(["compare", str(good), str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    with pytest.raises(InputError, match="cannot read the results file"):
        read_results(tmp_path)


@pytest.mark.parametrize("version", [1, 2, 4, "3"])
def test_unknown_schema_version_is_refused(tmp_path, capsys, version):
    other = _results()
    other["schema_version"] = version
    path = _write(tmp_path, "n.json", other)
    assert main(["compare", str(path), str(path)]) == 2
    assert f"schema_version {version!r}" in capsys.readouterr().err
