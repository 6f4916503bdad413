"""Schema 3 of results.json: counts per run and the paired comparisons, written and read back."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.errors import SchemaError
from topcup_bench.reports.leaderboard import leaderboard_frame, render_leaderboard_markdown
from topcup_bench.results import compare_entries, entry_counts, read_results
from topcup_bench.workflow import run_benchmark

from .conftest import TINY


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """results.json of oracle, random and jittered oracle on the two test runs of TINY."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOPCUP_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "tb-cache"))
        out = tmp_path_factory.mktemp("paired") / "out"
        config = BenchmarkConfig(
            dataset=TINY,
            pickers=(
                ("random", {"seed": 3}),
                ("oracle", {}),
                ("oracle", {"jitter_angstrom": 30.0, "label": "jittered"}),
            ),
            out=out,
            bootstrap=300,
            seed=4,
        )
        run_benchmark(config, progress=False)
    return out / "results.json"


def test_results_hold_counts_by_run_and_comparisons(written):
    results = read_results(written)
    assert results["schema_version"] == 3
    for entry in results["results"]:
        counts = entry_counts(entry)
        assert counts.experiments == ("TS_001", "TS_002")
        pooled = counts.pooled()
        for name, info in entry["classes"].items():
            assert pooled.get(name, (0, 0, 0)) == (info["tp"], info["fp"], info["fn"])
    comparisons = results["comparisons"]
    assert (comparisons["n_resamples"], comparisons["seed"]) == (300, 4)
    assert comparisons["confidence"] == 0.95 and comparisons["alpha"] == 0.05
    assert comparisons["adjustment"] == "holm" and comparisons["permutation"] == "exact"
    # 2 runs: a swap and its complement tie, p >= 2/4 for every pair: one group
    assert comparisons["smallest_p_value"] == 0.5
    assert comparisons["groups"] == [["oracle", "jittered", "random"]]
    pairs = {(p["a"], p["b"]): p for p in comparisons["pairs"]}
    assert list(pairs) == [("oracle", "jittered"), ("oracle", "random"), ("jittered", "random")]
    by_name = {e["picker"]: e for e in results["results"]}
    for (a, b), pair in pairs.items():
        score_difference = by_name[a]["score"] - by_name[b]["score"]
        assert pair["difference"] == pytest.approx(score_difference, abs=1e-12)
        assert pair["low"] <= pair["high"] and pair["p_value"] >= 0.5 and not pair["significant"]
        assert set(pair["classes"]) == set(results["dataset"]["classes"])
    assert comparisons["minimal_detectable_difference"] is None  # 2 runs: nothing detectable
    # the document is self-contained: the comparisons recomputed from it are the stored ones
    recomputed = compare_entries(
        results["results"], dataset=results["dataset"], metric=results["metric"]
    )
    assert json.loads(json.dumps(recomputed)) == comparisons


def test_leaderboard_shows_groups_and_the_detectable_difference(written):
    results = read_results(written)
    frame = leaderboard_frame(results)
    assert frame["picker"].tolist() == ["oracle", "jittered", "random"]
    assert frame["group"].tolist() == [1, 1, 1]
    p_jittered = results["comparisons"]["pairs"][0]["p_adjusted"]
    assert frame["flags"].tolist()[1] == (
        f"not significantly different from oracle (p={p_jittered:.2f})"
    )
    text = render_leaderboard_markdown(frame, results)
    assert results["comparisons"]["minimal_detectable_difference"] is None
    assert (
        "Minimal detectable difference of the weighted score on these 2 runs: none (with 2 runs "
        "the paired permutation test's smallest possible p-value is 0.5 >= alpha 0.05, so no "
        "difference can be significant; score more runs, e.g. --dataset phantom:paper)." in text
    )


def test_failed_pickers_are_not_compared(written):
    results = read_results(written)
    failed = {"picker": "broken", "status": "failed", "error": "boom", "timings": {}}
    comparisons = compare_entries(
        [*results["results"], failed], dataset=results["dataset"], metric=results["metric"]
    )
    assert comparisons == results["comparisons"]
    with pytest.raises(SchemaError, match="'broken'.*no 'counts_by_run'"):
        entry_counts(failed)
    entry = copy.deepcopy(results["results"][0])
    del entry["counts_by_run"]["TS_002"]["ribosome"]
    with pytest.raises(SchemaError, match="counts_by_run.TS_002"):
        entry_counts(entry)


def test_version_2_files_are_refused_with_a_re_run_hint(written, tmp_path):
    old = json.loads(written.read_text())
    old["schema_version"] = 2
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    with pytest.raises(SchemaError, match="reads version 3 .older file: re-run topcup-bench run"):
        read_results(path)


def _edit(path, value):
    def apply(document):
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value

    return apply


_DELETE = object()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_edit(["comparisons"], []), "'comparisons': expected an object"),
        (_edit(["comparisons", "groups"], [["oracle", "nobody"]]), "'comparisons.groups'"),
        (_edit(["comparisons", "groups"], [["oracle"]]), "every successful picker exactly once"),
        (_edit(["comparisons", "groups"], "oracle"), "a list of lists of picker names"),
        (_edit(["comparisons", "minimal_detectable_difference"], "0.1"), "minimal_detectable"),
        (_edit(["comparisons", "minimal_detectable_difference"], _DELETE), "missing field"),
        (_edit(["comparisons", "pairs"], {}), "'comparisons.pairs': expected a list"),
        (_edit(["comparisons", "pairs", 0, "a"], "nobody"), r"'comparisons.pairs\[0\].a'"),
        (_edit(["comparisons", "pairs", 0, "p_value"], 1.5), r"pairs\[0\].p_value'"),
        (_edit(["comparisons", "pairs", 0, "p_adjusted"], _DELETE), r"pairs\[0\].p_adjusted'"),
        (_edit(["comparisons", "pairs", 0, "difference"], 2.0), "between -1 and 1"),
        (_edit(["comparisons", "pairs", 0, "significant"], "no"), "true or false"),
        (
            _edit(["results", 0, "counts_by_run", "TS_001", "ribosome"], [1, 2]),
            r"'results\[0\].counts_by_run.TS_001.ribosome': expected a list \[tp, fp, fn\]",
        ),
        (
            _edit(["results", 0, "counts_by_run", "TS_001", "ribosome"], [1, 2.5, 3]),
            "3 integers",
        ),
        (_edit(["results", 0, "counts_by_run"], [1]), r"'results\[0\].counts_by_run'"),
    ],
)
def test_malformed_comparisons_are_refused(written, tmp_path, edit, message):
    document = json.loads(written.read_text())
    edit(document)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SchemaError, match=message):
        read_results(path)


def test_counts_by_run_sum_to_the_entry_counts(written):
    results = read_results(written)
    oracle = next(e for e in results["results"] if e["picker"] == "oracle")
    counts = entry_counts(oracle)
    assert np.all(counts.fp == 0) and np.all(counts.fn == 0)  # the oracle finds everything
    assert counts.tp.sum() == sum(info["tp"] for info in oracle["classes"].values())


def test_provenance_names_the_cpu_and_torch_kernels(monkeypatch):
    import sys
    import types

    from topcup_bench.results import cpu_model, provenance

    fake = types.SimpleNamespace(
        backends=types.SimpleNamespace(
            cpu=types.SimpleNamespace(get_cpu_capability=lambda: "AVX512")
        )
    )
    monkeypatch.setitem(sys.modules, "torch", fake)
    assert cpu_model().endswith("(torch: AVX512)")
    assert provenance({})["cpu_model"] == cpu_model()
