"""The "Methods" paragraph of a report, ready to paste into a paper.

Built from one results document alone (no cache, no data files): the dataset
and its identity digest, the split with its runs and ground-truth particles per
class, how each picker's thresholds were set, the metric, the bootstrap, the
paired comparisons when the document has them, and the software and hardware
recorded in its provenance.
"""

from __future__ import annotations

from typing import Any

__all__ = ["methods_paragraph"]

#: Packages named in the software sentence, in this order, when the provenance records them.
_PACKAGES = ("numpy", "scipy", "pandas", "scikit-learn", "scikit-image", "copick", "zarr")
_DEEP_LEARNING = ("torch", "monai")


def methods_paragraph(results: dict[str, Any]) -> str:
    """One paragraph describing how the numbers of ``results`` were obtained.

    Parameters
    ----------
    results : dict
        A results document (``results.json``); ``comparisons`` and the
        provenance's ``cpu_model`` are used when present.

    Returns
    -------
    str
        Plain sentences, no Markdown.

    Examples
    --------
    >>> document = {
    ...     "dataset": {"spec": "phantom:tiny", "identity": {"digest": "66a2394b930cbe73c3"},
    ...                 "split": "test", "runs": ["TS_3"], "train_runs": [], "tune_runs": [],
    ...                 "classes": {"ribosome": {"radius_angstrom": 150.0, "weight": 1.0}}},
    ...     "metric": {"rule": "competition", "beta": 4.0, "distance_multiplier": 0.5,
    ...                "bootstrap": {"n_resamples": 100, "seed": 0, "confidence": 0.95}},
    ...     "results": [], "provenance": {"topcup_bench_version": "0.1.0"}}
    >>> methods_paragraph(document)[:94]
    'Pickers were evaluated with topcup-bench 0.1.0 on the dataset phantom:tiny (identity digest 66'
    """
    sentences = [
        _dataset(results),
        _split(results),
        _thresholds(results),
        _metric(results),
        _bootstrap(results),
        _comparisons(results),
        _software(results),
        _hardware(results),
    ]
    return " ".join(s for s in sentences if s)


def _dataset(results: dict[str, Any]) -> str:
    dataset = results["dataset"]
    identity = dataset.get("identity") or {}
    name = dataset.get("spec") or identity.get("name") or "(unnamed)"
    version = (results.get("provenance") or {}).get("topcup_bench_version", "unknown")
    details = [f"identity digest {str(identity.get('digest', 'unknown'))[:12]}"]
    if identity.get("runs"):
        details.append(f"{len(identity['runs'])} runs")
    if identity.get("voxel_size_angstrom"):
        details.append(f"voxel size {identity['voxel_size_angstrom']:g} Å")
    if identity.get("tomo_type"):
        details.append(f"{identity['tomo_type']} tomograms")
    return (
        f"Pickers were evaluated with topcup-bench {version} on the dataset {name} "
        f"({', '.join(details)})."
    )


def _split(results: dict[str, Any]) -> str:
    dataset = results["dataset"]
    runs = list(dataset.get("runs") or [])
    text = f"Scores are computed on the {dataset.get('split', '?')} split: {_runs(runs)}"
    particles = _particles(results)
    if particles:
        counts = ", ".join(f"{name} {n}" for name, n in particles.items())
        text += f", holding {sum(particles.values())} ground-truth particles ({counts})"
    text += "."
    train, tune = dataset.get("train_runs") or [], dataset.get("tune_runs") or []
    if train:
        text += f" Trainable pickers were trained on {_runs(train)}."
    if tune:
        text += f" Thresholds were chosen on {_runs(tune)} held out from training."
    missing = dataset.get("runs_without_truth") or []
    if missing:
        text += f" {len(missing)} scored run(s) had no ground truth and were not scored."
    return text


def _runs(runs: list[str]) -> str:
    shown = ", ".join(runs[:6]) + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")
    return f"{len(runs)} run{'s' if len(runs) != 1 else ''} ({shown})" if runs else "no runs"


def _particles(results: dict[str, Any]) -> dict[str, int]:
    """Ground-truth particles per class in the scored runs: TP + FN of a successful picker."""
    entry = next((e for e in results["results"] if e["status"] == "ok" and e.get("classes")), None)
    if entry is None:
        return {}
    order = sorted(
        results["dataset"]["classes"].items(),
        key=lambda item: (item[1]["radius_angstrom"], item[0]),
    )
    counts = entry["classes"]
    return {
        name: int(counts[name]["tp"] + counts[name]["fn"]) for name, _ in order if name in counts
    }


