"""Colours: the Okabe–Ito colour-blind-safe palette, one colour per competition class.

Used by the figures and by the copick configs the phantom generator writes.
"""

from __future__ import annotations

__all__ = ["PALETTE", "CLASS_COLOURS", "FALLBACK_COLOUR", "class_colour", "rgba"]

#: Okabe–Ito palette (hex), for series such as pickers.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: One colour per competition class.
CLASS_COLOURS: dict[str, str] = {
    "apo-ferritin": "#E69F00",
    "beta-amylase": "#56B4E9",
    "beta-galactosidase": "#009E73",
    "ribosome": "#F0E442",
    "thyroglobulin": "#0072B2",
    "virus-like-particle": "#D55E00",
}
FALLBACK_COLOUR = "#CC79A7"


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
