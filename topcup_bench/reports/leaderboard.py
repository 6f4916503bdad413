"""The leaderboard of one results document: one DataFrame, rendered as Markdown or a rich table.

Rows are pickers sorted by score (failed pickers last); columns: the score at
the picker's own thresholds with its bootstrap interval, the score at the best
thresholds ("optimistic": chosen on the same runs), per-class F-beta (classes
ordered by size; weight-0 classes marked), precision and recall weighted like
the score, TP/FP/FN summed over the classes, seconds per tomogram, the training
budget and status.  The "group" column and the "not significantly different"
flags come from the document's paired comparisons (``comparisons``: paired
bootstrap and permutation test over runs, Holm-adjusted); the marginal
intervals are shown too but do not decide ties.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

__all__ = [
    "class_columns",
    "detectable_difference_line",
    "leaderboard_explanation",
    "leaderboard_frame",
    "leaderboard_table",
    "render_leaderboard_markdown",
    "render_leaderboard_rich",
    "results_warnings",
]


def leaderboard_frame(results: dict[str, Any]) -> pd.DataFrame:
    """Compute the leaderboard table of a results document (computed once, rendered many ways).

    Parameters
    ----------
    results : dict
        A results document (``results.json``, schema version 3).

    Returns
    -------
    pandas.DataFrame
        One row per picker, best first (failed pickers last). Columns: ``rank``,
        ``picker``, ``score``, ``ci_low``, ``ci_high`` (bootstrap 95 % interval),
        ``group`` (1-based index of the picker's group in ``comparisons.groups``:
        pickers of one group are not significantly different from the group's
        best; missing for failed pickers or a document without comparisons),
        ``score_best`` (optimistic), one F-beta column per class (by radius;
        ``"<name> (w0)"`` for weight-0 classes), ``precision`` and ``recall``
        (per-class values at the picker's own thresholds, weighted like the
        score: ``sum(w_c * p_c) / sum(w_c)`` over all classes), ``tp``, ``fp``,
        ``fn`` (summed over all classes, weight-0 included), ``s_per_tomogram``
        (median pick seconds), ``fit_s``, ``training_budget`` (the card's
        ``budget`` parameter; ``"fit"`` for a picker fitted, or trainable, without
        one; ``"-"`` for untrained pickers), ``thresholds`` (how the operating point
        was set: the entry's ``threshold_source``), ``status`` and ``flags`` ("not
        significantly different from X (p=...)" with the Holm-adjusted p-value of
        the pair, for a picker in the same group as the one ranked above it, X
        being the group's best; one-to-one differences; dropped picks). Values of
        failed pickers are missing.
    """
    classes = sorted(
        results["dataset"]["classes"].items(),
        key=lambda item: (item[1]["radius_angstrom"], item[0]),
    )
    comparisons = results.get("comparisons") or {}
    group_of = {
        name: index
        for index, group in enumerate(comparisons.get("groups") or [], start=1)
        for name in group
    }
    rows = []
    for entry in results["results"]:
        ok = entry["status"] == "ok"
        row: dict[str, Any] = {
            "picker": entry["picker"],
            "score": entry.get("score") if ok else None,
            "ci_low": entry["score_interval"]["low"] if ok else None,
            "ci_high": entry["score_interval"]["high"] if ok else None,
            "group": group_of.get(entry["picker"]) if ok else None,
            "score_best": entry.get("score_best") if ok else None,
        }
        for name, info in classes:
            label = f"{name} (w0)" if info["weight"] == 0 else name
            row[label] = entry["classes"][name]["fbeta"] if ok else None
        row.update(_pooled(entry, classes) if ok else dict.fromkeys(_POOLED))
        timings = entry["timings"]
        row["s_per_tomogram"] = timings.get("pick_s_per_tomogram")
        row["fit_s"] = timings.get("fit_s")
        row["training_budget"] = _budget(entry)
        row["thresholds"] = entry.get("threshold_source", "picker default") if ok else None
        row["status"] = entry["status"] if ok else f"failed: {entry.get('error')}"
        row["dropped_picks"] = int((entry.get("dropped") or {}).get("rows", 0))
        row["rule_differences"] = entry.get("rule_differences", 0) if ok else 0
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame[["tp", "fp", "fn", "group"]] = frame[["tp", "fp", "fn", "group"]].astype("Int64")
    frame["_failed"] = frame["score"].isna()
    frame = frame.sort_values(["_failed", "score"], ascending=[True, False], kind="stable")
    frame = frame.drop(columns="_failed").reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    frame["flags"] = _flags(frame, comparisons)
    return frame.drop(columns=["rule_differences", "dropped_picks"])


_POOLED = ("precision", "recall", "tp", "fp", "fn")


def _pooled(entry: dict[str, Any], classes: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Weighted precision and recall (as the score weights F-beta) and summed TP/FP/FN."""
    per_class = [(entry["classes"][name], info["weight"]) for name, info in classes]
    total_weight = sum(weight for _, weight in per_class)
    pooled: dict[str, Any] = {}
    for rate in ("precision", "recall"):
        weighted = sum(counts[rate] * weight for counts, weight in per_class)
        pooled[rate] = weighted / total_weight if total_weight > 0 else 0.0
    for count in ("tp", "fp", "fn"):
        pooled[count] = int(sum(counts[count] for counts, _ in per_class))
    return pooled


def _budget(entry: dict[str, Any]) -> str:
    """The card's ``budget`` parameter; "fit" for a fitted (or trainable) picker without one.

    A trainable picker whose picks all came from the cache was not fitted in
    this run (no fit time) but its picks still come from a fitted model.
    """
    card = entry.get("card") or {}
    budget = card.get("parameters", {}).get("budget")
    if budget is not None:
        return str(budget)
    fitted = entry["timings"].get("fit_s") is not None or card.get("trainable", False)
    return "fit" if fitted else "-"


def _flags(frame: pd.DataFrame, comparisons: dict[str, Any]) -> list[str]:
    """Paired ties (same group as the picker above), one-to-one differences, dropped picks.

    A picker in the same group as the one ranked just above it is "not
    significantly different from" its group's best picker (the one it was
    tested against), with the Holm-adjusted p-value of that pair.
    """
    groups = comparisons.get("groups") or []
    adjusted = {
        frozenset((pair["a"], pair["b"])): pair.get("p_adjusted")
        for pair in comparisons.get("pairs") or []
    }
    flags = []
    for i, row in frame.iterrows():
        marks = []
        group = row["group"]
        if i > 0 and pd.notna(group) and frame.loc[i - 1, "group"] == group:
            best = groups[int(group) - 1][0]
            if best == row["picker"]:  # scores level to the last bit: the group's order differs
                best = frame.loc[i - 1, "picker"]
            p = adjusted.get(frozenset((best, row["picker"])))
            shown = f" (p={p:.2f})" if isinstance(p, (int, float)) else ""
            marks.append(f"not significantly different from {best}{shown}")
        if row["rule_differences"]:
            marks.append(f"one-to-one differs in {int(row['rule_differences'])} group(s)")
        if row["dropped_picks"]:
            marks.append(f"{int(row['dropped_picks'])} picks dropped (runs not scored)")
        flags.append("; ".join(marks))
    return flags


def class_columns(frame: pd.DataFrame) -> list[str]:
    """The per-class F-beta columns of a leaderboard frame, in display order (by size)."""
    return [c for c in frame.columns if c not in _FIXED]


def _cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    classes = class_columns(frame)
    header = [
        "rank",
        "picker",
        "score [95% CI]",
        "group",
        "best-threshold score (optimistic)",
        *classes,
        "weighted precision",
        "weighted recall",
        "TP",
        "FP",
        "FN",
        "s / tomogram",
        "fit s",
        "training budget",
        "thresholds",
        "status",
        "flags",
    ]
    rows = []
    for _, row in frame.iterrows():
        if pd.isna(row["score"]):
            score = best = "—"
        else:
            score = f"{row['score']:.4f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
            best = f"{row['score_best']:.4f}"
        rows.append(
            [
                str(row["rank"]),
                row["picker"],
                score,
                _number(row["group"], ".0f"),
                best,
                *(_number(row[c]) for c in classes),
                _number(row["precision"]),
                _number(row["recall"]),
                *(_number(row[c], ".0f") for c in ("tp", "fp", "fn")),
                _number(row["s_per_tomogram"], ".2f"),
                _number(row["fit_s"], ".1f"),
                row["training_budget"],
                row["thresholds"] if isinstance(row["thresholds"], str) else "—",
                row["status"],
                row["flags"],
            ]
        )
    return header, rows


_FIXED = {
    "flags",
    "group",
    "rank",
    "picker",
    "score",
    "ci_low",
    "ci_high",
    "score_best",
    *_POOLED,
    "s_per_tomogram",
    "fit_s",
    "training_budget",
    "thresholds",
    "status",
}


def leaderboard_table(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The leaderboard's readable header ("score [95% CI]", ...) and formatted cells."""
    return _cells(frame)


def leaderboard_explanation(results: dict[str, Any]) -> str:
    """The paragraph under the leaderboard: the metric and what each column means."""
    metric = results["metric"]
    return (
        f"Metric: F-beta (beta {metric['beta']:g}), rule {metric['rule']}, match radius "
        f"{metric['distance_multiplier']:g} x R, weighted over all classes; per-class columns are "
        "F-beta at each picker's own thresholds; (w0) marks weight-0 classes. The best-threshold "
        "score chooses thresholds on the same runs (optimistic). Precision and recall are "
        "weighted over the classes like the score; TP, FP and FN are summed over all classes "
        "(own thresholds). Training budget: the picker's budget parameter, 'fit' for a trained "
        "picker without one, '-' when untrained. Thresholds: how each picker's operating point "
        "was set (out of sample: on held-out train runs or by cross-validation over runs)."
    )


def render_leaderboard_markdown(frame: pd.DataFrame, results: dict[str, Any]) -> str:
    """Markdown leaderboard with a caption naming the dataset, split and metric."""
    header, rows = _cells(frame)
    dataset = results["dataset"]
    lines = [
        f"# Leaderboard: {dataset.get('spec') or dataset['identity'].get('name')} "
        f"({dataset['split']} split, "
        f"{len(dataset['runs'])} runs)",
        "",
        leaderboard_explanation(results),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    resolution = detectable_difference_line(results)
    if resolution:
        lines += ["", resolution]
    notes = results_warnings(results)
    if notes:
        lines += ["", "Warnings:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def detectable_difference_line(results: dict[str, Any], *, short: bool = False) -> str | None:
    """What the benchmark can resolve: the minimal detectable difference, one sentence.

    None for a document without ``comparisons`` (or with no successful picker).
    ``short`` gives the terminal's wording (no method sentence).
    """
    comparisons = results.get("comparisons")
    if not comparisons or not comparisons.get("groups"):
        return None
    n_runs = comparisons.get("n_experiments", len(results["dataset"]["runs"]))
    alpha = comparisons.get("alpha", 0.05)
    power = comparisons.get("power", 0.8)
    mdd = comparisons.get("minimal_detectable_difference")
    smallest = comparisons.get("smallest_p_value")
    lead = (
        "minimal detectable difference of the score"
        if short
        else "Minimal detectable difference of the weighted score"
    )
    if mdd is None and isinstance(smallest, (int, float)) and smallest >= alpha:
        return (
            f"{lead} on these {n_runs} runs: none (with {n_runs} runs the paired permutation "
            f"test's smallest possible p-value is {smallest:.3g} >= alpha {alpha:g}, so no "
            "difference can be significant; score more runs, e.g. --dataset phantom:paper)."
        )
    if mdd is None:
        return f"{lead} on these {n_runs} runs: not available (fewer than 2 runs to resample)."
    how = "paired bootstrap" if comparisons.get("pairs") else "one picker's bootstrap x sqrt(2)"
    if short:
        return f"{lead} on these {n_runs} runs: {mdd:.3f} ({how}, {power * 100:g} % power)"
    return (
        f"{lead} on these {n_runs} runs: {mdd:.3f} ({how}, {power * 100:g} % power, alpha "
        f"{alpha:g}). Groups and the 'not significantly different' flags come from a paired "
        "permutation test over runs (Holm-adjusted p)."
    )


def results_warnings(results: dict[str, Any]) -> list[str]:
    """What the leaderboard's numbers leave out, one line each.

    Scored runs without ground truth (their picks are not scored), picks each
    picker gave for runs that are not scored (counted per run name as
    written, ``repr`` so that trailing spaces show), and pickers scored at
    their default thresholds because nothing could be held out.
    """
    notes = []
    missing = results["dataset"].get("runs_without_truth") or []
    if missing:
        notes.append(
            f"{len(missing)} scored run(s) have no ground-truth picks and are not scored: "
            f"{_shown(missing)}"
        )
    for entry in results["results"]:
        dropped = entry.get("dropped") or {}
        if dropped.get("rows"):
            runs = ", ".join(f"{name!r}: {n}" for name, n in list(dropped["runs"].items())[:8])
            more = " ..." if len(dropped["runs"]) > 8 else ""
            notes.append(
                f"{entry['picker']}: {dropped['rows']} of its {dropped.get('of', '?')} picks name "
                f"runs that are not scored and were dropped ({{{runs}{more}}})"
            )
    sources = {e.get("threshold_source", "") for e in results["results"]}
    for source in sorted(s for s in sources if "no cross-validation possible" in s):
        notes.append(f"thresholds not chosen out of sample: {source}")
    return notes


def _shown(names: list[str], limit: int = 8) -> str:
    more = f" ... {len(names) - limit} more" if len(names) > limit else ""
    return repr(list(names[:limit])) + more


def render_leaderboard_rich(frame: pd.DataFrame, title: str) -> Table:
    """The leaderboard as a rich table for the terminal.

    When every scored picker's thresholds were set the same way, that is said
    once in the caption instead of in a column repeated on every row.
    """
    header, rows = _cells(frame)
    column = header.index("thresholds")
    sources = {cells[column] for cells in rows} - {"—"}  # failed pickers have none
    caption = None
    if len(sources) == 1:
        caption = f"thresholds: {sources.pop()}"
        header = header[:column] + header[column + 1 :]
        rows = [cells[:column] + cells[column + 1 :] for cells in rows]
    table = Table(title=title, caption=caption)
    for name in header:
        table.add_column(name, overflow="fold")
    for cells in rows:
        table.add_row(*cells)
    return table


def _number(value: Any, spec: str = ".4f") -> str:
    return "—" if value is None or pd.isna(value) else format(float(value), spec)
