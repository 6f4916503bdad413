"""Deterministic, nearly uniform sets of 3-D rotations for angular searches.

:func:`uniform_rotations` uses the super-Fibonacci spiral of Alexa (CVPR 2022,
"Super-Fibonacci Spirals: Fast, Low-Discrepancy Sampling of SO(3)"): ``n``
unit quaternions spread almost evenly over SO(3) for any ``n``, with no
random state, so a picker's angular set depends only on ``n``.
"""

from __future__ import annotations

import math

import numpy as np

from topcup_bench.errors import InputError

__all__ = ["super_fibonacci_quaternions", "quaternions_to_matrices", "uniform_rotations"]

#: Irrational steps of the super-Fibonacci spiral (φ = √2, ψ the root of ψ⁴ = ψ + 4).
_PHI = math.sqrt(2.0)
_PSI = 1.533751168755204288118041


def super_fibonacci_quaternions(n: int) -> np.ndarray:
    """``n`` unit quaternions ``(w, x, y, z)`` spread nearly uniformly over SO(3).

    Parameters
    ----------
    n : int
        Number of rotations (≥ 1).

    Returns
    -------
    numpy.ndarray, float64, shape (n, 4)
        Unit quaternions (``q`` and ``-q`` are the same rotation; each rotation
        appears once).

    Examples
    --------
    >>> q = super_fibonacci_quaternions(24)
    >>> q.shape, bool(np.allclose(np.linalg.norm(q, axis=1), 1.0))
    ((24, 4), True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError("rotations", f"the number of rotations must be an integer ≥ 1, got {n!r}")
    s = np.arange(int(n), dtype=np.float64) + 0.5
    t = s / n
    r, big_r = np.sqrt(t), np.sqrt(1.0 - t)
    alpha = 2.0 * np.pi * s / _PHI
    beta = 2.0 * np.pi * s / _PSI
    q = np.stack(
        [r * np.sin(alpha), r * np.cos(alpha), big_r * np.sin(beta), big_r * np.cos(beta)], axis=1
    )
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (x-y-z convention) of unit quaternions ``(w, x, y, z)``.

    Parameters
    ----------
    q : numpy.ndarray, shape (n, 4)

    Returns
    -------
    numpy.ndarray, float64, shape (n, 3, 3)
    """
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def uniform_rotations(n: int) -> np.ndarray:
    """``n`` deterministic rotation matrices spread nearly uniformly over SO(3).

    ``n = 1`` gives the identity.

    Returns
    -------
    numpy.ndarray, float64, shape (n, 3, 3)
        Rotations mapping a particle frame to the tomogram frame (x-y-z).
    """
    if n == 1:
        return np.eye(3)[None]
    return quaternions_to_matrices(super_fibonacci_quaternions(n))
