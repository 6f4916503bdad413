"""Picker labels are names, not paths."""

from __future__ import annotations

import pytest

from topcup_bench.errors import InputError
from topcup_bench.pickers import create_picker
from topcup_bench.pickers.labels import check_picker_label, copick_user_id


@pytest.mark.parametrize(
    "label", ["../x", "a/b", "a\\b", "", ".x", "a..b", "a b", "tab\there", "nul\x00", "x" * 65, 7]
)
def test_unsafe_labels_are_refused_naming_the_flag(label):
    with pytest.raises(InputError, match=r"^--pickers: picker label .* is not a plain name"):
        check_picker_label(label)


@pytest.mark.parametrize("label", ["oracle", "oracle_jit", "template-24", "v1.2", "a+b", "X" * 64])
def test_plain_names_pass(label):
    assert check_picker_label(label) == label


def test_create_picker_checks_label_and_external_label():
    with pytest.raises(InputError, match="'a/b'"):
        create_picker("oracle", {"label": "a/b"})
    with pytest.raises(InputError, match="'../x'"):
        create_picker("external", {"source": "picks.csv", "label": "../x"})
    with pytest.raises(InputError, match="''"):
        create_picker("random", {"label": ""})
    assert create_picker("random", {"label": "my_random"}).display_name == "my_random"


def test_copick_user_id_maps_underscore_to_dash():
    assert copick_user_id("oracle_jit") == "oracle-jit"
    with pytest.raises(InputError):
        copick_user_id("../x")
