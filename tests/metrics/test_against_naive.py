"""score_picks equals the naive reference bit for bit on 2,000 random cases."""

from __future__ import annotations

import pytest
from naive_metric import naive_score
from random_cases import random_case

from topcup_bench.metrics import score_picks
from topcup_bench.metrics.grouping import group_picks
from topcup_bench.metrics.matching import find_pairs
from topcup_bench.types import COMPETITION_CLASSES

N_CASES = 2000
CHUNK = 100


@pytest.mark.parametrize("start", range(0, N_CASES, CHUNK))
def test_random_cases_match_naive_bit_for_bit(start):
    for seed in range(start, start + CHUNK):
        truth, picks = random_case(seed)
        expected_score, expected_counts = naive_score(truth, picks)
        result = score_picks(truth, picks)
        got = {name: (c.tp, c.fp, c.fn) for name, c in result.classes.items() if c.scored}
        assert got == expected_counts, f"seed {seed}"
        assert result.score == expected_score, (
            f"seed {seed}: {result.score!r} != {expected_score!r}"
        )


@pytest.mark.parametrize("multiplier", [0.25, 0.8, 1.0])
def test_other_distance_multipliers_match_naive(multiplier):
    for seed in range(40):
        truth, picks = random_case(seed)
        expected, _ = naive_score(truth, picks, distance_multiplier=multiplier)
        assert score_picks(truth, picks, distance_multiplier=multiplier).score == expected


def test_kdtree_path_finds_the_same_pairs_as_brute_force():
    for seed in range(60):
        truth, picks = random_case(seed)
        grouped = group_picks(truth, picks, COMPETITION_CLASSES)
        radius_sq = grouped.match_radius_sq(0.5)
        brute = find_pairs(grouped, radius_sq)
        tree = find_pairs(grouped, radius_sq, brute_force_limit=0)
        assert brute.gt.tolist() == tree.gt.tolist()
        assert brute.pred.tolist() == tree.pred.tolist()
        assert brute.d2.tolist() == tree.d2.tolist()
