"""``topcup``: the TopCUP ensemble as a registered, trainable picker.

Two ways to get an ensemble:

* ``weights=PATH[,PATH...]``: checkpoints of our format (``topcup-bench train``),
  official TopCUP Lightning ``.ckpt`` or original Kaggle ``.pth`` files
  (``trusted=true`` for files that need ``weights_only=False``); each item may
  also be a folder (every ``*.pt``, ``*.pth``, ``*.ckpt`` in it, sorted by name)
  or a glob pattern (sorted), as the official CLI accepts. ``fit`` then trains
  nothing.
* trained by ``fit`` on the dataset's training runs: ``members`` networks on
  nested subsets of the runs (the published ensemble used 6, 12 and 24
  tomograms), member ``i`` seeded ``seed + i``, with the ``budget`` recipe
  (``quick`` for the CPU default run, ``standard``, ``full`` = the published
  recipe, for a GPU). Trained members are cached under
  ``<cache>/topcup/<key>/`` where the key hashes the dataset identity, the runs,
  the recipe, the backbone and the seed, so a second run does not retrain; an
  interrupted member resumes from its last step checkpoint. ``init_weights=PATH``
  starts every member from a checkpoint (fine-tuning), ``pretrain=SPEC`` from one
  network trained first on another dataset (:mod:`.pretraining`); classes are mapped
  by name (:mod:`.transfer`).

Channels are mapped to classes by name from the checkpoint metadata (never by
the order of classes in a config, topcup.md §12.6): a checkpoint class missing
from the dataset's catalogue is an error. The picks' score is the ensemble
probability at the peak. The picker's own operating point, per class, is the
first of: the checkpoints' validated thresholds (median over the members that
have one; an official file's ``score_thresholds`` above 0), the catalogue's
``score_threshold`` (copick ``metadata.score_threshold``), the ``threshold``
parameter (:meth:`TopCUPPicker.threshold_sources` says which one each class got).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from topcup_bench.errors import InputError
from topcup_bench.pickers.protocol import TrainablePicker
from topcup_bench.pickers.validation import check_boolean, check_integer, check_number
from topcup_bench.types import ClassCatalogue, Tomogram, empty_picks_table

__all__ = ["TopCUPPicker", "BUDGETS", "parse_int_list"]

#: Picker budgets → training recipes.
BUDGETS = {"quick": "quick", "standard": "standard", "full": "topcup"}
#: Relative voxel-size difference from the checkpoint's beyond which picking is refused.
VOXEL_TOLERANCE = 0.05


def parse_int_list(text: str, label: str) -> tuple[int, ...]:
    """``"256,128,64"`` → ``(256, 128, 64)``; an error names ``label`` and the text."""
    try:
        values = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise InputError("topcup", f"parameter {label} must be integers, found {text!r}") from None
    if not values or min(values) < 1:
        raise InputError("topcup", f"parameter {label} must be positive integers, found {text!r}")
    return values


class TopCUPPicker(TrainablePicker):
    """Ensemble of TopCUP 3-D U-Nets: sliding-window heatmaps, flip TTA, max-pool NMS.

    Parameters
    ----------
    weights : str
        Comma-separated checkpoint files; empty: train with ``fit``.
    budget : {"quick", "standard", "full"}
        Training recipe of ``fit`` (``full`` = the published TopCUP recipe).
    backbone : str
        FlexibleUNet encoder of trained members (``resnet34`` as published).
    members : int
        Networks trained on nested subsets of the training runs.
    steps : int
        Total optimisation steps per member; 0 = the budget's.
    decoder_channels : str
        Decoder widths, comma-separated (published: 256,128,64,32,16).
    seed : int
        Seed of member 0 (member ``i`` uses ``seed + i``).
    tta : bool
        Average the all-axes flipped prediction.
    roi : int
        Sliding-window edge, voxels (multiple of 32).
    overlap : float
        Window overlap fraction.
    sw_batch_size : int
        Windows per forward pass; 0: 4 on the CPU (plain and flipped views batched
        together), 2 on a GPU (halved automatically on GPU out-of-memory).
    precision : {"fp32", "bf16"}
        Arithmetic of the forward passes (``bf16``: opt-in, picks differ slightly).
    device : str
        ``auto`` (CUDA if available), ``cpu``, ``cuda``, ``cuda:1``...
    min_score : float
        Candidate floor: peaks need a probability above this.
    threshold : float
        Operating point of classes without a validated threshold.
    trusted : bool
        Allow ``weights_only=False`` loading (official TopCUP files; trusted files only).
    dedupe_across_classes : bool
        Keep one pick per voxel across classes, as the official final table does
        (:mod:`~topcup_bench.pickers.topcup.dedupe`: the lowest channel's pick above
        its class's threshold of this picker's operating point wins).
    init_weights : str
        Checkpoint every trained member starts from (fine-tuning; any file ``weights``
        accepts; classes mapped by name, heads of new classes initialised afresh).
    pretrain : str
        Dataset specification to pretrain one network on first; the members then start
        from it (:mod:`~topcup_bench.pickers.topcup.pretraining`). It must share no
        tomogram with the benchmark dataset.
    pretrain_steps : int
        Steps of the pretraining run; 0 = one member's steps (``steps`` or the budget's).
    """

    name = "topcup"
    version = "1"
    description = "TopCUP ensemble of MONAI FlexibleUNet 3-D U-Nets (heatmaps + max-pool NMS)"
    citation = (
        "CZII CryoET Object Identification, 1st place (Kaggle 2025); TopCUP, "
        "github.com/czimaginginstitute/czii_cryoet_mlchallenge_winning_models"
    )
    licence = "MIT"

    def __init__(
        self,
        weights: str = "",
        budget: str = "quick",
        backbone: str = "resnet34",
        members: int = 3,
        steps: int = 0,
        decoder_channels: str = "256,128,64,32,16",
        seed: int = 0,
        tta: bool = True,
        roi: int = 96,
        overlap: float = 0.21,
        sw_batch_size: int = 0,
        device: str = "auto",
        min_score: float = 0.05,
        threshold: float = 0.2,
        trusted: bool = False,
        dedupe_across_classes: bool = False,
        precision: str = "fp32",
        init_weights: str = "",
        pretrain: str = "",
        pretrain_steps: int = 0,
    ) -> None:
        if budget not in BUDGETS:
            raise InputError(
                "topcup", f"parameter budget must be one of {list(BUDGETS)}: {budget!r}"
            )
        self.weights = str(weights)
        self.budget = budget
        self.backbone = str(backbone)
        self.members = check_integer("topcup", "members", members, 1)
        self.steps = check_integer("topcup", "steps", steps, 0)
        self.decoder_channels = str(decoder_channels)
        parse_int_list(self.decoder_channels, "decoder_channels")
        self.seed = check_integer("topcup", "seed", seed, 0)
        self.tta = check_boolean("topcup", "tta", tta)
        self.roi = check_integer("topcup", "roi", roi, 32)
        if self.roi % 32:
            raise InputError("topcup", f"parameter roi must be a multiple of 32, found {roi}")
        self.overlap = check_number("topcup", "overlap", overlap, low=0.0)
        if self.overlap >= 1:
            raise InputError("topcup", f"parameter overlap must be < 1, found {overlap}")
        self.sw_batch_size = check_integer("topcup", "sw_batch_size", sw_batch_size, 0)
        if precision not in ("fp32", "bf16"):
            raise InputError(
                "topcup", f"parameter precision must be fp32 or bf16, found {precision!r}"
            )
        self.precision = precision
        self.device = str(device)
        self.min_score = check_number("topcup", "min_score", min_score, low=0.0)
        self.threshold = check_number("topcup", "threshold", threshold, low=0.0)
        self.trusted = check_boolean("topcup", "trusted", trusted)
        self.dedupe_across_classes = check_boolean(
            "topcup", "dedupe_across_classes", dedupe_across_classes
        )
        self.init_weights = str(init_weights).strip()
        self.pretrain = str(pretrain).strip()
        self.pretrain_steps = check_integer("topcup", "pretrain_steps", pretrain_steps, 0)
        if self.init_weights and self.pretrain:
            raise InputError(
                "topcup",
                "give init_weights (start every member from a checkpoint) or pretrain (train "
                "that start on another dataset first), not both",
            )
        if self.weights and (self.init_weights or self.pretrain):
            raise InputError(
                "topcup",
                "weights=... loads finished networks and trains nothing; init_weights and "
                "pretrain are starting points of training, so they cannot be combined with it",
            )
        if self.init_weights and not Path(self.init_weights).is_file():
            raise InputError(self.init_weights, "init_weights: checkpoint file not found")
        self.trained_on: tuple[str, ...] = ()
        self._models: list[Any] = []
        self._metadata: list[dict[str, Any]] = []

    def input_digest(self, dataset, run: str) -> str:
        """The run's tomogram digest, plus the content of the ``weights`` files when given.

        Folders and patterns are resolved first, so the digest lists the content
        of every file they name, in order (a file added to a folder changes it;
        a folder and the explicit sorted list of its files give the same digest).

        Raises
        ------
        InputError
            A ``weights`` folder without checkpoints, or a pattern without a match.
        """
        from topcup_bench.identity import digest_file, digest_json
        from topcup_bench.pickers.topcup.checkpoint import resolve_checkpoint_paths

        paths = resolve_checkpoint_paths(self.weights)
        return digest_json(
            {
                "tomogram": dataset.run_digest(run),
                "weights": [digest_file(p) if p.is_file() else None for p in paths],
            }
        )

    # ------------------------------------------------------------------ ensemble
    def fit(self, dataset, runs: Sequence[str]) -> None:
        """Load ``weights``, or train (or load from the cache) ``members`` networks on ``runs``.

        Raises
        ------
        InputError
            No runs to train on, unreadable checkpoints, or checkpoint classes the
            dataset does not have.
        """
        if self.weights:
            self._load_weights()
        else:
            self._train_or_load(dataset, list(runs))
        self._check_classes(dataset.classes, f"dataset {dataset.name!r}")

    def _load_weights(self) -> None:
        from topcup_bench.pickers.topcup.checkpoint import (
            load_any_checkpoint,
            resolve_checkpoint_paths,
        )

        paths = resolve_checkpoint_paths(self.weights)
        loaded = [
            load_any_checkpoint(
                p, backbone=self.backbone, trusted=self.trusted, model_kwargs=self._model_kwargs()
            )
            for p in paths
        ]
        self._models = [c.inference_model for c in loaded]
        self._metadata = [c.metadata for c in loaded]
        self.trained_on = tuple(
            sorted({r for m in self._metadata for r in m.get("split", {}).get("train", [])})
        )

    def _train_or_load(self, dataset, runs: list[str]) -> None:
        from topcup_bench.pickers.topcup.checkpoint import load_checkpoint, save_checkpoint
        from topcup_bench.pickers.topcup.recipes import nested_subsets
        from topcup_bench.pickers.topcup.train import train_model

        if not runs:
            raise InputError("topcup", "fit needs at least one training run (or weights=PATH)")
        folder = self.cache_folder(dataset, runs)
        device = None if self.device == "auto" else self.device
        start = self.init_weights or None
        if self.pretrain:
            start = str(self._pretrained_start(dataset, folder, device))
        self._models, self._metadata = [], []
        subsets = nested_subsets(runs, self.members)
        for index, subset in enumerate(subsets):
            final = folder / f"member{index}.pt"
            if not final.is_file():
                result = train_model(
                    dataset, subset, backbone=self.backbone, recipe=BUDGETS[self.budget],
                    seed=self.seed + index, device=device,
                    out_dir=folder / f"member{index}", resume=True, keep_training_state=False,
                    model_kwargs=self._model_kwargs(), steps=self.steps or None, progress=None,
                    init_weights=start, trusted=self.trusted,
                    progress_label=f"topcup member {index + 1}/{len(subsets)} "
                    f"({len(subset)} runs)",
                )  # fmt: skip
                save_checkpoint(
                    final, result.inference_model, classes=dataset.classes.names,
                    radii_angstrom={c.name: c.radius_angstrom for c in dataset.classes},
                    voxel_size_angstrom=dataset.voxel_size_angstrom, recipe=result.config,
                    split={"train": subset}, overwrite=True,
                    validated_weights="ema" if result.ema_model is not None else "raw",
                )  # fmt: skip
                for name in ("last.pt", "model.pt", "best.pt"):
                    (folder / f"member{index}" / name).unlink(missing_ok=True)
            loaded = load_checkpoint(final)
            self._models.append(loaded.model)
            self._metadata.append(loaded.metadata)
        self.trained_on = tuple(runs)

    def _pretrained_start(self, dataset, folder: Path, device) -> Path:
        from topcup_bench.pickers.topcup.pretraining import PretrainPlan, pretrained_start

        plan = PretrainPlan(self.pretrain, self._pretrain_steps(), self.seed + self.members)
        return pretrained_start(
            plan, dataset, folder, backbone=self.backbone, recipe=BUDGETS[self.budget],
            model_kwargs=self._model_kwargs(), device=device,
            progress_label=f"topcup pretraining ({plan.steps} steps)",
        )  # fmt: skip

    def _pretrain_steps(self) -> int:
        """``pretrain_steps``, or one member's steps of the budget when 0."""
        from topcup_bench.pickers.topcup.recipes import RECIPES

        if self.pretrain_steps:
            return self.pretrain_steps
        if self.steps:
            return self.steps
        recipe = RECIPES[BUDGETS[self.budget]]
        if recipe["steps_per_epoch"] is None:
            raise InputError(
                "topcup",
                f"budget {self.budget!r} sets its epoch length by the number of runs: give "
                "pretrain_steps explicitly",
            )
        return int(recipe["epochs"]) * int(recipe["steps_per_epoch"])

    def _model_kwargs(self) -> dict[str, Any]:
        channels = parse_int_list(self.decoder_channels, "decoder_channels")
        return {} if channels == (256, 128, 64, 32, 16) else {"decoder_channels": channels}

    def cache_folder(self, dataset, runs: Sequence[str]) -> Path:
        """Folder of the trained members for ``dataset`` and ``runs`` (created).

        Keyed by what training reads: the training runs' tomograms and ground
        truth, the classes, voxel size and tomogram type, and the recipe, never
        the other runs of the dataset, so that datasets sharing their training
        runs (``phantom:default`` and ``phantom:paper``) share the members.
        """
        from topcup_bench.datasets.catalog import cache_dir
        from topcup_bench.pick_cache import training_identity
        from topcup_bench.pickers.topcup.recipes import RECIPES

        identity = {
            "dataset": training_identity(dataset, runs),
            "runs": list(runs),
            "recipe": RECIPES[BUDGETS[self.budget]],
            "steps": self.steps,
            "backbone": self.backbone,
            "decoder_channels": self.decoder_channels,
            "members": self.members,
            "seed": self.seed,
            "classes": list(dataset.classes.names),
            "version": self.version,
        }
        if self.init_weights:  # only when used: caches of plain training keep their keys
            from topcup_bench.identity import digest_file

            identity["init_weights"] = digest_file(Path(self.init_weights))
        if self.pretrain:
            from topcup_bench.pickers.topcup.pretraining import open_pretraining_dataset

            pretraining = open_pretraining_dataset(self.pretrain, dataset)
            identity["pretrain"] = {
                "dataset": pretraining.identity(),
                "runs": list(pretraining.runs),
                "steps": self._pretrain_steps(),
                "seed": self.seed + self.members,
            }
        text = json.dumps(identity, sort_keys=True, default=str)
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        folder = cache_dir() / "topcup" / f"{self.budget}-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "identity.json", "w", encoding="utf-8") as handle:
            handle.write(json.dumps(identity, indent=2, default=str))
        return folder

    def _check_classes(self, classes: ClassCatalogue, where: str) -> None:
        if not self._models:
            raise InputError("topcup", "no networks: call fit first (or give weights=PATH)")
        available = set(classes.names)
        for meta in self._metadata:
            unknown = [n for n in meta["classes"] if n not in available]
            if unknown:
                raise InputError(
                    "topcup",
                    f"checkpoint classes {unknown} are not in {where} (classes: "
                    f"{sorted(available)}); channels are mapped by name, so names must match",
                )
        first = self._metadata[0]["classes"]
        if any(m["classes"] != first for m in self._metadata):
            raise InputError(
                "topcup", "ensemble members have different channel orders; they cannot be averaged"
            )

    # ------------------------------------------------------------------ picking
    def thresholds(self, classes: ClassCatalogue) -> dict[str, float]:
        """The operating point per class: checkpoint, else catalogue, else ``threshold``.

        In order: the median over members of the checkpoints' validated thresholds
        (``metadata["thresholds"]``; for an official TopCUP file its
        ``score_thresholds`` above 0), the class's ``score_threshold`` in
        ``classes`` (copick ``metadata.score_threshold``), the ``threshold``
        parameter. With ``weights`` the checkpoints are read here if ``fit`` has
        not run (a cached run still reports the checkpoints' operating point).

        Parameters
        ----------
        classes : ClassCatalogue

        Returns
        -------
        dict of str to float
            Class name → threshold (keep ``score >``).
        """
        return {name: value for name, (value, _) in self._operating_point(classes).items()}

    def threshold_sources(self, classes: ClassCatalogue) -> dict[str, str]:
        """Where each class's threshold of :meth:`thresholds` comes from.

        Returns
        -------
        dict of str to str
            Class name → ``"checkpoint"``, ``"copick"`` (the catalogue's
            ``score_threshold``) or ``"parameter"`` (``threshold``).
        """
        return {name: source for name, (_, source) in self._operating_point(classes).items()}

    def _operating_point(self, classes: ClassCatalogue) -> dict[str, tuple[float, str]]:
        if self.weights and not self._metadata:
            self._load_weights()
        out: dict[str, tuple[float, str]] = {}
        for c in classes:
            values = [
                float(m["thresholds"][c.name])
                for m in self._metadata
                if c.name in (m.get("thresholds") or {})
            ]
            if values:
                out[c.name] = (float(statistics.median(values)), "checkpoint")
            elif c.score_threshold is not None:
                out[c.name] = (float(c.score_threshold), "copick")
            else:
                out[c.name] = (self.threshold, "parameter")
        return out

    def pick(self, tomogram: Tomogram, classes: ClassCatalogue) -> pd.DataFrame:
        """Ensemble heatmaps of ``tomogram`` and their peaks, in Å (x-y-z).

        Raises
        ------
        InputError
            Not fitted, classes that do not match, or a voxel size more than 5 %
            from the checkpoints'.
        """
        from topcup_bench.pickers.topcup.infer import extract_picks, predict_heatmaps

        self._check_classes(classes, f"the classes of run {tomogram.run!r}")
        names = list(self._metadata[0]["classes"])
        self._check_voxel_size(tomogram)
        device = None if self.device == "auto" else self.device
        probabilities = predict_heatmaps(
            self._models, tomogram.data, roi=self.roi, overlap=self.overlap, tta_flips=self.tta,
            device=device, sw_batch_size=self.sw_batch_size or None, precision=self.precision,
        )  # fmt: skip
        radii = {c.name: c.radius_angstrom for c in classes}
        picks = extract_picks(
            probabilities, names, radii, tomogram.voxel_size_angstrom,
            dict.fromkeys(names, self.min_score), run=tomogram.run, device=device,
        )  # fmt: skip
        if self.dedupe_across_classes:
            from topcup_bench.pickers.topcup.dedupe import drop_cross_class_duplicates

            picks = drop_cross_class_duplicates(picks, names, self.thresholds(classes))
        return picks if len(picks) else empty_picks_table()

    def _check_voxel_size(self, tomogram: Tomogram) -> None:
        for meta in self._metadata:
            trained = meta.get("voxel_size_angstrom")
            if trained is None:
                continue
            if abs(tomogram.voxel_size_angstrom - trained) > VOXEL_TOLERANCE * trained:
                raise InputError(
                    f"tomogram {tomogram.run!r}",
                    f"voxel size {tomogram.voxel_size_angstrom:g} Å is far from the "
                    f"checkpoint's {trained:g} Å (more than {VOXEL_TOLERANCE:.0%}); "
                    "resample the tomogram or use weights trained at this voxel size",
                )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_models"] = [m.cpu() for m in self._models]
        return state
