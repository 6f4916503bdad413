"""Seeded training epochs and DataLoader workers (topcup.md §12.2, §12.3)."""

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("monai")

from topcup_bench.errors import InputError  # noqa: E402
from topcup_bench.pickers.topcup.crops import CropSampler  # noqa: E402
from topcup_bench.pickers.topcup.loader import (  # noqa: E402
    _seed_worker,
    epoch_order,
    training_batches,
)

RUNS = ("a", "b", "c")


@pytest.fixture(scope="module")
def sampler():
    rng = np.random.default_rng(0)
    volumes = {r: rng.normal(size=(36, 40, 44)).astype(np.float32) for r in RUNS}
    points = {r: (rng.uniform(0, 360, size=(12, 3)), rng.integers(0, 2, size=12)) for r in RUNS}
    return CropSampler(volumes, points, 2, 10.0, crop=32, crops_per_item=2, tilt_p=0.5)


def _stream(sampler, **kwargs):
    args = dict(seed=1, epoch=0, items_per_epoch=6, batch_size=2, workers=0)
    return list(training_batches(sampler, **{**args, **kwargs}))


@pytest.fixture(scope="module")
def serial(sampler):
    return _stream(sampler)


def _equal(a, b):
    return (
        len(a) == len(b)
        and all(np.array_equal(x.images, y.images) for x, y in zip(a, b, strict=True))
        and all(np.array_equal(x.masks, y.masks) for x, y in zip(a, b, strict=True))
        and [x.runs for x in a] == [y.runs for y in b]
    )


def test_workers_give_the_same_stream_and_distinct_draws(sampler, serial):
    state = torch.get_rng_state()
    parallel = _stream(sampler, workers=2)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's torch RNG is untouched
    assert _equal(serial, parallel)
    assert len(parallel) == 3
    for batch in parallel:
        assert batch.images.shape == (4, 1, 32, 32, 32) and batch.masks.shape == (4, 2, 32, 32, 32)
        assert batch.images.dtype == np.float32 and batch.masks.dtype == np.float32
        assert float(batch.masks.min()) >= 0.0 and float(batch.masks.max()) <= 1.0
    # batch k comes from worker k % 2: no two crops of the epoch are alike, in particular
    # not two items of the same tomogram served by different workers (topcup.md §12.3)
    crops = [(run, image) for b in parallel for run, image in zip(b.runs, b.images, strict=True)]
    for i in range(len(crops)):
        for j in range(i + 1, len(crops)):
            assert not np.array_equal(crops[i][1], crops[j][1])
    worker0 = set(parallel[0].runs) | set(parallel[2].runs)
    assert worker0 & set(parallel[1].runs)  # (for this seed) a tomogram served by both workers


def test_epochs_differ_and_seeds_reproduce(sampler, serial):
    assert _equal(serial, _stream(sampler))
    other_seed = _stream(sampler, seed=2)
    next_epoch = _stream(sampler, epoch=1)
    for other in (other_seed, next_epoch):
        assert not any(np.array_equal(x.images, y.images) for x in serial for y in other)


def test_every_run_appears_with_balanced_counts(sampler, serial):
    runs = [r for batch in serial for r in batch.runs]
    assert sorted(runs) == sorted(list(RUNS) * 4)  # 6 items of 2 crops over 3 runs
    for items, n_runs in ((7, 3), (5, 4), (2, 5), (12, 4)):
        for epoch in range(4):
            counts = np.bincount(epoch_order(n_runs, items, 0, epoch), minlength=n_runs)
            assert counts.sum() == items and counts.max() - counts.min() <= 1
            assert counts.max() <= -(-items // n_runs)
    orders = {tuple(epoch_order(3, 9, 0, e)) for e in range(5)}
    assert len(orders) > 1  # reshuffled every epoch
    # drop_last: 7 items in batches of 2 give 3 batches
    assert (
        len(list(training_batches(sampler, seed=0, epoch=0, items_per_epoch=7, batch_size=2))) == 3
    )


def test_worker_seeding_differs_per_worker_and_epoch():
    torch_state, np_state, py_state = (
        torch.get_rng_state(),
        np.random.get_state(),  # noqa: NPY002
        random.getstate(),
    )
    try:
        draws = []
        for worker, epoch in ((0, 0), (1, 0), (0, 1), (0, 0)):
            _seed_worker(worker, seed=3, epoch=epoch)
            draws.append((float(torch.rand(())), float(np.random.random()), random.random()))  # noqa: NPY002
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    assert draws[0] == draws[3]
    assert len({d[0] for d in draws[:3]}) == 3 and len({d[1] for d in draws[:3]}) == 3


def test_bad_arguments_rejected(sampler):
    with pytest.raises(InputError):
        next(training_batches(sampler, seed=0, epoch=0, items_per_epoch=1, batch_size=2))
    with pytest.raises(InputError):
        next(training_batches(sampler, seed=-1, epoch=0, items_per_epoch=4, batch_size=2))
    with pytest.raises(InputError):
        next(training_batches(sampler, seed=0, epoch=0, items_per_epoch=4, batch_size=0))
    with pytest.raises(InputError):
        epoch_order(0, 3, 0, 0)
