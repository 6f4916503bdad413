"""Within-radius pairs of ground truth and predictions, and the two matching rules.

Every statistic of :mod:`topcup_bench.metrics` derives from one list of
(ground-truth point, prediction) pairs whose squared distance is at most the
squared match radius.  Squared distances are computed exactly as the
official scorer's KD-tree does: in float64, ``(dx*dx + dy*dy) + dz*dz``,
compared with ``r*r`` using ``<=``; the pairs never cross (experiment, class)
groups, so no coordinate offsets change the rounding.

* competition rule (coverage): a ground-truth point is a true positive when
  at least one prediction lies within r; one prediction may cover two points.
* one-to-one rule: maximum bipartite matching on the within-r graph
  (``scipy.sparse.csgraph.maximum_bipartite_matching``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from topcup_bench.metrics.grouping import GroupedPicks

__all__ = [
    "Pairs",
    "find_pairs",
    "squared_distances",
    "coverage_true_positives",
    "one_to_one_true_positives",
]

#: Groups with more (ground truth × prediction) pairs than this use a KD-tree
#: to find candidate pairs, then re-check them exactly; smaller groups are
#: compared by brute force.
BRUTE_FORCE_LIMIT = 1 << 20

# Relative and absolute slack for the KD-tree candidate search; candidates are
# then filtered with the exact squared distance, so the slack only has to be
# larger than the tree's own rounding.
_CANDIDATE_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class Pairs:
    """Pairs (ground-truth point, prediction) within the match radius.

    Indices refer to the sorted arrays of a :class:`GroupedPicks`.

    Attributes
    ----------
    gt, pred : ndarray of int64, shape (M,)
        Ground-truth and prediction indices of each pair.
    d2 : ndarray of float64, shape (M,)
        Squared distance of each pair, Å².
    """

    gt: np.ndarray
    pred: np.ndarray
    d2: np.ndarray

    def within(self, radius_sq_of_pair: np.ndarray) -> Pairs:
        """Return the pairs with ``d2 <= radius_sq_of_pair`` (one radius² per pair)."""
        keep = self.d2 <= radius_sq_of_pair
        return Pairs(self.gt[keep], self.pred[keep], self.d2[keep])


def squared_distances(gt_xyz: np.ndarray, pred_xyz: np.ndarray) -> np.ndarray:
    """All squared distances between two point sets, as the official scorer computes them.

    Parameters
    ----------
    gt_xyz : ndarray, shape (G, 3)
    pred_xyz : ndarray, shape (C, 3)

    Returns
    -------
    ndarray, shape (G, C)
        ``(dx*dx + dy*dy) + dz*dz`` in float64, Å².

    Examples
    --------
    >>> squared_distances(np.zeros((1, 3)), np.array([[3.0, 4.0, 12.0]]))
    array([[169.]])
    """
    return squared_distances_of_pairs(gt_xyz[:, None, :], pred_xyz[None, :, :])


def squared_distances_of_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distance ``(dx*dx + dy*dy) + dz*dz`` of broadcastable point arrays ``(..., 3)``."""
    d = a[..., 0] - b[..., 0]
    d2 = d * d
    d = a[..., 1] - b[..., 1]
    d2 += d * d
    d = a[..., 2] - b[..., 2]
    d2 += d * d
    return d2


