"""An independent, deliberately naive implementation of metric.md §3.

Written for clarity, not speed, and on purpose in the shape of the official
scorer: both whole tables are filtered with pandas for every (experiment,
particle type) pair, and coverage is found with scipy's KD-tree
``query_ball_tree`` as the official scorer does.  It shares no code with
``topcup_bench.metrics``; the tests compare the two bit for bit.
"""

from __future__ import annotations

from scipy.spatial import KDTree

RADII = {
    "apo-ferritin": 60,
    "beta-amylase": 65,
    "beta-galactosidase": 90,
    "ribosome": 150,
    "thyroglobulin": 130,
    "virus-like-particle": 135,
}
WEIGHTS = {
    "apo-ferritin": 1,
    "beta-amylase": 0,
    "beta-galactosidase": 2,
    "ribosome": 1,
    "thyroglobulin": 2,
    "virus-like-particle": 1,
}


class NaiveMetricError(Exception):
    pass


def naive_counts(reference_points, reference_radius, candidate_points):
    """TP, FP, FN of one (experiment, type) group by coverage counting."""
    if len(reference_points) == 0:
        return 0, len(candidate_points), 0
    if len(candidate_points) == 0:
        return 0, 0, len(reference_points)
    reference_tree = KDTree(reference_points)
    candidate_tree = KDTree(candidate_points)
    hits = candidate_tree.query_ball_tree(reference_tree, r=reference_radius)
    covered = set()
    for reference_indices in hits:
        covered.update(reference_indices)
    tp = len(covered)
    return tp, len(candidate_points) - tp, len(reference_points) - tp


def naive_score(
    solution, submission, *, radii=RADII, weights=WEIGHTS, beta=4.0, distance_multiplier=0.5
):
    """Return (score, {type: (tp, fp, fn)}) exactly as metric.md §3 describes."""
    radius = {name: r * distance_multiplier for name, r in radii.items()}
    experiments = set(solution["experiment"].unique())
    submission = submission.loc[submission["experiment"].isin(experiments)]
    if not set(submission["particle_type"].unique()).issubset(set(weights)):
        raise NaiveMetricError("Unrecognized particle_type")
    if solution.duplicated(subset=["experiment", "x", "y", "z"]).sum() != 0:
        raise NaiveMetricError("duplicate ground truth")
    types = solution["particle_type"].unique()
    totals = {t: [0, 0, 0] for t in types}
    for experiment in experiments:
        for particle_type in types:
            select = (solution["experiment"] == experiment) & (
                solution["particle_type"] == particle_type
            )
            reference = solution.loc[select, ["x", "y", "z"]].to_numpy()
            select = (submission["experiment"] == experiment) & (
                submission["particle_type"] == particle_type
            )
            candidates = submission.loc[select, ["x", "y", "z"]].to_numpy()
            tp, fp, fn = naive_counts(reference, radius[particle_type], candidates)
            totals[particle_type][0] += tp
            totals[particle_type][1] += fp
            totals[particle_type][2] += fn
    aggregate = 0.0
    for particle_type, (tp, fp, fn) in totals.items():
        precision = tp / (tp + fp) if tp + fp > 0 else 0
        recall = tp / (tp + fn) if tp + fn > 0 else 0
        if precision + recall > 0:
            fbeta = (1 + beta**2) * (precision * recall) / (beta**2 * precision + recall)
        else:
            fbeta = 0.0
        aggregate += fbeta * weights.get(particle_type, 1.0)
    aggregate = aggregate / sum(weights.values())
    return aggregate, {t: tuple(v) for t, v in totals.items()}
