"""Picker labels are names, not paths: the rule every leaderboard name must follow.

A label (the registry name, ``label=...`` of :func:`~topcup_bench.pickers.create_picker`,
or the ``external`` picker's ``label``) becomes a file name (``picks/<label>.csv``,
the picks cache folder) and, with ``--write-copick``, a copick user id.  So a
label is 1 to 64 characters from ``A-Z a-z 0-9 _ - . +``, starts with a letter
or a digit, and holds no ``..``.  Copick forbids ``_`` in user ids: it is
written there as ``-`` (:func:`copick_user_id`).
"""

from __future__ import annotations

import re

from topcup_bench.errors import InputError

__all__ = ["check_picker_label", "copick_user_id"]

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")


def check_picker_label(label: object, source: str = "--pickers") -> str:
    """Return ``label`` when it is a valid picker label, else raise.

    Parameters
    ----------
    label : object
        The leaderboard name to check.
    source : str
        What to name in the message (the command-line option).

    Raises
    ------
    InputError
        Naming ``source`` and the label (shown with ``repr``, at most 80 characters).

    Examples
    --------
    >>> check_picker_label("oracle-jitter")
    'oracle-jitter'
    >>> check_picker_label("../x")
    Traceback (most recent call last):
    ...
    topcup_bench.errors.InputError: --pickers: picker label '../x' is not a plain name: ...
    """
    text = label if isinstance(label, str) else None
    if text is None or not _LABEL.fullmatch(text) or ".." in text:
        shown = repr(label) if len(repr(label)) <= 80 else repr(label)[:77] + "..."
        raise InputError(
            source,
            f"picker label {shown} is not a plain name: use 1 to 64 letters, digits, '_', '-', "
            "'.' or '+', starting with a letter or digit, without '..' (labels become file "
            "names and copick user ids)",
        )
    return text


def copick_user_id(label: str) -> str:
    """The copick user id of a picker label: ``_`` (forbidden by copick) becomes ``-``.

    Examples
    --------
    >>> copick_user_id("oracle_jit")
    'oracle-jit'
    """
    return check_picker_label(label).replace("_", "-")
