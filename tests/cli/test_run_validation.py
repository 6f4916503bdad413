"""``topcup-bench run`` refuses options no run can use, before any work (exit 2, flag named)."""

from __future__ import annotations

import pytest

from topcup_bench import BenchmarkConfig
from topcup_bench.benchmark_config import load_config
from topcup_bench.cli import main
from topcup_bench.errors import InputError, SchemaError
from topcup_bench.executors import check_scheduler, make_executor, max_workers


def _run(tmp_path, capsys, *options):
    out = tmp_path / "out"
    code = main(
        ["run", "--dataset", "phantom:tiny", "--quiet", "--no-report", "--out", str(out)]
        + list(options)
    )
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not out.exists()  # refused before anything was written
    return code, err


@pytest.mark.parametrize("pickers", [",", "", " , ,"])
def test_no_picker_given_exits_2(tmp_path, capsys, pickers):
    code, err = _run(tmp_path, capsys, "--pickers", pickers)
    assert code == 2
    assert err.startswith("error: --pickers: no picker given")


def test_empty_pickers_in_toml_names_the_file(tmp_path, capsys):
    path = tmp_path / "bench.toml"
    path.write_text("pickers = []\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="pickers: no picker given") as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert main(["run", "--config", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {path}: pickers: no picker given")


def test_empty_pickers_from_python_is_an_input_error():
    with pytest.raises(InputError, match="no picker given"):
        BenchmarkConfig(pickers=())


@pytest.mark.parametrize(
    "address", ["bogus", "tcp://host", "tcp://h:0", "tcp://h:70000", "http://h:8786", "h:port"]
)
def test_bad_scheduler_address_exits_2(tmp_path, capsys, address):
    code, err = _run(
        tmp_path, capsys, "--pickers", "oracle", "--executor", "dask", "--scheduler", address
    )
    assert code == 2
    assert err.startswith("error: --scheduler: expected a dask scheduler address")
    assert repr(address) in err


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "scheduler.local:8786", "tls://[::1]:8786"]
)
def test_good_scheduler_addresses_pass(address):
    check_scheduler(address)


def test_scheduler_without_dask_exits_2(tmp_path, capsys):
    code, err = _run(tmp_path, capsys, "--pickers", "oracle", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2
    assert "--scheduler needs --executor dask" in err


def test_scheduler_without_dask_in_toml_names_the_file(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[run]\nscheduler = "tcp://127.0.0.1:1"\n', encoding="utf-8")
    with pytest.raises(SchemaError, match=r"\[run\] scheduler: --scheduler needs --executor dask"):
        load_config(path)


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_too_many_workers_exits_2(tmp_path, capsys, executor):
    code, err = _run(
        tmp_path, capsys, "--pickers", "oracle", "--executor", executor, "--workers", "100000"
    )
    assert code == 2
    assert err.startswith(f"error: --workers: at most {max_workers()} workers")
    assert "found 100000" in err


def test_workers_at_the_bound_are_accepted():
    assert BenchmarkConfig(workers=max_workers()).workers == max_workers()


def test_the_pool_is_capped_at_the_number_of_tasks():
    with make_executor("processes", workers=max_workers(), tasks=1) as pool:
        assert pool.pool._max_workers == 1  # no process is started before a task is submitted


def test_toml_scheduler_with_dask_from_the_command_line_is_valid(tmp_path):
    path = tmp_path / "bench.toml"
    path.write_text('[run]\nscheduler = "tcp://127.0.0.1:8786"\n', encoding="utf-8")
    config = load_config(path, executor="dask", workers=None)
    assert (config.executor, config.scheduler) == ("dask", "tcp://127.0.0.1:8786")


def test_bad_command_line_value_with_a_config_names_the_flag(tmp_path, capsys):
    path = tmp_path / "bench.toml"
    path.write_text('[dataset]\nspec = "phantom:tiny"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"^--workers: at most"):
        load_config(path, workers=100000)
    assert main(["run", "--config", str(path), "--workers", "100000"]) == 2
    assert capsys.readouterr().err.startswith("error: --workers: at most")
