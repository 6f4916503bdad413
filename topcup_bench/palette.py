"""Colours: the Okabe–Ito palette for series (pickers), and one distinct colour per class.

The six competition classes get colours chosen so that every pair stays far
apart: CIE76 colour difference (ΔE*ab) above 55 for normal vision and above 15
under simulated deuteranopia and protanopia (Machado et al. 2009, full
severity); tested in ``tests/test_palette.py``.  A class keeps its colour in
every figure (slices, legends) and in the copick configs the phantom generator
writes.
"""

from __future__ import annotations

__all__ = ["PALETTE", "CLASS_COLOURS", "FALLBACK_COLOUR", "class_colour", "rgba"]

#: Okabe–Ito palette (hex), for series such as pickers.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: One colour per competition class (orange, cyan, green, yellow, purple, magenta).
CLASS_COLOURS: dict[str, str] = {
    "apo-ferritin": "#FF7F0E",
    "beta-amylase": "#17BECF",
    "beta-galactosidase": "#228833",
    "ribosome": "#F0E442",
    "thyroglobulin": "#9467BD",
    "virus-like-particle": "#EE3377",
}
#: Classes outside the competition set (blue).
FALLBACK_COLOUR = "#0072B2"


def class_colour(name: str) -> str:
    """The hex colour of a class (a fallback for classes outside the competition set)."""
    return CLASS_COLOURS.get(name, FALLBACK_COLOUR)


def rgba(hex_colour: str) -> list[int]:
    """``"#RRGGBB"`` as copick's ``[r, g, b, 255]``.

    Examples
    --------
    >>> rgba("#E69F00")
    [230, 159, 0, 255]
    """
    value = hex_colour.lstrip("#")
    return [int(value[i : i + 2], 16) for i in (0, 2, 4)] + [255]