def find_pairs(
    grouped: GroupedPicks,
    radius_sq: np.ndarray,
    *,
    brute_force_limit: int = BRUTE_FORCE_LIMIT,
) -> Pairs:
    """Find every (ground truth, prediction) pair within the match radius of its class.

    Parameters
    ----------
    grouped : GroupedPicks
        Grouped tables.
    radius_sq : ndarray, shape (n_classes,)
        Squared match radius per class, Å² (see :meth:`GroupedPicks.match_radius_sq`).
    brute_force_limit : int
        Groups with more point pairs than this use a KD-tree candidate search.

    Returns
    -------
    Pairs
        Sorted by ground-truth index, then prediction index.
    """
    n_classes = len(grouped.classes)
    gt_counts = np.diff(grouped.gt_offsets)
    pred_counts = np.diff(grouped.pred_offsets)
    chunks_gt: list[np.ndarray] = []
    chunks_pred: list[np.ndarray] = []
    chunks_d2: list[np.ndarray] = []
    for group in np.flatnonzero((gt_counts > 0) & (pred_counts > 0)):
        g0, g1 = grouped.gt_offsets[group], grouped.gt_offsets[group + 1]
        p0, p1 = grouped.pred_offsets[group], grouped.pred_offsets[group + 1]
        r2 = radius_sq[group % n_classes]
        gt_xyz, pred_xyz = grouped.gt_xyz[g0:g1], grouped.pred_xyz[p0:p1]
        if (g1 - g0) * (p1 - p0) <= brute_force_limit:
            gi, pi, d2 = _pairs_brute_force(gt_xyz, pred_xyz, r2)
        else:
            gi, pi, d2 = _pairs_kdtree(gt_xyz, pred_xyz, r2)
        chunks_gt.append(gi + g0)
        chunks_pred.append(pi + p0)
        chunks_d2.append(d2)
    if not chunks_gt:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty.copy(), np.zeros(0))
    return Pairs(
        np.concatenate(chunks_gt).astype(np.int64),
        np.concatenate(chunks_pred).astype(np.int64),
        np.concatenate(chunks_d2),
    )


def coverage_true_positives(grouped: GroupedPicks, pairs: Pairs) -> np.ndarray:
    """True positives per group under the competition (coverage) rule.

    Returns
    -------
    ndarray of int64, shape (n_groups,)
        Number of ground-truth points with at least one prediction within r.
    """
    covered = np.zeros(len(grouped.gt_xyz), dtype=bool)
    covered[pairs.gt] = True
    return np.bincount(grouped.gt_group[covered], minlength=grouped.n_groups).astype(np.int64)


def one_to_one_true_positives(grouped: GroupedPicks, pairs: Pairs) -> np.ndarray:
    """True positives per group under maximum bipartite matching.

    Parameters
    ----------
    grouped : GroupedPicks
    pairs : Pairs
        Pairs within the match radius.

    Returns
    -------
    ndarray of int64, shape (n_groups,)
        Size of a maximum matching in every group.  Equal to the coverage
        count wherever no prediction lies within r of two points, so the
        matching is solved only in the other groups.
    """
    tp = coverage_true_positives(grouped, pairs)
    pred_degree = np.bincount(pairs.pred, minlength=len(grouped.pred_xyz))
    pred_group = grouped.pred_group
    for group in np.unique(pred_group[pred_degree > 1]):
        g0, g1 = grouped.gt_offsets[group], grouped.gt_offsets[group + 1]
        in_group = (pairs.gt >= g0) & (pairs.gt < g1)
        p0 = grouped.pred_offsets[group]
        n_pred = grouped.pred_offsets[group + 1] - p0
        graph = csr_matrix(
            (
                np.ones(in_group.sum(), dtype=np.int8),
                (pairs.gt[in_group] - g0, pairs.pred[in_group] - p0),
            ),
            shape=(g1 - g0, n_pred),
        )
        matching = maximum_bipartite_matching(graph, perm_type="column")
        tp[group] = int((matching >= 0).sum())
    return tp


def _pairs_brute_force(
    gt_xyz: np.ndarray, pred_xyz: np.ndarray, r2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # cdist accumulates (0 + dx*dx) + dy*dy + dz*dz in float64, bit-identical to
    # squared_distances and about twice as fast on small groups; the tests check
    # the identity against squared_distances and the KD-tree of the official scorer.
    d2 = cdist(gt_xyz, pred_xyz, "sqeuclidean")
    gi, pi = np.nonzero(d2 <= r2)
    return gi, pi, d2[gi, pi]


def _pairs_kdtree(
    gt_xyz: np.ndarray, pred_xyz: np.ndarray, r2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    search_radius = float(np.sqrt(r2)) * (1.0 + _CANDIDATE_SLACK) + _CANDIDATE_SLACK
    candidates = cKDTree(gt_xyz).sparse_distance_matrix(
        cKDTree(pred_xyz), search_radius, output_type="ndarray"
    )
    gi = candidates["i"].astype(np.int64)
    pi = candidates["j"].astype(np.int64)
    d2 = squared_distances_of_pairs(gt_xyz[gi], pred_xyz[pi])
    keep = d2 <= r2
    order = np.lexsort((pi[keep], gi[keep]))
    return gi[keep][order], pi[keep][order], d2[keep][order]
