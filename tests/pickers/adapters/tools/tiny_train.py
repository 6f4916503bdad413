"""A tiny "training" program for the ``command`` picker's tests.

It reads the training data that topcup-bench hands a train command (a STAR
file in pixels, a CSV in Å, a folder of ``{run}.mrc`` and the run names),
checks that they agree, and writes ``MODEL/model.json``: how many particles
per training run it saw, which becomes the number of peaks the picker keeps.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    star, table, tomograms, runs, model = argv
    names = runs.split(",")
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    star_rows = [
        line
        for line in Path(star).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("_", "#", "data_", "loop_"))
    ]
    files = sorted(p.name for p in Path(tomograms).glob("*.mrc"))
    if files != sorted(f"{name}.mrc" for name in names) or len(star_rows) != len(rows):
        print(f"tiny_train: inputs disagree: {files} {len(star_rows)} {len(rows)}", file=sys.stderr)
        return 5
    per_run = len(rows) // max(1, len(names))
    summary = {"runs": names, "n_picks": len(rows), "tomograms": files, "max_peaks": per_run}
    (Path(model) / "model.json").write_text(json.dumps(summary), encoding="utf-8")
    print(f"tiny_train: {len(rows)} picks in {len(names)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
