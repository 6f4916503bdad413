"""TopCUP segmentation picker (increment 1: network, targets, checkpoints, inference).

Everything that imports :mod:`torch` or :mod:`monai` lives in this sub-package;
import its modules explicitly (``from topcup_bench.pickers.topcup import model``)
so that the rest of topcup-bench works without PyTorch.

Modules
-------
model
    :func:`~topcup_bench.pickers.topcup.model.build_model`, the TopCUP network
    (MONAI FlexibleUNet encoder and decoder, four 7-channel heads).
targets
    Axis helpers (z, y, x ↔ network x, y, z), ball targets from points, per-level targets.
checkpoint
    Our checkpoint format, and loaders for official TopCUP ``.ckpt`` / Kaggle ``.pth`` files.
infer
    Sliding-window prediction with flip TTA and model averaging; max-pool NMS to picks.
"""
