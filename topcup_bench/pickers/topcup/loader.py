"""Seeded training epochs, optionally served by DataLoader workers.

Fixes topcup.md §12.2 (no shuffling) and §12.3 (duplicated worker RNG):

* **Order.** An epoch of ``items_per_epoch`` items (item = ``crops_per_item``
  crops of one tomogram) visits the runs in a random order drawn from
  ``SeedSequence((seed, epoch))``; every run appears ``items // runs`` or
  ``items // runs + 1`` times.
* **Draws.** Item ``i`` of an epoch draws its crops and augmentations from
  ``default_rng(SeedSequence((seed, epoch, i)))``, whoever computes it, so the
  stream is bitwise the same for any number of workers, and every item, epoch
  and worker gets its own draws.
* **Workers.** With ``workers > 0`` a :class:`torch.utils.data.DataLoader`
  (no shuffling, the order is already seeded; ``drop_last``; non-persistent
  workers) serves whole batches; each worker's global torch / NumPy / ``random``
  generators are reseeded from ``(seed, epoch, worker id)`` for any third-party
  randomness. Workers get the sampler's in-memory volumes by fork (the default
  start method on Linux) without copying.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from topcup_bench.errors import InputError
from topcup_bench.pickers.topcup.crops import CropBatch, CropSampler

__all__ = ["epoch_order", "item_rng", "EpochItems", "collate_items", "training_batches"]

#: Spawn key that keeps worker seeds apart from item seeds with the same entropy.
_WORKER_KEY = (1,)


def _check_nonnegative(**values: int) -> None:
    for name, value in values.items():
        if int(value) < 0:
            raise InputError("loader", f"{name} must be >= 0, got {value}")


def epoch_order(n_runs: int, items: int, seed: int, epoch: int) -> np.ndarray:
    """Run index of every item of one epoch, balanced and shuffled.

    Each run appears ``items // n_runs`` times, plus once more for
    ``items % n_runs`` runs chosen at random; the whole list is then shuffled.
    Both draws use ``default_rng(SeedSequence((seed, epoch)))``.

    Parameters
    ----------
    n_runs : int
        Number of training tomograms, >= 1.
    items : int
        Items in the epoch, >= 0.
    seed, epoch : int
        Non-negative.

    Returns
    -------
    numpy.ndarray of int64, shape (items,)

    Examples
    --------
    >>> np.bincount(epoch_order(3, 7, seed=0, epoch=0), minlength=3).tolist() in (
    ...     [3, 2, 2], [2, 3, 2], [2, 2, 3])
    True
    """
    if n_runs < 1:
        raise InputError("loader", f"need at least one run, got {n_runs}")
    _check_nonnegative(items=items, seed=seed, epoch=epoch)
    rng = np.random.default_rng(np.random.SeedSequence((int(seed), int(epoch))))
    full, extra = divmod(int(items), int(n_runs))
    order = np.concatenate(
        [np.tile(np.arange(n_runs), full), np.sort(rng.choice(n_runs, extra, replace=False))]
    ).astype(np.int64)
    return rng.permutation(order)


def item_rng(seed: int, epoch: int, item: int) -> np.random.Generator:
    """The generator of one item: ``default_rng(SeedSequence((seed, epoch, item)))``."""
    _check_nonnegative(seed=seed, epoch=epoch, item=item)
    return np.random.default_rng(np.random.SeedSequence((int(seed), int(epoch), int(item))))


class EpochItems(Dataset):
    """Map-style dataset of one epoch: index ``i`` → the ``i``-th item's crops.

    Parameters
    ----------
    sampler : CropSampler
    order : sequence of int, shape (items,)
        Run index (into ``sampler.runs``) of every item.
    seed, epoch : int
        Item ``i`` uses :func:`item_rng` ``(seed, epoch, i)``.
    """

    def __init__(self, sampler: CropSampler, order: Sequence[int], seed: int, epoch: int) -> None:
        self.sampler = sampler
        self.order = np.asarray(order, dtype=np.int64)
        self.seed, self.epoch = int(seed), int(epoch)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, index: int) -> CropBatch:
        """``crops_per_item`` crops: images (K, 1, S, S, S), masks (K, C, S, S, S)."""
        run = self.sampler.runs[int(self.order[index])]
        return self.sampler.sample_item(run, item_rng(self.seed, self.epoch, int(index)))


def collate_items(items: Sequence[CropBatch]) -> CropBatch:
    """Concatenate items along the crop axis, as :meth:`CropSampler.batches` does.

    Parameters
    ----------
    items : sequence of CropBatch
        Images (K, 1, S, S, S) and masks (K, C, S, S, S) each.

    Returns
    -------
    CropBatch
        Images (len(items)·K, 1, S, S, S), masks (len(items)·K, C, S, S, S).
    """
    return CropBatch(
        np.concatenate([p.images for p in items]),
        np.concatenate([p.masks for p in items]),
        [r for p in items for r in p.runs],
    )


def _seed_worker(worker_id: int, seed: int, epoch: int) -> None:
    """Reseed a worker's global torch, NumPy and ``random`` generators."""
    sequence = np.random.SeedSequence((seed, epoch, worker_id), spawn_key=_WORKER_KEY)
    state = sequence.generate_state(2, dtype=np.uint32)
    torch.manual_seed(int(state[0]) << 32 | int(state[1]))
    np.random.seed(state)  # noqa: NPY002 - third-party code may use the legacy global RNG
    random.seed(int(state[0]) << 32 | int(state[1]))


