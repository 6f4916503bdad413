"""asv benchmarks of TopCUP inference and training steps on CPU (random weights, two threads).

One 92 × 160 × 160 tomogram (the ``small-kaggle-like`` size), the full-size
resnet34 TopCUP network (70.7 M parameters, random weights), 96³ windows with
overlap 0.21 (2 × 2 × 1 windows after padding z to 96). ``TopcupPlainMonai`` is
the baseline: MONAI ``sliding_window_inference`` alone on the network's
half-resolution logits (every head computed, default layout, 2 windows per pass,
fp32, no TTA, no upsampling or softmax). ``TopcupPredict`` times
``predict_heatmaps`` (stride-2 head only, channels-last convolutions with batch
norm folded, 4 windows per pass; z-scoring, upsampling and softmax included)
without and with flip TTA, after one warm-up call (the folded weights are cached
per network); ``TopcupPredictFirstCall`` includes building them;
``TopcupPredictReference`` is the unoptimised path (``reference=True``).
``precision="bf16"`` is skipped on CPUs without native bfloat16 convolutions
(it is 50 to 500 times slower there). Skipped when PyTorch or MONAI is not installed.
"""

from __future__ import annotations

import numpy as np

SHAPE_ZYX = (92, 160, 160)
THREADS = 2


def _setup_model():
    try:
        import torch

        from topcup_bench.pickers.topcup.model import build_model
    except ImportError as error:  # asv skips a benchmark whose setup raises NotImplementedError
        raise NotImplementedError(f"TopCUP benchmarks need torch and monai: {error}") from None
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = build_model("resnet34", n_classes=6).eval()
    volume = np.random.default_rng(0).normal(size=SHAPE_ZYX).astype(np.float32)
    return model, volume


def _predict(model, volume, **kwargs):
    from topcup_bench.pickers.topcup.infer import predict_heatmaps

    return predict_heatmaps(model, volume, roi=96, overlap=0.21, device="cpu", **kwargs)


class SlowTiming:
    """asv timing of slow benchmarks: one call per sample, three samples, no warm-up loop."""

    timeout = 600
    number = 1
    repeat = 3
    warmup_time = 0


class TopcupPredict(SlowTiming):
    """``predict_heatmaps`` on one 92 × 160 × 160 tomogram, resnet34, roi 96, overlap 0.21."""

    params = ([False, True], ["fp32", "bf16"])
    param_names = ["tta_flips", "precision"]

    def setup(self, tta_flips, precision):
        self.model, self.volume = _setup_model()
        if precision == "bf16":
            import torch

            from topcup_bench.pickers.topcup.inference_model import native_bf16

            if not native_bf16(torch.device("cpu")):
                raise NotImplementedError("this CPU has no native bfloat16 convolutions")
        _predict(self.model, self.volume, tta_flips=False, precision=precision)  # warm-up

    def time_predict_heatmaps(self, tta_flips, precision):
        _predict(self.model, self.volume, tta_flips=tta_flips, precision=precision)


class TopcupPredictFirstCall(SlowTiming):
    """The same, no TTA, fp32, including the folded channels-last weight copies."""

    def setup(self):
        self.model, self.volume = _setup_model()
        _predict(self.model, self.volume, tta_flips=False)  # oneDNN warm-up

    def time_predict_heatmaps_first_call(self):
        from topcup_bench.pickers.topcup.inference_model import clear_inference_cache

        clear_inference_cache()
        _predict(self.model, self.volume, tta_flips=False)


class TopcupPredictReference(SlowTiming):
    """``predict_heatmaps(..., reference=True)``: every head, default layout (no TTA, fp32)."""

    def setup(self):
        self.model, self.volume = _setup_model()
        _predict(self.model, self.volume, tta_flips=False, reference=True)  # warm-up

    def time_predict_heatmaps_reference(self):
        _predict(self.model, self.volume, tta_flips=False, reference=True)


class TopcupPlainMonai(SlowTiming):
    """MONAI ``sliding_window_inference`` alone on the same model and tomogram (fp32, no TTA)."""

    def setup(self):
        self.model, self.volume = _setup_model()
        self.time_sliding_window_inference()  # warm-up

    def time_sliding_window_inference(self):
        import torch
        from monai.inferers import sliding_window_inference

        x = torch.from_numpy(self.volume).permute(2, 1, 0)[None, None].contiguous()
        with torch.inference_mode():
            sliding_window_inference(
                x, (96, 96, 96), 2, lambda w: self.model(w)[-1], overlap=0.21, mode="constant"
            )


class TopcupExtractPicks:
    """``extract_picks`` (max-pool NMS, six classes) on random 92 × 160 × 160 heatmaps."""

    timeout = 120
    number = 1
    repeat = 5
    warmup_time = 0

    def setup(self):
        try:
            import torch
        except ImportError as error:
            raise NotImplementedError(str(error)) from None
        torch.set_num_threads(THREADS)
        rng = np.random.default_rng(0)
        self.heat = rng.random((6, *SHAPE_ZYX), dtype=np.float32)
        self.names = ["apo", "bamy", "bgal", "ribo", "thyro", "vlp"]
        self.radii = [60.0, 65.0, 90.0, 150.0, 130.0, 135.0]

    def time_extract_picks(self):
        from topcup_bench.pickers.topcup.infer import extract_picks

        extract_picks(self.heat, self.names, self.radii, 10.0, device="cpu")


class TopcupTrainStep(SlowTiming):
    """One optimisation step (forward, multi-level loss, backward, Adam) of the resnet34 net.

    ``quick``: 1 item × 2 crops of 64³ (the CPU budgets); ``published``: 1 item × 4 crops
    of 96³ (a sixteenth of the published batch of 16 items). Random crops and targets;
    ``bf16``: the forward pass under CPU bf16 autocast (``amp="bf16"``).
    """

    params = (["quick", "published"], ["fp32", "bf16"])
    param_names = ["crops", "precision"]

    def setup(self, crops, precision):
        try:
            import torch

            from topcup_bench.pickers.topcup.loss import class_weights
            from topcup_bench.pickers.topcup.model import build_model
        except ImportError as error:
            raise NotImplementedError(f"TopCUP benchmarks need torch and monai: {error}") from None
        torch.set_num_threads(THREADS)
        torch.manual_seed(0)
        n, size = (2, 64) if crops == "quick" else (4, 96)
        self.model = build_model("resnet34", n_classes=6).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.images = torch.randn(n, 1, size, size, size)
        self.masks = (torch.rand(n, 6, size, size, size) > 0.999).float()
        self.weights = class_weights(6, 256.0)
        self.autocast = precision == "bf16"
        self._step()  # warm the allocator and Adam state outside the timing

    def _step(self):
        from topcup_bench.pickers.topcup.loss import TOPCUP_LEVEL_WEIGHTS, multilevel_loss
        from topcup_bench.pickers.topcup.train import optimisation_step

        def loss_fn(outputs, masks):
            return multilevel_loss(outputs, masks, self.weights, TOPCUP_LEVEL_WEIGHTS)

        optimisation_step(
            self.model, self.optimizer, self.images, self.masks, loss_fn, autocast=self.autocast
        )

    def time_train_step(self, crops, precision):
        self._step()

    def peakmem_train_step(self, crops, precision):
        self._step()
