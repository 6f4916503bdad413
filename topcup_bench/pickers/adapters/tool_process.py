"""Run another tool: find it, record its version, capture its output, enforce a timeout.

Every failure is a :class:`ToolError` whose message names the picker, the
command, what went wrong and the log file, so that the runner can mark the
picker failed with one clear line while the other pickers finish.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from topcup_bench.datasets.catalog import cache_dir
from topcup_bench.errors import TopcupBenchError

__all__ = [
    "ToolError",
    "ToolMissingError",
    "resolve_executable",
    "run_tool",
    "tool_version",
    "log_folder",
    "run_log_path",
]

#: Lines of a failed tool's log quoted in the error.
_TAIL_LINES = 5


class ToolError(TopcupBenchError):
    """A tool failed: crashed, timed out, wrote nothing, or wrote where it must not."""


class ToolMissingError(ToolError):
    """The tool (or the interpreter meant to run it) is not installed."""


def resolve_executable(program: str, *, picker: str, install_hint: str) -> str:
    """Absolute path of ``program`` (a name on ``PATH`` or a path), or a :class:`ToolMissingError`.

    Parameters
    ----------
    program : str
        A command name (looked up on ``PATH``) or a path to an executable.
    picker : str
        Leaderboard name of the picker, for the message.
    install_hint : str
        What to install, e.g. ``"pip install 'topcup-bench[pytme]'"``.
    """
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            # absolute, links kept: a venv's bin/python must stay the venv's interpreter
            return os.path.abspath(path)
        raise ToolMissingError(
            f"picker {picker!r}: {program!r} is not an executable file; {install_hint}"
        )
    found = shutil.which(program)
    if found is None:
        raise ToolMissingError(
            f"picker {picker!r}: command {program!r} not found on PATH; {install_hint}"
        )
    return found


def run_tool(
    argv: Sequence[str],
    *,
    picker: str,
    log_path: Path,
    timeout_s: float,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> float:
    """Run ``argv`` in ``cwd``, appending its stdout and stderr to ``log_path``.

    Parameters
    ----------
    argv : sequence of str
        The command; ``argv[0]`` should come from :func:`resolve_executable`.
    picker : str
        Leaderboard name of the picker, for messages.
    log_path : pathlib.Path
        Log file (created with its folder; a header line records the command).
    timeout_s : float
        Wall-clock limit, seconds; the whole process group is killed past it.
    cwd : pathlib.Path
        Working folder of the tool.
    env : mapping, optional
        Extra environment variables.

    Returns
    -------
    float
        Wall time of the command, seconds.

    Raises
    ------
    ToolMissingError
        ``argv[0]`` cannot be executed.
    ToolError
        Non-zero exit status or timeout (the message quotes the log's last lines).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ)
    environment.update(env or {})
    started = time.perf_counter()
    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(f"$ {shlex.join(str(a) for a in argv)}\n")
        log.flush()
        try:
            process = subprocess.Popen(
                [str(a) for a in argv],
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )
        except OSError as error:
            raise ToolMissingError(
                f"picker {picker!r}: cannot run {argv[0]!r}: {error.strerror or error}"
            ) from None
        try:
            status = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            log.write(f"\n[topcup-bench] killed after the {timeout_s:g} s timeout\n")
            raise ToolError(
                f"picker {picker!r}: {Path(str(argv[0])).name} timed out after {timeout_s:g} s "
                f"(timeout_s); log: {log_path}"
            ) from None
        except BaseException:  # Ctrl-C: never leave the tool running
            _kill_group(process)
            raise
    seconds = time.perf_counter() - started
    if status != 0:
        raise ToolError(
            f"picker {picker!r}: {Path(str(argv[0])).name} exited with status {status}"
            f"{_tail(log_path)}; log: {log_path}"
        )
    return seconds


def tool_version(argv: Sequence[str], *, timeout_s: float = 60.0) -> str:
    """First non-empty output line of a version command (``"unknown: ..."`` when it fails)."""
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown: {type(error).__name__}"
    text = (done.stdout or "") + "\n" + (done.stderr or "")
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if done.returncode != 0:
        return f"unknown: exit status {done.returncode}" + (f" ({line[:80]})" if line else "")
    return line[:200] or "unknown: no output"


def log_folder(label: str) -> Path:
    """Folder of a picker's tool logs: ``$TOPCUP_BENCH_CACHE/logs/LABEL``."""
    return cache_dir() / "logs" / label


def run_log_path(label: str, parameters: object, name: str) -> Path:
    """Log file ``name`` (a run, or ``fit``) of a picker: ``log_folder(label)/<digest>/<name>.log``.

    ``<digest>`` is 12 hex digits of the canonical JSON of ``parameters``, so
    that two parameter sets of one label keep their own logs; the path is a
    function of its arguments only, so a parent process can name the log of a
    run picked in a worker.  Characters other than letters, digits and ``-_.``
    in ``name`` become ``_``.
    """
    from topcup_bench.identity import digest_json

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "run"
    return log_folder(label) / digest_json(parameters)[:12] / f"{safe}.log"


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    headers = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    lines = lines[headers[-1] + 1 :] if headers else lines  # this command's output only
    tail = [
        line.strip() for line in lines[-_TAIL_LINES:] if line.strip() and not line.startswith("$ ")
    ]
    return (": " + " | ".join(tail))[:400] if tail else ""