def training_batches(
    sampler: CropSampler,
    *,
    seed: int,
    epoch: int,
    items_per_epoch: int,
    batch_size: int,
    workers: int = 0,
    first_batch: int = 0,
) -> Iterator[CropBatch]:
    """The batches of one training epoch, optionally from batch ``first_batch`` on.

    Parameters
    ----------
    sampler : CropSampler
    seed : int
        Base seed, >= 0.
    epoch : int
        Epoch number, >= 0.
    items_per_epoch : int
        Items (tomograms) in the epoch, >= ``batch_size``; the last incomplete
        batch is dropped.
    batch_size : int
        Items per batch, >= 1.
    workers : int
        DataLoader worker processes; 0 computes the items in this process. The
        batches do not depend on it.
    first_batch : int
        Batches of the epoch already consumed (a run resumed within an epoch):
        they are skipped without being computed, and the batches that follow are
        those of the full epoch (every item keeps its index and its seed).

    Yields
    ------
    CropBatch
        Batches ``first_batch`` to ``items_per_epoch // batch_size - 1``: images
        (B·K, 1, S, S, S) and masks (B·K, C, S, S, S), float32 NumPy arrays,
        ``K = sampler.crops_per_item``.
    """
    _check_nonnegative(seed=seed, epoch=epoch, workers=workers, first_batch=first_batch)
    if batch_size < 1 or items_per_epoch < batch_size:
        raise InputError(
            "loader",
            f"need batch_size >= 1 and items_per_epoch >= batch_size, "
            f"got {batch_size} and {items_per_epoch}",
        )
    n_batches = int(items_per_epoch) // int(batch_size)
    first = int(first_batch)
    if first > n_batches:
        raise InputError(
            "loader", f"first_batch {first} is past the epoch's last batch ({n_batches} batches)"
        )
    order = epoch_order(len(sampler.runs), int(items_per_epoch), seed, epoch)
    dataset = EpochItems(sampler, order, seed, epoch)
    if workers == 0:
        for b in range(first, n_batches):
            yield collate_items([dataset[i] for i in range(b * batch_size, (b + 1) * batch_size)])
        return
    if first == n_batches:
        return
    # a Subset keeps every item's own index (and so its seed): only the start moves
    items = dataset if first == 0 else Subset(dataset, range(first * batch_size, len(dataset)))
    loader = DataLoader(
        items,
        batch_size=int(batch_size),
        shuffle=False,
        num_workers=int(workers),
        collate_fn=collate_items,
        drop_last=True,
        persistent_workers=False,
        worker_init_fn=functools.partial(_seed_worker, seed=int(seed), epoch=int(epoch)),
        # an explicit generator: creating the workers' base seed must not consume the
        # caller's global torch RNG, so workers = 0 and workers > 0 leave it alike
        generator=torch.Generator().manual_seed(int(seed)),
    )
    yield from loader
