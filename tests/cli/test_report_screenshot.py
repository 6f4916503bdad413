"""The HTML report in headless Chromium: the page renders its table and its embedded figures.

Runs when a Chromium binary (``chromium``, ``chromium-browser`` or
``google-chrome``) is on PATH (Debian: ``apt-get install chromium``); skipped
otherwise.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

from topcup_bench.benchmark_config import BenchmarkConfig
from topcup_bench.palette import PALETTE
from topcup_bench.reports.report import write_report
from topcup_bench.workflow import run_benchmark

BROWSER = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)
WIDTH, HEIGHT = 1280, 2000


@pytest.mark.skipif(BROWSER is None, reason="no chromium on PATH (apt-get install chromium)")
def test_report_html_screenshot_shows_the_table_and_figures(tmp_path):
    config = BenchmarkConfig(
        dataset="phantom:tiny",
        pickers=(("oracle", {}), ("random", {}), ("blob", {})),
        out=tmp_path / "run",
        bootstrap=50,
    )
    run_benchmark(config, progress=False)
    write_report([tmp_path / "run" / "results.json"], tmp_path / "report", ("html",))
    page = tmp_path / "report" / "report.html"
    png = tmp_path / "screenshot.png"
    done = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",  # CI containers run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and png.is_file(), done.stderr[-2000:]
    rgb = imread(png)[..., :3]
    assert rgb.shape == (HEIGHT, WIDTH, 3)
    colours = np.unique((rgb * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100  # not a blank (single-colour) page
    # the title and the leaderboard table: dark text in the top 300 rows
    assert (rgb[:300].max(axis=2) < 0.25).sum() > 2000
    # the embedded F-beta bars: the first picker's colour (Okabe-Ito blue) fills bars
    blue = np.array([int(PALETTE[0][i : i + 2], 16) for i in (1, 3, 5)]) / 255
    assert (np.abs(rgb - blue).max(axis=2) < 0.03).sum() > 5000
