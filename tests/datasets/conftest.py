"""Fixtures for the picks I/O tests: small picks tables and copick projects in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PARTICLES = [
    {
        "name": "apo-ferritin",
        "is_particle": True,
        "label": 1,
        "radius": 60.0,
        "metadata": {"score_weight": 1.0},
    },
    {
        "name": "ribosome",
        "is_particle": True,
        "label": 4,
        "radius": 150.0,
        "metadata": {"score_weight": 1.0, "score_threshold": 0.4},
    },
    {"name": "thyroglobulin", "is_particle": True, "label": 5, "radius": 130.0},
    {"name": "membrane", "is_particle": False, "label": 7},
]


@pytest.fixture
def picks_table() -> pd.DataFrame:
    """Five picks over two runs and two classes, with scores (Å)."""
    return pd.DataFrame(
        {
            "experiment": ["TS_5_4", "TS_5_4", "TS_5_4", "TS_6_4", "TS_6_4"],
            "particle_type": ["ribosome", "ribosome", "apo-ferritin", "ribosome", "apo-ferritin"],
            "x": [100.5, 2000.0, 0.1 + 0.2, 5678.25, 1.0 / 3.0],
            "y": [200.25, 3000.0, 1e-7, 12.0, 6299.9],
            "z": [300.0, 1000.0, 1839.999, 42.0, 7.0],
            "score": [0.9, 0.5, 0.25, 1.0, 0.1],
        }
    )


@pytest.fixture
def make_copick_project(tmp_path: Path) -> Callable[..., Path]:
    """Return a factory writing a copick filesystem project; it returns the config path."""

    def make(
        runs: tuple[str, ...] = ("TS_5_4", "TS_6_4"),
        objects: list[dict] | None = None,
        name: str = "project",
    ) -> Path:
        import copick

        base = tmp_path / name
        base.mkdir()
        config = {
            "config_type": "filesystem",
            "name": "test",
            "description": "test project",
            "version": "1.31.0",
            "pickable_objects": PARTICLES if objects is None else objects,
            "overlay_root": f"local://{base / 'overlay'}",
            "overlay_fs_args": {"auto_mkdir": True},
        }
        path = base / "config.json"
        path.write_text(json.dumps(config))
        root = copick.from_file(str(path))
        for run in runs:
            root.new_run(run)
        return path

    return make


@pytest.fixture
def add_picks() -> Callable[..., None]:
    """Return a function storing picks with copick's own API, as a picker would."""
    return _add_picks


def _add_picks(
    config: Path,
    run: str,
    object_name: str,
    user: str,
    session: str,
    positions: np.ndarray,
    *,
    transforms: np.ndarray | None = None,
    scores: np.ndarray | None = None,
) -> None:
    """Store picks with copick's own API, as a picker would."""
    import copick

    root = copick.from_file(str(config))
    picks = root.get_run(run).new_picks(object_name, session, user)
    picks.from_numpy(np.asarray(positions, dtype=float), transforms=transforms, scores=scores)
