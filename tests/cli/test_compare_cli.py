"""``topcup-bench compare``: exit 1 on a planted regression, 0 on identical inputs."""

from __future__ import annotations

import copy
import json

import pytest

from topcup_bench.cli import main
from topcup_bench.errors import InputError
from topcup_bench.reports.compare import compare_results


def _results(score=0.7, seconds=2.0, status="ok"):
    entry = {
        "picker": "template",
        "status": status,
        "error": None if status == "ok" else "boom",
        "score": score,
        "score_interval": {"low": score - 0.05, "high": score + 0.05},
        "classes": {"ribosome": {"fbeta": score}},
        "timings": {"pick_s_per_tomogram": seconds},
    }
    return {
        "schema_version": 1,
        "dataset": {"spec": "phantom:default", "kind": "copick", "split": "test", "runs": ["a"]},
        "results": [entry],
    }


def _write(tmp_path, name, results):
    path = tmp_path / name
    path.write_text(json.dumps(results))
    return path


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
    other["dataset"]["spec"] = "phantom:tiny"
    with pytest.raises(InputError, match="different datasets.*phantom:default.*phantom:tiny"):
        compare_results(_results(), other)
    base = _write(tmp_path, "b.json", _results())
    assert main(["compare", str(base), str(_write(tmp_path, "o.json", other))]) == 2


def test_unknown_schema_version_is_refused(tmp_path, capsys):
    newer = _results()
    newer["schema_version"] = 2
    path = _write(tmp_path, "n.json", newer)
    assert main(["compare", str(path), str(path)]) == 2
    assert "schema_version 2" in capsys.readouterr().err
