"""Precision, recall and F-beta from counts, with the official scorer's arithmetic.

The operations and their order follow the official Kaggle scorer so that the
canonical score is reproduced bit for bit:

* ``precision = tp / (tp + fp)`` (0 when the denominator is 0),
* ``recall = tp / (tp + fn)`` (0 likewise),
* ``fbeta = (1 + beta**2) * (precision * recall) / (beta**2 * precision + recall)``
  (0 when ``precision + recall`` is 0),
* ``score = sum(weight_t * fbeta_t for t in ground-truth types, in order of
  first appearance) / sum(all weights)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["precision_recall_fbeta", "precision_recall_fbeta_arrays", "weighted_score"]


def precision_recall_fbeta(tp: int, fp: int, fn: int, beta: float) -> tuple[float, float, float]:
    """Precision, recall and F-beta of one class from its pooled counts.

    Parameters
    ----------
    tp, fp, fn : int
        Pooled counts (``fp`` may be negative under the competition rule).
    beta : float
        Recall weight (4 in the competition).

    Returns
    -------
    tuple of float
        ``(precision, recall, fbeta)``.

    Examples
    --------
    >>> precision_recall_fbeta(8, 2, 0, 4.0)
    (0.8, 1.0, 0.9855072463768116)
    >>> precision_recall_fbeta(0, 0, 5, 4.0)
    (0.0, 0.0, 0.0)
    """
    tp, fp, fn = int(tp), int(fp), int(fn)
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    if precision + recall > 0:
        fbeta = (1 + beta**2) * (precision * recall) / (beta**2 * precision + recall)
    else:
        fbeta = 0.0
    return float(precision), float(recall), float(fbeta)


def precision_recall_fbeta_arrays(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`precision_recall_fbeta` over arrays of counts (same arithmetic).

    Parameters
    ----------
    tp, fp, fn : ndarray of int, any common shape
    beta : float

    Returns
    -------
    tuple of ndarray of float64
        Precision, recall and F-beta, each of the input shape.
    """
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    fn = np.asarray(fn, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        predicted, actual = tp + fp, tp + fn
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1.0), 0.0)
        recall = np.where(actual > 0, tp / np.where(actual > 0, actual, 1.0), 0.0)
        b2 = beta**2
        denominator = b2 * precision + recall
        fbeta = np.where(
            precision + recall > 0,
            (1 + b2) * (precision * recall) / np.where(denominator != 0, denominator, 1.0),
            0.0,
        )
    return precision, recall, fbeta


def weighted_score(fbeta_by_class: Iterable[tuple[float, float]], total_weight: float) -> float:
    """Aggregate score: the weighted sum of per-class F-beta over the sum of all weights.

    Parameters
    ----------
    fbeta_by_class : iterable of (fbeta, weight)
        In the official summation order (ground-truth types by first appearance).
    total_weight : float
        Sum of the weights of *all* classes, including those absent from the truth.

    Returns
    -------
    float

    Examples
    --------
    >>> weighted_score([(1.0, 1.0), (0.5, 2.0)], 7.0)
    0.2857142857142857
    """
    aggregate = 0.0
    for fbeta, weight in fbeta_by_class:
        aggregate += fbeta * weight
    return float(aggregate / total_weight) if total_weight > 0 else 0.0
