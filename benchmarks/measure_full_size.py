"""Peak memory and seconds per tomogram of every built-in picker on one full-size tomogram.

Each picker runs in a fresh Python process through the Picker API
(``create_picker``, ``prepare``, ``fit``, ``pick``), so that one process gives
one number: its peak memory is the child's ``ru_maxrss`` (and, for tools the
picker starts, the largest of their ``ru_maxrss``) and, with psutil, the peak
of the resident memory of the child and all its descendants together, sampled
every 0.1 s.  Trainable pickers (``forest``, ``octopi``) are fitted on the
training run in a process of their own first (fit time and fit peak are
reported apart); the fitted picker is pickled and picked in the next process,
as the runner's worker processes receive it.  ``topcup`` trains nothing: it
loads ``--checkpoint`` (default: three random-initialised members of the
published resnet34 architecture, written once; memory and time depend on the
architecture, not on the weights) and picks with flip TTA, its defaults.

The dataset is the value of ``TOPCUP_BENCH_FULL_SPEC`` (default
``phantom:full?runs=2&test=1``: one training and one test tomogram of
184 × 630 × 630 voxels); it is opened once in a process of its own before the
pickers (generating the phantom the first time).  The last test run is picked.

Output (``--out``): ``full_size.json`` (every figure, the CPU model, the thread
count, the dataset) and ``full_size.md``, a table ready for
``docs/performance.md``::

    python benchmarks/measure_full_size.py --out /tmp/full-size
    TOPCUP_BENCH_FULL_SPEC="phantom:small?runs=2&test=1" \\
        python benchmarks/measure_full_size.py --out /tmp/small --pickers blob,template
    python benchmarks/measure_full_size.py --out /tmp/f --checkpoint /path/member0.pt,...

``GB`` is 10⁹ bytes.  Pickers that cannot run here are listed with the reason
(:data:`NOT_MEASURED`; ``pytme`` and ``octopi`` are skipped with their own
message when not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: Environment variable naming the dataset measured (a dataset specification).
SPEC_VARIABLE = "TOPCUP_BENCH_FULL_SPEC"
#: The full-size fixture: one training and one test tomogram of 184 × 630 × 630 voxels.
DEFAULT_SPEC = "phantom:full?runs=2&test=1"
#: Peak memory every picker must stay under (issue 14), GB.
LIMIT_GB = 12.0
#: Bytes per GB.
GB = 1e9
#: Built-in pickers measured, in table order.
MEASURED: tuple[str, ...] = (
    "oracle",
    "random",
    "blob",
    "template",
    "forest",
    "topcup",
    "pytme",
    "octopi",
)
#: Built-in pickers that cannot be measured on a CPU machine by themselves, and why.
NOT_MEASURED: dict[str, str] = {
    "external": "reads picks made elsewhere; computes nothing",
    "command": "generic: runs whatever command it is given (its cost is that command's)",
    "pytom-match-pick": "needs CUDA (cupy): not runnable without a GPU",
    "deepfinder": "needs trained DeepFinder weights and TensorFlow",
    "tomotwin": "needs TomoTwin's model and reference subvolumes; GPU hours on a CPU",
    "cryolo": "needs trained crYOLO models and TensorFlow",
    "topcup-cli": "the official TopCUP command line (GPU); `topcup` runs the same networks",
}
#: Members of the TopCUP ensemble measured (the picker's default, as published).
TOPCUP_MEMBERS = 3
#: Sampling period of the resident-memory poll, seconds.
POLL_S = 0.1

_HERE = Path(__file__).resolve()


def full_spec() -> str:
    """The dataset measured: ``$TOPCUP_BENCH_FULL_SPEC`` or :data:`DEFAULT_SPEC`."""
    return os.environ.get(SPEC_VARIABLE, "").strip() or DEFAULT_SPEC


def picker_params(name: str, threads: int, checkpoints: Sequence[str | Path] = ()) -> dict:
    """Parameters that pin a picker to ``threads`` threads (and give ``topcup`` its weights).

    Parameters
    ----------
    name : str
        Registry name.
    threads : int
        Threads the picker may use.
    checkpoints : sequence of path-like
        TopCUP checkpoints (``topcup`` only).

    Returns
    -------
    dict of str to str
        Parameters for :func:`~topcup_bench.pickers.create_picker`.
    """
    params: dict[str, dict[str, str]] = {
        "template": {"workers": str(threads)},
        "forest": {"n_jobs": str(threads)},
        "pytme": {"threads": str(threads)},
        "octopi": {"threads": str(threads)},
        "topcup": {"device": "cpu", "weights": ",".join(str(p) for p in checkpoints)},
    }
    return dict(params.get(name, {}))


def gigabytes(n_bytes: float) -> float:
    """Bytes as GB (10⁹ bytes), rounded to 3 decimals."""
    return round(float(n_bytes) / GB, 3)


# ---------------------------------------------------------------------------------- child side
def _ru_maxrss_bytes(who: int) -> int:
    """``ru_maxrss`` of this process or of its waited-for children, in bytes (Linux: KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return int(resource.getrusage(who).ru_maxrss) * scale


def _open(spec: str):
    from topcup_bench.datasets.catalog import open_dataset

    return open_dataset(spec, progress=False)


def _phase_generate(task: Mapping[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    dataset = _open(task["dataset"])
    test = list(dataset.splits.get("test", ())) or list(dataset.runs[-1:])
    train = [r for r in dataset.splits.get("train", ()) if r not in test] or [
        r for r in dataset.runs if r not in test
    ][:1]
    run = test[-1]
    return {
        "seconds": time.perf_counter() - start,
        "runs": list(dataset.runs),
        "run": run,
        "train_runs": train,
        "shape_zyx": list(dataset.shape_zyx(run)),
        "voxel_size_angstrom": float(dataset.voxel_size_angstrom),
    }


def _phase_checkpoints(task: Mapping[str, Any]) -> dict[str, Any]:
    import torch

    from topcup_bench.pickers.topcup.checkpoint import save_checkpoint
    from topcup_bench.pickers.topcup.model import build_model

    dataset = _open(task["dataset"])
    folder = Path(task["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for member in range(int(task["members"])):
        path = folder / f"resnet34-random-{member}.pt"
        if not path.is_file():
            torch.manual_seed(member)
            model = build_model("resnet34", n_classes=len(dataset.classes)).eval()
            save_checkpoint(
                path,
                model,
                classes=dataset.classes.names,
                radii_angstrom={c.name: c.radius_angstrom for c in dataset.classes},
                voxel_size_angstrom=dataset.voxel_size_angstrom,
            )
        paths.append(str(path))
    return {"checkpoints": paths}


def _phase_fit(task: Mapping[str, Any]) -> dict[str, Any]:
    from topcup_bench.executors import limit_threads
    from topcup_bench.pickers import create_picker
    from topcup_bench.testing import track_loaded_tomograms

    dataset = _open(task["dataset"])
    loaded = track_loaded_tomograms(dataset)
    picker = create_picker(task["picker"], task["params"])
    picker.prepare(dataset)
    limit_threads(int(task["threads"]))
    start = time.perf_counter()
    picker.fit(dataset, list(task["train_runs"]))
    seconds = time.perf_counter() - start
    with open(task["state"], "wb") as handle:
        pickle.dump(picker, handle)
    return {
        "fit_seconds": seconds,
        "fit_loads": len(loaded),
        "fit_max_live_tomograms": max(loaded, default=0),
    }


def _phase_pick(task: Mapping[str, Any]) -> dict[str, Any]:
    from topcup_bench.executors import limit_threads
    from topcup_bench.metrics import score_picks
    from topcup_bench.pickers import create_picker
    from topcup_bench.pickers.protocol import TrainablePicker
    from topcup_bench.testing import track_loaded_tomograms

    dataset = _open(task["dataset"])
    loaded = track_loaded_tomograms(dataset)
    out: dict[str, Any] = {}
    if task.get("state"):
        with open(task["state"], "rb") as handle:
            picker = pickle.load(handle)
    else:
        picker = create_picker(task["picker"], task["params"])
        picker.prepare(dataset)
        limit_threads(int(task["threads"]))
        if isinstance(picker, TrainablePicker):  # topcup with weights: loads them
            start = time.perf_counter()
            picker.fit(dataset, list(task["train_runs"]))
            out["fit_seconds"] = time.perf_counter() - start
    limit_threads(int(task["threads"]))
    run = task["run"]
    start = time.perf_counter()
    tomogram = dataset.tomogram(run)
    out["load_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    picks = picker.pick(tomogram, dataset.classes)
    out["pick_seconds"] = time.perf_counter() - start
    del tomogram
    extent = [float(v) for v in dataset.extent_angstrom_xyz(run)]
    xyz = picks[["x", "y", "z"]].to_numpy(dtype=float).reshape(-1, 3)
    inside = bool(((xyz >= 0) & (xyz <= extent)).all())
    result = score_picks(dataset.truth([run]), picks, classes=dataset.classes)
    out.update(
        columns=list(picks.columns),
        n_picks=len(picks),
        picks_by_class={c: int((picks["particle_type"] == c).sum()) for c in dataset.classes.names},
        picks_inside_extent=inside,
        extent_angstrom_xyz=list(extent),
        true_positives={name: c.tp for name, c in result.classes.items()},
        n_truth={name: c.n_truth for name, c in result.classes.items()},
        max_live_tomograms=max(loaded, default=0),
        tool_version=str(getattr(picker, "tool_version", "") or ""),
    )
    return out


_PHASES = {
    "generate": _phase_generate,
    "checkpoints": _phase_checkpoints,
    "fit": _phase_fit,
    "pick": _phase_pick,
}


def child_main(task_path: str) -> int:
    """Run one task (JSON file) and write its result beside it; the exit status is 0."""
    from topcup_bench.pickers.adapters.tool_process import ToolMissingError

    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    result: dict[str, Any] = {"status": "ok", "reason": ""}
    try:
        result.update(_PHASES[task["phase"]](task))
    except ToolMissingError as error:
        result.update(status="skipped", reason=" ".join(str(error).split()))
    except Exception as error:  # reported in the table, the other pickers go on
        result.update(status="failed", reason=f"{type(error).__name__}: {error}")
    result["ru_maxrss_gb"] = gigabytes(_ru_maxrss_bytes(resource.RUSAGE_SELF))
    result["ru_maxrss_children_gb"] = gigabytes(_ru_maxrss_bytes(resource.RUSAGE_CHILDREN))
    Path(task["result"]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------------- parent side
def _tree_rss(process) -> int:
    """Resident bytes of a psutil process and all its descendants (0 once it has gone)."""
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_child(
    task: Mapping[str, Any], folder: Path, *, threads: int, timeout_s: float
) -> dict[str, Any]:
    """Run ``task`` in a fresh process; its result plus ``peak_gb`` and ``wall_seconds``.

    Parameters
    ----------
    task : mapping
        ``phase`` (``generate``, ``checkpoints``, ``fit`` or ``pick``) and its fields.
    folder : pathlib.Path
        Where the task and result files go.
    threads : int
        ``OMP_NUM_THREADS`` (and the BLAS, torch and picker threads) of the child.
    timeout_s : float
        The child is killed after this many seconds (status ``failed``).

    Returns
    -------
    dict
        The child's fields, ``status`` (``ok``, ``skipped`` or ``failed``), ``reason``,
        ``ru_maxrss_gb`` (the child), ``ru_maxrss_children_gb`` (the largest tool it
        ran), ``sampled_peak_gb`` (child and descendants together, psutil; None
        without psutil) and ``peak_gb``, the largest of the three.
    """
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{task['phase']}-{task.get('picker', 'dataset')}"
    task_path, result_path = folder / f"{name}.task.json", folder / f"{name}.result.json"
    result_path.unlink(missing_ok=True)
    task_path.write_text(json.dumps({**task, "result": str(result_path)}), encoding="utf-8")
    env = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[variable] = str(threads)
    log_path = folder / f"{name}.log"
    try:
        import psutil
    except ImportError:
        psutil = None
    start = time.perf_counter()
    sampled = 0
    with open(log_path, "w", encoding="utf-8") as log:
        child = subprocess.Popen(
            [sys.executable, str(_HERE), "--child", str(task_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        watched = psutil.Process(child.pid) if psutil is not None else None
        timed_out = False
        while child.poll() is None:
            if watched is not None:
                sampled = max(sampled, _tree_rss(watched))
            if time.perf_counter() - start > timeout_s:
                child.kill()
                timed_out = True
                break
            time.sleep(POLL_S)
        child.wait()
    wall = time.perf_counter() - start
    if result_path.is_file():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    else:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-600:]
        why = f"timed out after {timeout_s:g} s" if timed_out else f"exit status {child.returncode}"
        result = {"status": "failed", "reason": f"{why}; log {log_path}: {tail.strip()}"}
    result["wall_seconds"] = round(wall, 2)
    result["sampled_peak_gb"] = gigabytes(sampled) if psutil is not None else None
    result["peak_gb"] = max(
        float(result.get("ru_maxrss_gb") or 0.0),
        float(result.get("ru_maxrss_children_gb") or 0.0),
        float(result.get("sampled_peak_gb") or 0.0),
    )
    return result


def measure_picker(
    name: str,
    params: Mapping[str, str],
    *,
    spec: str,
    run: str,
    train_runs: Sequence[str],
    folder: Path,
    threads: int,
    timeout_s: float,
) -> dict[str, Any]:
    """Fit (in a process of its own, when trainable and not given weights) and pick one run.

    Returns
    -------
    dict
        ``picker``, ``params``, ``status``, ``reason``, the pick process's fields
        (:func:`run_child`; ``pick_seconds`` = seconds per tomogram) and, for pickers
        fitted apart, ``fit_seconds``, ``fit_peak_gb`` and ``fit_max_live_tomograms``.
    """
    from topcup_bench.pickers.protocol import TrainablePicker
    from topcup_bench.pickers.registry import PICKERS

    base = {
        "dataset": spec,
        "picker": name,
        "params": dict(params),
        "run": run,
        "train_runs": list(train_runs),
        "threads": threads,
    }
    record: dict[str, Any] = {"picker": name, "params": dict(params)}
    state = ""
    fit_apart = issubclass(PICKERS.get(name), TrainablePicker) and not params.get("weights")
    if fit_apart:
        state = str(folder / f"{name}.fitted.pickle")
        fitted = run_child(
            {**base, "phase": "fit", "state": state}, folder, threads=threads, timeout_s=timeout_s
        )
        record.update(
            fit_seconds=fitted.get("fit_seconds"),
            fit_peak_gb=fitted["peak_gb"],
            fit_max_live_tomograms=fitted.get("fit_max_live_tomograms"),
        )
        if fitted["status"] != "ok":
            record.update(status=fitted["status"], reason=f"fit: {fitted['reason']}")
            return record
    picked = run_child(
        {**base, "phase": "pick", "state": state}, folder, threads=threads, timeout_s=timeout_s
    )
    record.update(picked)
    if state:
        Path(state).unlink(missing_ok=True)
    return record


def _notes(row: Mapping[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{row['status']}: {row['reason']}"
    notes = []
    if row.get("fit_peak_gb") is not None:
        notes.append(f"fit {row['fit_seconds']:.0f} s, {row['fit_peak_gb']:.2f} GB peak")
    elif row.get("fit_seconds") is not None:
        notes.append(f"loading the weights {row['fit_seconds']:.1f} s")
    if row.get("ru_maxrss_children_gb"):
        notes.append(f"its tool's processes: {row['ru_maxrss_children_gb']:.2f} GB peak")
    tp = sum(row.get("true_positives", {}).values())
    truth = sum(row.get("n_truth", {}).values())
    notes.append(f"{row.get('n_picks', 0)} picks, {tp} of {truth} particles found")
    return "; ".join(notes)


def markdown_table(report: Mapping[str, Any]) -> str:
    """The table for ``docs/performance.md``: picker | peak GB | s per tomogram | notes."""
    shape = " × ".join(str(n) for n in report["shape_zyx"])
    lines = [
        f"{report['dataset']} ({shape} voxels, run {report['run']}); {report['cpu']}, "
        f"{report['threads']} threads; limit {LIMIT_GB:g} GB.",
        "",
        "| picker | peak GB | s per tomogram | notes |",
        "|---|---|---|---|",
    ]
    for row in report["pickers"]:
        ok = row["status"] == "ok"
        peak = f"{row['peak_gb']:.2f}" if ok else "-"
        seconds = f"{row['pick_seconds']:.1f}" if ok else "-"
        notes = " ".join(_notes(row).split()).replace("|", "\\|")
        lines.append(f"| {row['picker']} | {peak} | {seconds} | {notes} |")
    for name, reason in report["not_measured"].items():
        lines.append(f"| {name} | - | - | not measured: {reason} |")
    return "\n".join(lines) + "\n"


def make_checkpoints(
    spec: str, out: Path, folder: Path, *, threads: int, timeout_s: float
) -> list[str]:
    """Write :data:`TOPCUP_MEMBERS` random-initialised resnet34 members (in a child process).

    Parameters
    ----------
    spec : str
        The dataset measured (its classes and voxel size go into the checkpoints).
    out : pathlib.Path
        Folder of the checkpoints.
    folder : pathlib.Path
        Work folder of the child's task and result files.
    threads : int
    timeout_s : float

    Returns
    -------
    list of str
        The checkpoint paths (empty when the child failed).
    """
    made = run_child(
        {"phase": "checkpoints", "dataset": spec, "folder": str(out), "members": TOPCUP_MEMBERS},
        folder,
        threads=threads,
        timeout_s=timeout_s,
    )
    return list(made.get("checkpoints", []))


def report_document(
    spec: str,
    opened: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    threads: int,
    measured: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``full_size.json`` document: the dataset, the machine and one row per picker.

    Parameters
    ----------
    spec : str
        The dataset measured.
    opened : mapping
        The ``generate`` phase's result (run, training runs, shape, voxel size, cost).
    rows : sequence of mapping
        :func:`measure_picker`'s rows.
    threads : int
        Threads each picker had.
    measured : mapping
        Names of the pickers measured (left out of ``not_measured``).
    """
    from topcup_bench.results import cpu_model

    return {
        "dataset": spec,
        "run": opened["run"],
        "train_runs": opened["train_runs"],
        "shape_zyx": opened["shape_zyx"],
        "voxel_size_angstrom": opened["voxel_size_angstrom"],
        "generation": {"seconds": opened["seconds"], "peak_gb": opened["peak_gb"]},
        "cpu": cpu_model(),
        "threads": threads,
        "limit_gb": LIMIT_GB,
        "pickers": list(rows),
        "not_measured": {k: v for k, v in NOT_MEASURED.items() if k not in measured},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the pickers; write ``full_size.json`` and ``full_size.md`` into ``--out``."""
    from topcup_bench.pickers.factory import parse_picker_spec, split_picker_list

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder of the results (required)")
    parser.add_argument(
        "--pickers",
        default=",".join(MEASURED),
        help="picker specs, comma-separated (name:key=value;...); default: every measured one",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per picker (2)")
    parser.add_argument(
        "--checkpoint",
        default="",
        help="TopCUP checkpoints, comma-separated (default: 3 random resnet34 members)",
    )
    parser.add_argument(
        "--timeout", type=float, default=6 * 3600.0, help="seconds per process (6 h)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.out is None:
        parser.error("the following argument is required: --out")
    spec = full_spec()
    work = args.out / "work"
    options = {"threads": args.threads, "timeout_s": args.timeout}
    print(f"opening {spec} (generated the first time)", flush=True)
    opened = run_child({"phase": "generate", "dataset": spec}, work, **options)
    if opened["status"] != "ok":
        print(f"cannot open {spec}: {opened['reason']}", file=sys.stderr)
        return 1
    specs = [parse_picker_spec(s) for s in split_picker_list(args.pickers)]
    checkpoints = [p for p in args.checkpoint.split(",") if p.strip()]
    if any(name == "topcup" for name, _ in specs) and not checkpoints:
        checkpoints = make_checkpoints(spec, args.out / "checkpoints", work, **options)
    rows = []
    for name, given in specs:
        params = {**picker_params(name, args.threads, checkpoints), **given}
        print(f"measuring {name} ...", flush=True)
        row = measure_picker(
            name,
            params,
            spec=spec,
            run=opened["run"],
            train_runs=opened["train_runs"],
            folder=work,
            **options,
        )
        print(f"  {row['status']}: {json.dumps(row)[:300]}", flush=True)
        rows.append(row)
    report = report_document(spec, opened, rows, threads=args.threads, measured=dict(specs))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "full_size.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    table = markdown_table(report)
    (args.out / "full_size.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(_HERE.parent.parent))
    sys.exit(main())
