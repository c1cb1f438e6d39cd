"""The skeleton study's options (:class:`Config`, the notebook's papermill parameters) and constants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.data.formats import jhmdb
from workbench.data.transforms.skeleton_streams import STREAMS
from workbench.errors import ConfigError
from workbench.studies.base import StudyConfig
from workbench.studies.skeleton_ensembles import ensembles, replicas

STUDY = "skeleton_ensembles"
DATASETS = ("synthetic", "penn_action", "jhmdb", "pyskl")
STREAM_NAMES = {"j": "joint", "b": "bone", "k": "k-th order bone", "jm": "joint motion", "bm": "bone motion",
                "km": "k-th order bone motion"}
CHECKPOINT_FORMAT = "workbench-skeleton-ensemble-1"


@dataclass
class Config(StudyConfig):
    """Every parameter of the study (the notebook's papermill parameters).

    ``dataset``: ``synthetic`` (generated; ``synthetic_clips`` clips per class and split),
    ``penn_action`` (``data_path`` a labels folder, default the shared copy), ``jhmdb`` (``data_path``
    a folder of DD-Net's ``GT_*.pkl`` or their converted ``.pkl``, default the shared copy; official
    split ``jhmdb_split`` 1, 2 or 3 as ``train`` and ``test``) or ``pyskl``
    (``data_path`` a ``.pkl``, ``layout`` its skeleton layout). When the data has no
    ``val_split``, a stratified ``val_fraction`` of the training split is held out for validation
    and the weight search; with ``val_folds`` K >= 2 the validation split is instead fold ``val_fold``
    of a stratified K-way partition of the training and validation splits pooled
    (:func:`fold_holdout`), so K runs with ``val_fold`` 0 .. K-1 score every pooled clip once;
    ``val_fold`` -1 trains all K folds in this one run (:func:`cross_validate_stream`), each stream
    becoming the :class:`FoldEnsemble` of its K fold models.
    ``fold_runs``: those K run folders; the run trains nothing and cross-validates their streams
    (:func:`load_fold_runs`): out-of-fold validation scores for the weight search, fold-averaged test
    scores.
    ``max_per_class`` > 0 keeps only that many clips per class and split.
    ``train_samplings`` > 1 turns on random temporal crops: each training clip keeps that many random
    samplings (:func:`random_sample_indices`, drawn once from ``seed``) and every step trains on one
    of them, chosen at random per clip (memory grows with the count); 1 keeps the fixed uniform one.
    ``replicas``: models per stream for stochastic boosting, e.g. ``{j: 2, b: 2, k: 2}``: stream ``j``
    gains model ``j#2``, the same stream trained from seed ``seed + 1000``
    (:mod:`workbench.studies.skeleton_ensembles.replicas`), and the tables gain the same-modality
    ensembles (``j x 2``, ``best x 2``, ``{j, b} x 2``, ...) beside the complementary ones.
    ``stream_runs``: earlier run folders of this study whose trained streams are reused (models,
    histories and scores) instead of trained again, e.g. streams trained by parallel processes.
    ``weight_grid``, ``weight_objective`` (``top1`` | ``log_loss``): the validation weight search
    (:func:`ensembles.search_weights`); ``weight_check_folds`` K >= 2 checks it by K-fold
    cross-validation over the validation clips and keeps the fixed weights when the search does not
    beat them out of fold (:func:`ensembles.checked_search`); 0 applies the search unchecked.
    ``weight_shrinkage`` in [0, 1] pulls the searched weights that far towards the fixed ones
    (:func:`ensembles.shrink`; 0 keeps the search).
    ``split_runs``: completed run folders, one per (split, seed), summarised in the notebook's
    benchmark tables (:mod:`workbench.studies.skeleton_ensembles.benchmark`); they change nothing else.
    """

    model: str = "stgcn"
    dataset: str = "synthetic"
    data_path: str = ""
    jhmdb_split: int = 1
    layout: str = ""
    num_classes: int = 0
    synthetic_clips: dict = field(default_factory=lambda: {"train": 30, "val": 8, "test": 10})
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    val_fraction: float = 0.1
    val_folds: int = 0
    val_fold: int = 0
    max_per_class: int = 0
    max_persons: int = 2
    clip_len: int = 64
    train_samplings: int = 1
    test_clips: int = 1
    view_align: bool = False
    streams: list = field(default_factory=lambda: list(STREAMS))
    replicas: dict = field(default_factory=dict)
    stream_runs: list = field(default_factory=list)
    fold_runs: list = field(default_factory=list)
    split_runs: list = field(default_factory=list)
    bone_order: int = 2
    base_channels: int = 32
    stages: int = 3
    blocks_per_stage: int = 2
    dropout: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.1
    weight_decay: float = 5e-4
    warmup_epochs: int = 5
    label_smoothing: float = 0.1
    flip_prob: float = 0.5
    part_drop_prob: float = 0.0
    mixup: str = "none"
    mixup_prob: float = 0.5
    mixup_alpha: float = 1.0
    fusion_weights: dict = field(default_factory=lambda: dict(ensembles.DEFAULT_WEIGHTS))
    ensembles: dict = field(default_factory=lambda: {k: list(v) for k, v in ensembles.DEFAULT_ENSEMBLES.items()})
    weight_grid: list = field(default_factory=lambda: list(ensembles.DEFAULT_GRID))
    weight_objective: str = "top1"
    weight_check_folds: int = 0
    weight_shrinkage: float = 0.0
    threads: int = 0
    viewer_classes: int = 4

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Config:
        """Build from notebook globals or a parameter dict, ignoring unrelated names; validates."""
        cfg = super().from_mapping(values)
        cfg.check()
        return cfg

    def check(self) -> None:
        """Raise :class:`ConfigError` for an unknown dataset, stream or mixup mode, or bad sizes."""
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        unknown = [s for s in self.streams if s not in STREAMS]
        if unknown or not self.streams:
            raise ConfigError(f"unknown stream(s) {unknown}; choose from {', '.join(STREAMS)}")
        bad = {s: n for s, n in self.replicas.items() if s not in self.streams or not isinstance(n, int)
               or isinstance(n, bool) or n < 1} if isinstance(self.replicas, dict) else self.replicas
        if bad:
            raise ConfigError(f"replicas maps streams of this run to a model count >= 1 (e.g. {{j: 2, b: 2}}); "
                              f"bad entries {bad}")
        if self.weight_objective not in ensembles.OBJECTIVES or self.weight_check_folds in (1,) \
                or self.weight_check_folds < 0:
            raise ConfigError(f"weight_objective must be one of {', '.join(ensembles.OBJECTIVES)} and "
                              f"weight_check_folds 0 (off) or >= 2, got {self.weight_objective!r}, "
                              f"{self.weight_check_folds!r}")
        if not 0.0 <= float(self.weight_shrinkage) <= 1.0:
            raise ConfigError(f"weight_shrinkage must be in [0, 1], got {self.weight_shrinkage!r}")
        if self.jhmdb_split not in jhmdb.SPLITS:
            raise ConfigError(f"jhmdb_split must be 1, 2 or 3, got {self.jhmdb_split!r}")
        if self.mixup not in ("none", "blend", "swap"):
            raise ConfigError(f"unknown mixup {self.mixup!r}; use none, blend or swap")
        for name in ("stream_runs", "fold_runs", "split_runs"):
            runs = getattr(self, name)
            if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
                raise ConfigError(f"{name} must be a list of run folders, got {runs!r}")
        if self.fold_runs and (self.stream_runs or len(self.fold_runs) != self.val_folds):
            raise ConfigError(f"fold_runs lists {len(self.fold_runs)} runs: it needs val_folds equal to that count "
                              f"(got {self.val_folds}) and no stream_runs")
        if min(self.clip_len, self.train_samplings, self.test_clips, self.max_persons) < 1 \
                or not 0 <= self.val_fraction < 1:
            raise ConfigError("clip_len, train_samplings, test_clips and max_persons must be >= 1 and val_fraction "
                              "in [0, 1)")
        all_folds = self.val_fold == -1 and self.val_folds >= 2
        if self.val_folds == 1 or self.val_folds < 0 or not (all_folds or 0 <= self.val_fold < max(self.val_folds, 1)):
            raise ConfigError(f"val_folds must be 0 (off) or >= 2 and val_fold in 0 .. val_folds - 1 (or -1: every "
                              f"fold in this run), got val_folds {self.val_folds}, val_fold {self.val_fold}")
        if all_folds and self.fold_runs:
            raise ConfigError("val_fold -1 trains every fold in this run; it cannot also fuse fold_runs")

    @property
    def model_names(self) -> list[str]:
        """Every model of the run: the streams, then their replicas (``j#2``, ...; see :mod:`.replicas`)."""
        return replicas.model_names(self.streams, self.replicas)

    @property
    def cross_validated(self) -> bool:
        """True when this run trains all ``val_folds`` folds itself (``val_fold`` -1)."""
        return self.val_folds >= 2 and self.val_fold == -1


def apply_threads(cfg: Config) -> None:
    """Set torch's CPU thread count to ``cfg.threads`` when it is positive (0 keeps torch's default)."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
