"""Command templates: steps, placeholders, per-class expansion and output patterns."""

from __future__ import annotations

import pytest

from topcup_bench.errors import InputError
from topcup_bench.pickers.adapters.command_template import (
    PLACEHOLDERS,
    check_output_pattern,
    fill_pattern,
    fill_steps,
    parse_command,
)

ALL = tuple(PLACEHOLDERS)


def _parse(text, allowed=ALL, parameter="command"):
    return parse_command(text, parameter=parameter, picker="mine", allowed=allowed)


def test_steps_split_on_and_and_keep_quoted_arguments():
    steps = _parse("tool 'a b' {tomogram} && post --in {output}")
    assert [s.tokens for s in steps] == [
        ("tool", "a b", "{tomogram}"),
        ("post", "--in", "{output}"),
    ]
    assert [sorted(s.names) for s in steps] == [["tomogram"], ["output"]]
    assert steps[0].text == "tool 'a b' '{tomogram}'"


def test_an_empty_template_has_no_steps():
    assert _parse("") == ()
    assert _parse("   ") == ()


def test_per_class_steps_run_once_per_class_and_others_once():
    steps = _parse("prep {tomogram} && match {tomogram} {template} -r {radius_voxels} && merge")
    assert [s.per_class for s in steps] == [False, True, False]
    argvs = fill_steps(
        steps,
        {"tomogram": "/w/TS_1.mrc"},
        [
            {"template": "/t/a.mrc", "radius_voxels": "6"},
            {"template": "/t/b.mrc", "radius_voxels": "15"},
        ],
    )
    assert argvs == [
        ["prep", "/w/TS_1.mrc"],
        ["match", "/w/TS_1.mrc", "/t/a.mrc", "-r", "6"],
        ["match", "/w/TS_1.mrc", "/t/b.mrc", "-r", "15"],
        ["merge"],
    ]


def test_placeholders_inside_longer_tokens_and_literal_braces():
    steps = _parse("tool --out={output}/{run}.star --json {{x}}")
    assert fill_steps(steps, {"output": "/o", "run": "TS_1"}, []) == [
        ["tool", "--out=/o/TS_1.star", "--json", "{x}"]
    ]


def test_a_list_value_becomes_several_arguments_or_none():
    steps = _parse("tool {flags} end", allowed=("flags",))
    assert fill_steps(steps, {"flags": ["--invert", "--fast"]}, []) == [
        ["tool", "--invert", "--fast", "end"]
    ]
    assert fill_steps(steps, {"flags": []}, []) == [["tool", "end"]]
    inside = _parse("tool x{flags}", allowed=("flags",))
    assert fill_steps(inside, {"flags": ["a", "b"]}, []) == [["tool", "xa b"]]


def test_unknown_placeholder_names_it_and_lists_the_known_ones():
    with pytest.raises(InputError) as caught:
        _parse("tool {tomgram} {output}")
    message = str(caught.value)
    assert "picker 'mine'" in message and "parameter 'command'" in message
    assert "unknown placeholder {tomgram}" in message
    assert "'tomogram'" in message and "'output'" in message and "'radius_voxels'" in message
    assert "Did you mean 'tomogram'?" in message


def test_a_known_placeholder_not_usable_here_says_where_it_belongs():
    with pytest.raises(InputError, match=r"placeholder \{train_star\} cannot be used here"):
        _parse("tool {train_star}", allowed=("tomogram", "output"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tool 'unclosed", "cannot split"),
        ("tool {output", "bad braces"),
        ("tool {output:>5}", r"placeholder \{output\} .* takes no format"),
        ("tool {output!r}", r"placeholder \{output\} .* takes no format"),
        ("tool && && other", "an empty step"),
        ("&& tool", "an empty step"),
        ("tool {}", "unknown placeholder {}"),
    ],
)
def test_malformed_templates_are_refused(text, message):
    with pytest.raises(InputError, match=message):
        _parse(text)


def test_output_patterns_may_use_run_class_and_wildcards():
    assert check_output_pattern("{run}/{class}_*.star", picker="mine") == {"run", "class"}
    assert check_output_pattern("", picker="mine") == frozenset()
    assert fill_pattern("{run}/{class}.star", {"run": "TS_1", "class": "ribosome"}) == (
        "TS_1/ribosome.star"
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("/tmp/picks.star", "must be a path inside the output folder"),
        ("../picks.star", "must be a path inside the output folder"),
        ("sub/../../picks.star", "must be a path inside the output folder"),
        ("C:\\picks.star", "must be a path inside the output folder"),
        ("~/picks.star", "must be a path inside the output folder"),
        ("{tomogram}.star", r"placeholder \{tomogram\} cannot be used here"),
        ("{rn}.star", r"unknown placeholder \{rn\}"),
    ],
)
def test_bad_output_patterns_are_refused(pattern, message):
    with pytest.raises(InputError, match=message):
        check_output_pattern(pattern, picker="mine")
