"""``topcup-bench phantom`` and ``topcup-bench list datasets``."""

from __future__ import annotations

import json

import matplotlib.image as mpimg

from topcup_bench.cli import main


def run(args, capsys):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_phantom_writes_a_project_and_a_preview(tmp_path, capsys):
    out, preview = tmp_path / "proj", tmp_path / "preview.png"
    args = [
        "phantom",
        "--out",
        out,
        "--preset",
        "tiny",
        "--runs",
        2,
        "--test-runs",
        1,
        "--seed",
        3,
        "--set",
        "noise_sigma=2.5",
        "--flavours",
        "denoised,wbp",
    ]
    status, text, _ = run(args + ["--preview", preview], capsys)
    assert status == 0, text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"]["noise_sigma"] == 2.5 and manifest["flavours"] == ["denoised", "wbp"]
    assert manifest["split"]["test"] == ["TS_001"]
    assert "ground truth (user curation, session 0)" in text
    image = mpimg.imread(preview)
    assert image.ndim == 3 and image.shape[0] > 200
    # same parameters: cache hit; other parameters in the same folder: refused
    assert run(args, capsys)[0] == 0
    status, _, err = run(["phantom", "--out", out, "--preset", "tiny", "--runs", 3], capsys)
    assert status == 2 and "--overwrite" in err and str(out) in err


def test_phantom_rejects_bad_knobs(tmp_path, capsys):
    status, _, err = run(
        ["phantom", "--out", tmp_path / "p", "--preset", "tiny", "--set", "noise_sigm=3"], capsys
    )
    assert status == 2 and "noise_sigm" in err and "Did you mean 'noise_sigma'" in err
    status, _, err = run(
        ["phantom", "--out", tmp_path / "p", "--preset", "tiny", "--set", "noise_sigma"], capsys
    )
    assert status == 2 and "KNOB=VALUE" in err
    status, _, err = run(["phantom", "--out", tmp_path / "p", "--preset", "huge"], capsys)
    assert status == 2 and "huge" in err
    assert not (tmp_path / "p").exists()


def test_phantom_help_documents_the_knobs(capsys):
    status, text, _ = run(["phantom", "--help"], capsys)
    assert status == 0
    for knob in (
        "noise_sigma = ",
        "crowder_density = ",
        "wedge_half_angle_deg = 45.0",
        "defocus_range_um = [2.0, 5.0]",
        "Presets: tiny-easy",
    ):
        assert knob in text


def test_list_datasets(capsys):
    status, text, _ = run(["list", "datasets"], capsys)
    assert status == 0
    assert "phantom:default" in text and "small-kaggle-like" in text and "phantom:full-hard" in text


def test_list_knobs_take_brackets_or_bare_commas(monkeypatch, tmp_path, capsys):
    """``shape_zyx=[a,b,c]`` and ``shape_zyx=a,b,c`` are one value; too large is refused early."""
    from topcup_bench import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)  # a 1 GiB machine
    for value in ("[400,400,400]", "400,400,400"):
        status, _, err = run(
            ["phantom", "--out", tmp_path / "p", "--preset", "tiny", "--set", f"shape_zyx={value}"],
            capsys,
        )
        assert status == 2 and "400x400x400" in err and "shape_zyx" in err, err
    assert not (tmp_path / "p").exists()


PHANTOM = ["phantom", "--preset", "tiny", "--runs", 2, "--test-runs", 1]


def test_overwrite_never_replaces_a_folder_that_is_not_a_phantom_project(tmp_path, capsys):
    out = tmp_path / "u"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("x")
    mtime = (out / "notes.txt").stat().st_mtime_ns
    status, _, err = run([*PHANTOM, "--out", out, "--overwrite"], capsys)
    assert status == 2
    assert "notes.txt, sub" in err and "move them away or choose another --out" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub"]
    assert (out / "notes.txt").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]  # no staging, no lock left


def test_overwrite_replaces_another_phantom_project(tmp_path, capsys):
    out = tmp_path / "p"
    assert run([*PHANTOM, "--out", out, "--seed", 1], capsys)[0] == 0
    status, _, err = run([*PHANTOM, "--out", out, "--seed", 2], capsys)
    assert status == 2 and "--overwrite" in err
    assert run([*PHANTOM, "--out", out, "--seed", 2, "--overwrite"], capsys)[0] == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 2


def test_a_parent_of_out_that_is_a_file_is_named(tmp_path, capsys):
    (tmp_path / "userfile.txt").write_text("x")
    status, _, err = run([*PHANTOM, "--out", tmp_path / "userfile.txt" / "sub"], capsys)
    assert status == 2
    assert f"--out: {tmp_path / 'userfile.txt'} is a file, not a folder" in err
    assert (tmp_path / "userfile.txt").read_text() == "x"
