"""Class colours: every pair of the six competition classes stays clearly distinct."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage.color import rgb2lab

from topcup_bench.palette import CLASS_COLOURS, FALLBACK_COLOUR, class_colour, rgba
from topcup_bench.types import COMPETITION_CLASSES

# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB
_DEUTERANOPIA = np.array(
    [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ]
)
_PROTANOPIA = np.array(
    [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ]
)


def _srgb(hex_colour: str) -> np.ndarray:
    return np.array(rgba(hex_colour)[:3], dtype=float) / 255


def _simulated(srgb: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(matrix @ linear, 0.0, 1.0)
    return np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)


def _delta_e(a: np.ndarray, b: np.ndarray) -> float:
    """CIE76 colour difference of two sRGB colours in [0, 1]."""
    lab = rgb2lab(np.stack([a, b])[None])[0]
    return float(np.linalg.norm(lab[0] - lab[1]))


def test_delta_e_of_known_colours():
    assert _delta_e(np.zeros(3), np.ones(3)) == pytest.approx(100.0, abs=0.01)  # black, white
    assert _delta_e(_srgb("#FF0000"), _srgb("#FF0000")) == 0.0


def test_every_competition_class_has_its_own_colour():
    assert set(CLASS_COLOURS) == set(COMPETITION_CLASSES.names)
    assert class_colour("ribosome") == CLASS_COLOURS["ribosome"] == "#F0E442"
    assert class_colour("not-a-competition-class") == FALLBACK_COLOUR


@pytest.mark.parametrize(
    ("vision", "limit"), [(None, 55.0), (_DEUTERANOPIA, 15.0), (_PROTANOPIA, 15.0)]
)
def test_every_pair_of_class_colours_is_distinct(vision, limit):
    colours = {name: _srgb(hex_colour) for name, hex_colour in CLASS_COLOURS.items()}
    if vision is not None:
        colours = {name: _simulated(rgb, vision) for name, rgb in colours.items()}
    closest = min(
        (_delta_e(colours[a], colours[b]), a, b) for a, b in itertools.combinations(colours, 2)
    )
    assert closest[0] > limit, closest


def test_the_pairs_that_used_to_look_alike_are_now_far_apart():
    """Beta-amylase vs thyroglobulin and apo-ferritin vs VLP were ΔE 26 and 33 before."""
    for a, b in (("beta-amylase", "thyroglobulin"), ("apo-ferritin", "virus-like-particle")):
        assert _delta_e(_srgb(CLASS_COLOURS[a]), _srgb(CLASS_COLOURS[b])) > 55.0


def test_the_fallback_colour_differs_from_every_class_colour():
    fallback = _srgb(FALLBACK_COLOUR)
    assert min(_delta_e(fallback, _srgb(c)) for c in CLASS_COLOURS.values()) > 20.0