def _thresholds(results: dict[str, Any]) -> str:
    by_source: dict[str, list[str]] = {}
    for entry in results["results"]:
        if entry["status"] == "ok":
            source = entry.get("threshold_source") or "picker default"
            by_source.setdefault(source, []).append(entry["picker"])
    if not by_source:
        return "No picker completed."
    if len(by_source) == 1:
        return f"Per-class score thresholds of every picker: {next(iter(by_source))}."
    parts = [f"{', '.join(pickers)}: {source}" for source, pickers in by_source.items()]
    return f"Per-class score thresholds were set as follows: {'; '.join(parts)}."


def _metric(results: dict[str, Any]) -> str:
    metric = results["metric"]
    classes = sorted(
        results["dataset"]["classes"].items(),
        key=lambda item: (item[1]["radius_angstrom"], item[0]),
    )
    weights = ", ".join(f"{name} {info['weight']:g}" for name, info in classes)
    return (
        f"The metric is the CZII cryo-ET object identification score ({metric['rule']} rule): "
        "a ground-truth particle is found when a pick of its class lies within "
        f"{metric['distance_multiplier']:g} x its radius; TP, FP and FN are pooled over the runs "
        f"(micro-averaged) per class, F-beta (beta = {metric['beta']:g}) is computed per class, "
        f"and the score is their weighted mean with class weights {weights}."
    )


def _bootstrap(results: dict[str, Any]) -> str:
    bootstrap = results["metric"].get("bootstrap") or {}
    if not bootstrap:
        return ""
    confidence = float(bootstrap.get("confidence", 0.95)) * 100
    return (
        f"{confidence:g} % confidence intervals are percentile intervals of a bootstrap over runs "
        f"({bootstrap.get('n_resamples', '?')} resamples, seed {bootstrap.get('seed', '?')})."
    )


def _comparisons(results: dict[str, Any]) -> str:
    comparisons = results.get("comparisons")
    if not comparisons:
        return ""
    method = str(comparisons.get("method") or "").strip().rstrip(".")
    text = "Pickers were compared pairwise"
    text += f": {method[:1].lower()}{method[1:]}." if method else "."
    adjustment, alpha = comparisons.get("adjustment"), comparisons.get("alpha")
    if adjustment and adjustment.lower() not in method.lower():
        named = {"holm": "Holm"}.get(adjustment, adjustment)
        text += f" p-values are {named}-adjusted over the pairs."
    if alpha is not None and "alpha" not in method.lower():
        text += f" The significance level is alpha = {alpha:g}."
    mdd = comparisons.get("minimal_detectable_difference")
    if isinstance(mdd, (int, float)):
        text += f" The minimal detectable difference of the score is {mdd:.3f}."
    return text


def _software(results: dict[str, Any]) -> str:
    provenance = results.get("provenance") or {}
    packages = provenance.get("packages") or {}
    named = [f"Python {provenance['python']}"] if provenance.get("python") else []
    named += [
        f"{name} {packages[name]}" for name in (*_DEEP_LEARNING, *_PACKAGES) if name in packages
    ]
    commit = provenance.get("git_commit")
    version = provenance.get("topcup_bench_version", "unknown")
    text = f"Software: topcup-bench {version}" + (f" (git {commit[:10]})" if commit else "")
    if named:
        text += ", " + ", ".join(named)
    pickers = [_picker_version(e) for e in results["results"] if e.get("card")]
    if pickers:
        text += f"; pickers {', '.join(pickers)}"
    return text + "."


def _picker_version(entry: dict[str, Any]) -> str:
    card = entry["card"]
    text = entry["picker"]
    details = [f"version {card['version']}"] if card.get("version") else []
    if card.get("tool_version"):
        details.append(str(card["tool_version"]))
    return f"{text} ({', '.join(details)})" if details else text


def _hardware(results: dict[str, Any]) -> str:
    provenance = results.get("provenance") or {}
    parts = []
    if provenance.get("cpu_model"):
        parts.append(str(provenance["cpu_model"]))
    if provenance.get("cpu_count"):
        parts.append(f"{provenance['cpu_count']} CPUs")
    if provenance.get("machine"):
        parts.append(str(provenance["machine"]))
    if provenance.get("platform"):
        parts.append(str(provenance["platform"]))
    if not parts:
        return ""
    text = f"Hardware: {', '.join(parts)}"
    if provenance.get("executor"):
        workers = provenance.get("workers")
        text += f"; executor {provenance['executor']}" + (
            f" with {workers} workers" if workers else ""
        )
    return text + "."
