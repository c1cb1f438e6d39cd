"""The skeleton action-recognition study with multi-stream ensembles (``notebooks/skeleton_ensembles.ipynb``).

One ST-GCN classifier per input stream (j, b, k, jm, bm, km; see
:mod:`workbench.data.skeleton_streams`), trained through the shared engine; their softmax scores on
the validation and test splits are fused (:mod:`workbench.ensembles`) with fixed weights and with
weights searched on the validation split only. Data: the generated default (NTU-25 synthetic
actions), Penn Action label files, or any PYSKL ``.pkl``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from workbench import ensembles, metrics
from workbench.data import jhmdb, penn_action, penn_skeleton, pyskl, skeleton_augment, synthetic_actions
from workbench.data.skeleton_layouts import Layout, get_layout
from workbench.data.skeleton_streams import STREAMS, make_stream, normalise, random_sample_indices, sample_indices
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.runtime import resolve_device, seed_everything
from workbench.engine.trainer import Trainer
from workbench.errors import CheckpointError, ConfigError, DataFormatError
from workbench.models.fold_ensemble import FoldEnsemble
from workbench.models.registry import build_model, parameter_counts
from workbench.runs import run_folder, write_history_csv, write_json, write_yaml
from workbench.settings import shared_data_dir
from workbench.studies.base import StudyConfig

log = logging.getLogger(__name__)

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
    ``stream_runs``: earlier run folders of this study whose trained streams are reused (models,
    histories and scores) instead of trained again, e.g. streams trained by parallel processes.
    ``split_runs``: completed run folders, one per (split, seed), summarised in the notebook's
    benchmark tables (:mod:`workbench.studies.skeleton_benchmark`); they change nothing else.
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
    def cross_validated(self) -> bool:
        """True when this run trains all ``val_folds`` folds itself (``val_fold`` -1)."""
        return self.val_folds >= 2 and self.val_fold == -1


def apply_threads(cfg: Config) -> None:
    """Set torch's CPU thread count to ``cfg.threads`` when it is positive (0 keeps torch's default)."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)


@dataclass
class ClipSet:
    """One split, preprocessed: ``clips`` (num_clips, N, M, T, V, C) normalised joints (clip i is
    the i-th temporal sampling, see :func:`sample_indices`, or a random crop of the training split with
    ``train_samplings`` > 1, see :func:`random_sample_indices`), ``labels`` (N,) int64."""

    names: list[str]
    labels: torch.Tensor
    clips: torch.Tensor


@dataclass
class SkeletonData:
    """The splits by role (``train``, ``val``, ``test``), the layout and the class names."""

    layout: Layout
    class_names: list[str]
    sets: dict[str, ClipSet]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return int(self.sets["train"].clips.shape[-1])


def _raw_dataset(cfg: Config) -> tuple[dict, Layout, list[str], str]:
    if cfg.dataset == "synthetic":
        sizes = {str(k): int(v) for k, v in dict(cfg.synthetic_clips).items()}
        if any(v < 1 for v in sizes.values()):
            raise ConfigError(f"synthetic_clips must be positive, got {sizes}")
        data = synthetic_actions.default_dataset(cfg.seed, sizes)
        return data, get_layout("synthetic"), list(synthetic_actions.ACTIONS), "generated synthetic actions"
    if cfg.dataset == "penn_action":
        folder = Path(cfg.data_path) if cfg.data_path else shared_data_dir() / "penn_action" / "labels"
        return penn_skeleton.penn_dataset(folder), get_layout("penn13"), list(penn_action.ACTIONS), str(folder)
    if cfg.dataset == "jhmdb":
        path = Path(cfg.data_path) if cfg.data_path else shared_data_dir() / "jhmdb"
        return _jhmdb_split(path, cfg.jhmdb_split), get_layout("jhmdb15"), list(jhmdb.CLASSES), \
            f"{path} (split {cfg.jhmdb_split})"
    if not cfg.data_path or not cfg.layout:
        raise ConfigError("dataset pyskl needs data_path (a .pkl file) and layout (e.g. ntu25, coco17)")
    data = pyskl.load(cfg.data_path, cfg.num_classes or None)
    k = cfg.num_classes or 1 + max(r["label"] for r in data["annotations"])
    return data, get_layout(cfg.layout), [str(i) for i in range(k)], cfg.data_path


def _jhmdb_split(path: Path, s: int) -> dict:
    """The JHMDB data set at ``path`` (a folder of ``GT_*.pkl`` or their converted ``.pkl``) with
    official split ``s``'s lists as ``train`` and ``test``."""
    data = jhmdb.jhmdb_dataset(path) if path.is_dir() else pyskl.load(path, len(jhmdb.CLASSES))
    chosen = {"train": pyskl.select(data, f"train{s}", path), "test": pyskl.select(data, f"test{s}", path)}
    return pyskl.make_dataset(data["annotations"], {k: [r["frame_dir"] for r in v] for k, v in chosen.items()})


def _holdout(names: list[str], labels: list[int], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Stratified split of a split's names into (kept, held out); at least one per class held out
    when ``fraction`` > 0 and the class has two or more clips."""
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for label in sorted(set(labels)):
        members = [n for n, y in zip(names, labels, strict=True) if y == label]
        count = int(round(fraction * len(members)))
        count = max(count, 1) if fraction > 0 and len(members) > 1 else count
        held.update(rng.permutation(members)[:count].tolist())
    return [n for n in names if n not in held], [n for n in names if n in held]


def fold_holdout(names: list[str], labels: list[int], folds: int, fold: int,
                 seed: int) -> tuple[list[str], list[str]]:
    """Stratified K-fold split of a split's names into (kept, fold ``fold`` held out), K = ``folds``.
    Each class's clips, shuffled with ``seed``, are dealt to the folds in turn, continuing from where
    the previous class stopped, so every clip is in exactly one fold, class counts per fold differ by
    at most one and fold sizes by at most one."""
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    start = 0
    for label in sorted(set(labels)):
        members = rng.permutation([n for n, y in zip(names, labels, strict=True) if y == label]).tolist()
        held.update(n for i, n in enumerate(members) if (start + i) % folds == fold)
        start = (start + len(members)) % folds
    return [n for n in names if n not in held], [n for n in names if n in held]


def _limit(records: list[dict], per_class: int) -> list[dict]:
    if per_class <= 0:
        return records
    seen: dict[int, int] = {}
    kept = []
    for r in records:
        seen[r["label"]] = seen.get(r["label"], 0) + 1
        if seen[r["label"]] <= per_class:
            kept.append(r)
    return kept


def _clip_set(records: list[dict], layout: Layout, cfg: Config, persons: int, num_clips: int,
              rng: np.random.Generator | None = None) -> ClipSet:
    """``num_clips`` temporal samplings per record: evenly placed (:func:`sample_indices`), or random
    crops drawn from ``rng`` when it is given."""
    channels = records[0]["keypoint"].shape[-1]
    clips = np.zeros((num_clips, len(records), persons, cfg.clip_len, layout.num_joints, channels), np.float32)
    for n, r in enumerate(records):
        if r["keypoint"].shape[2] != layout.num_joints or r["keypoint"].shape[-1] != channels:
            raise ConfigError(f"clip {r['frame_dir']} has keypoints {r['keypoint'].shape}, but layout {layout.name} "
                              f"has {layout.num_joints} joints and the data {channels} coordinates")
        x = normalise(r["keypoint"][:persons], layout, r.get("img_shape", (0, 0)), cfg.view_align)
        for c in range(num_clips):
            index = (random_sample_indices(x.shape[1], cfg.clip_len, rng) if rng is not None
                     else sample_indices(x.shape[1], cfg.clip_len, c, num_clips))
            clips[c, n, : x.shape[0]] = x[:, index]
    labels = torch.tensor([r["label"] for r in records], dtype=torch.long)
    return ClipSet([r["frame_dir"] for r in records], labels, torch.from_numpy(clips))


def load_data(cfg: Config) -> SkeletonData:
    """Load, split and preprocess the configured data set (see :class:`Config`). With ``fold_runs``
    the validation split is every pooled clip of the K folds (each scored out of fold)."""
    data, layout, class_names, source = _raw_dataset(cfg)
    by_name = {r["frame_dir"]: r for r in data["annotations"]}
    for r in data["annotations"]:
        if r["label"] >= len(class_names):
            raise ConfigError(f"{source}: clip {r['frame_dir']} has label {r['label']} >= {len(class_names)} classes")
    splits = dict(data["split"])
    for role in (cfg.train_split, cfg.test_split):
        if role not in splits:
            raise ConfigError(f"{source} has no split {role!r}; splits: {', '.join(splits) or 'none'}")
    if cfg.val_folds:
        pool = list(splits[cfg.train_split]) + list(splits.get(cfg.val_split, []))
        splits[cfg.train_split], splits[cfg.val_split] = (
            (pool, pool) if cfg.fold_runs or cfg.cross_validated
            else fold_holdout(pool, [by_name[n]["label"] for n in pool], cfg.val_folds, cfg.val_fold, cfg.seed))
    elif cfg.val_split not in splits:
        train_names = splits[cfg.train_split]
        kept, held = _holdout(train_names, [by_name[n]["label"] for n in train_names], cfg.val_fraction, cfg.seed)
        if not held:
            raise ConfigError(f"{source} has no split {cfg.val_split!r} and val_fraction {cfg.val_fraction} holds "
                              "nothing out; the weight search needs a validation split")
        splits[cfg.train_split], splits[cfg.val_split] = kept, held
    roles = {"train": cfg.train_split, "val": cfg.val_split, "test": cfg.test_split}
    records = {role: _limit([by_name[n] for n in splits[name]], cfg.max_per_class) for role, name in roles.items()}
    empty = [role for role, recs in records.items() if not recs]
    if empty:
        raise ConfigError(f"{source}: split(s) {', '.join(empty)} are empty")
    persons = min(cfg.max_persons, max(r["keypoint"].shape[0] for recs in records.values() for r in recs))
    crops = np.random.default_rng(cfg.seed) if cfg.train_samplings > 1 else None
    sets = {role: _clip_set(recs, layout, cfg, persons, cfg.train_samplings, crops) if role == "train"
            else _clip_set(recs, layout, cfg, persons, cfg.test_clips) for role, recs in records.items()}
    return SkeletonData(layout, class_names, sets, source)


def make_model(cfg: Config, data: SkeletonData) -> torch.nn.Module:
    """A freshly initialised classifier for ``data`` (seeded with ``cfg.seed``)."""
    seed_everything(cfg.seed)
    return build_model(STUDY, cfg.model, layout=data.layout.name, in_channels=data.channels,
                       num_classes=data.num_classes, base_channels=cfg.base_channels, stages=cfg.stages,
                       blocks_per_stage=cfg.blocks_per_stage, dropout=cfg.dropout)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean over the batch of ``-sum_k q_k log softmax(logits)_k`` with
    ``q = (1 - smoothing) target + smoothing / K`` (``target`` (N, K) rows summing to one)."""
    q = (1.0 - smoothing) * target + smoothing / logits.shape[1]
    return -(q * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def augment(x: torch.Tensor, y: torch.Tensor, cfg: Config, layout: Layout,
            num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The configured training augmentations of joints ``x`` (N, S, M, T, V, C), S temporal samplings
    per clip, and labels ``y`` (N,): a random sampling per clip (random temporal crop, when S > 1), flip,
    part drop, then mixup (blend) or segment swap; returns the joints (N, M, T, V, C) and soft labels
    (N, K)."""
    soft = F.one_hot(y, num_classes).to(x.dtype)
    x = skeleton_augment.pick_sampling(x) if x.shape[1] > 1 else x[:, 0]
    x = skeleton_augment.flip(x, layout, cfg.flip_prob)
    x = skeleton_augment.part_drop(x, layout, cfg.part_drop_prob)
    if cfg.mixup == "blend":
        x, soft = skeleton_augment.mixup(x, soft, cfg.mixup_alpha, cfg.mixup_prob)
    elif cfg.mixup == "swap":
        x, soft = skeleton_augment.segment_swap(x, soft, layout, cfg.mixup_prob)
    return x, soft


@torch.no_grad()
def predict_scores(model: torch.nn.Module, clips: ClipSet, stream: str, layout: Layout, bone_order: int,
                   batch_size: int = 64) -> np.ndarray:
    """Softmax probabilities (N, K) of ``stream``, averaged over the clip set's temporal clips."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for clip in clips.clips:
        parts = [F.softmax(model(make_stream(chunk.to(device), stream, layout, bone_order)), dim=1).cpu()
                 for chunk in clip.split(batch_size)]
        total = total + torch.cat(parts)
    return (total / clips.clips.shape[0]).double().numpy()


def train_stream(cfg: Config, data: SkeletonData, stream: str,
                 checkpoint_path: str | Path | None = None) -> tuple[torch.nn.Module, list[dict]]:
    """Train one classifier on ``stream``; validation loss and top-1 (%) of the first temporal clip
    per video (the learning curve; the final scores average all ``test_clips``) are logged every epoch.
    Returns the model (last epoch's weights) and the history."""
    model = make_model(cfg, data)
    train, full_val = data.sets["train"], data.sets["val"]
    val = ClipSet(full_val.names, full_val.labels, full_val.clips[:1])
    layout, k = data.layout, data.num_classes

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        x, y = batch
        x, soft = augment(x, y, cfg, layout, k)
        logits = net(make_stream(x, stream, layout, cfg.bone_order))
        accuracy = 100.0 * float((logits.argmax(1) == soft.argmax(1)).float().mean())
        return soft_cross_entropy(logits, soft, cfg.label_smoothing), {"top1": accuracy}

    def evaluate_fn(net: torch.nn.Module) -> dict[str, float]:
        scores = predict_scores(net, val, stream, layout, cfg.bone_order)
        loss = F.nll_loss(torch.from_numpy(scores).clamp_min(1e-12).log(), val.labels)
        net.train()
        return {"val_loss": float(loss), "val_top1": metrics.top_k_accuracy(scores, val.labels, 1)}

    train_cfg = cfg.engine_options(nesterov=True, momentum=0.9, scheduler="cosine",
                                   checkpoint_path=str(checkpoint_path) if checkpoint_path else None)
    trainer = Trainer(model, train_cfg, loss_fn, evaluate_fn, model_config=model.config_dict())
    history = trainer.fit(TensorDataset(train.clips.transpose(0, 1), train.labels))
    return model, [{"stream": stream, **row} for row in history]


@dataclass
class StreamResult:
    """A trained stream: model (None for a cross-validated stream, whose models stay in the fold
    runs), history, softmax scores (N, K) on the validation and test splits, and ``source``, the run
    folder(s) it was reused from (empty when trained in this run)."""

    model: torch.nn.Module | None
    history: list[dict]
    val_scores: np.ndarray
    test_scores: np.ndarray
    source: str = ""


def _subset(clips: ClipSet, rows: list[int]) -> ClipSet:
    return ClipSet([clips.names[i] for i in rows], clips.labels[rows], clips.clips[:, rows])


def cross_validate_stream(cfg: Config, data: SkeletonData, stream: str, folder: Path | None = None) -> StreamResult:
    """Train ``stream`` once per fold of the ``val_folds``-way stratified partition
    (:func:`fold_holdout`) of ``data``'s pooled validation split (``val_fold`` -1, see
    :func:`load_data`), each model on the other folds' clips (training state in
    ``folder/train_<stream>_fold<k>.pt``). Validation scores are out of fold (each clip scored by the
    model that did not train on it); the model is the :class:`FoldEnsemble` of the K fold models,
    whose test scores are the fold mean ``(1/K) sum_k p_k`` of their softmax scores. History rows
    carry a ``fold`` column."""
    pool = data.sets["val"]  # the training split holds the same clips in the same order (see load_data)
    row_of = {name: i for i, name in enumerate(pool.names)}
    oof = np.zeros((len(pool.names), data.num_classes))
    members, history = [], []
    for k in range(cfg.val_folds):
        kept, held = fold_holdout(pool.names, pool.labels.tolist(), cfg.val_folds, k, cfg.seed)
        rows = [row_of[n] for n in held]
        fold_data = SkeletonData(data.layout, data.class_names,
                                 {"train": _subset(data.sets["train"], [row_of[n] for n in kept]),
                                  "val": _subset(pool, rows), "test": data.sets["test"]}, data.source)
        path = folder / f"train_{stream}_fold{k}.pt" if folder is not None else None
        model, fold_history = train_stream(cfg, fold_data, stream, path)
        oof[rows] = predict_scores(model, fold_data.sets["val"], stream, data.layout, cfg.bone_order)
        members.append(model)
        history += [{**row, "fold": k} for row in fold_history]
    ensemble = FoldEnsemble(members)
    return StreamResult(ensemble, history, oof,
                        predict_scores(ensemble, data.sets["test"], stream, data.layout, cfg.bone_order))


def run_stream(cfg: Config, data: SkeletonData, stream: str, folder: Path | None = None) -> StreamResult:
    """Train ``stream`` (training state in ``folder/train_<stream>.pt`` when given) and score it; with
    ``val_fold`` -1 cross-validate it in this run (:func:`cross_validate_stream`)."""
    if cfg.cross_validated:
        return cross_validate_stream(cfg, data, stream, folder)
    path = folder / f"train_{stream}.pt" if folder is not None else None
    model, history = train_stream(cfg, data, stream, path)
    return StreamResult(model, history,
                        predict_scores(model, data.sets["val"], stream, data.layout, cfg.bone_order),
                        predict_scores(model, data.sets["test"], stream, data.layout, cfg.bone_order))


SAME_DATA_OPTIONS = ("dataset", "data_path", "jhmdb_split", "layout", "num_classes", "synthetic_clips", "train_split",
                     "val_split", "test_split", "val_fraction", "val_folds", "val_fold", "max_per_class", "max_persons",
                     "clip_len", "test_clips", "view_align", "bone_order", "model", "seed")
"""Options a reused run must share with this one: they fix the clips, their order and the scores."""


def _differing_options(run_cfg: Config, cfg: Config, ignore: tuple[str, ...] = ()) -> list[str]:
    """``"<option> <run's value> (here <this value>)"`` for each of :data:`SAME_DATA_OPTIONS` (less
    ``ignore``) where an earlier run's configuration differs from this one."""
    return [f"{k} {getattr(run_cfg, k)!r} (here {getattr(cfg, k)!r})" for k in SAME_DATA_OPTIONS
            if k not in ignore and getattr(run_cfg, k) != getattr(cfg, k)]


def load_stream_run(folder: str | Path, cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """The streams of ``cfg.streams`` trained by the run in ``folder`` (its ``checkpoint.pt``,
    ``history.csv`` and ``scores.npz``). Raises :class:`ConfigError` when the run used other data
    options (:data:`SAME_DATA_OPTIONS`) and :class:`DataFormatError` when its scores are not for
    this run's validation and test clips, in the same order."""
    folder = Path(folder)
    run_cfg, models = load_checkpoint(folder / "checkpoint.pt")
    differ = _differing_options(run_cfg, cfg)
    if differ:
        raise ConfigError(f"{folder}: cannot reuse its streams, it was run with " + ", ".join(differ))
    scores = _load_scores(folder / "scores.npz", data)
    history = _read_history(folder)
    wanted = [s for s in cfg.streams if s in models]
    missing = [f"{role}_{s}" for s in wanted for role in ("val", "test") if f"{role}_{s}" not in scores]
    if missing:
        raise DataFormatError(folder / "scores.npz", f"no scores {', '.join(missing)}")
    return {s: StreamResult(models[s], [row for row in history if row.get("stream") == s], scores[f"val_{s}"],
                            scores[f"test_{s}"], str(folder)) for s in wanted}


def _read_history(folder: Path) -> list[dict]:
    try:
        return pd.read_csv(folder / "history.csv").to_dict(orient="records")
    except (OSError, ValueError) as exc:
        raise DataFormatError(folder / "history.csv", f"cannot read the training history ({exc})") from None


def _read_scores(path: Path, num_classes: int) -> dict[str, np.ndarray]:
    """A run's ``scores.npz``, checked for clip names, labels and (N, K) score shapes per split."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            scores = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataFormatError(path, f"cannot read the scores ({exc})") from None
    for role in ("val", "test"):
        names, labels = scores.get(f"{role}_names"), scores.get(f"{role}_labels")
        if names is None or labels is None:
            raise DataFormatError(path, f"no {role}_names / {role}_labels (written by an older version)")
        for key, value in scores.items():
            if key.startswith(f"{role}_") and value.ndim == 2 and value.shape != (len(names), num_classes):
                raise DataFormatError(path, f"{key} has shape {value.shape}, expected ({len(names)}, {num_classes})")
    return scores


def _check_same_clips(path: Path, scores: dict[str, np.ndarray], role: str, clips: ClipSet) -> None:
    if scores[f"{role}_names"].tolist() != clips.names or not np.array_equal(scores[f"{role}_labels"],
                                                                              clips.labels.numpy()):
        raise DataFormatError(path, f"its {role} clips or labels differ from this run's {role} split")


def _load_scores(path: Path, data: SkeletonData) -> dict[str, np.ndarray]:
    scores = _read_scores(path, data.num_classes)
    for role in ("val", "test"):
        _check_same_clips(path, scores, role, data.sets[role])
    return scores


def load_fold_runs(cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """Cross-validated streams from the K runs of ``cfg.fold_runs``, one per ``val_fold`` 0 .. K-1,
    each with this run's data options otherwise. A stream's validation scores are out of fold: every
    clip of this run's validation split (all K folds) is scored by the fold model that did not train
    on it. Its test scores are the fold mean ``p = (1/K) sum_k p_k`` of the K models' softmax scores.
    Histories gain a ``fold`` column; models stay in the fold runs (``model`` None). Raises
    :class:`ConfigError` when the runs are not the K folds of this configuration or lack a stream,
    :class:`DataFormatError` when their scores are not for this run's clips."""
    val, test = data.sets["val"], data.sets["test"]
    row_of = {name: i for i, name in enumerate(val.names)}
    shape = (len(val.names), data.num_classes)
    oof = {s: np.full(shape, np.nan) for s in cfg.streams}
    test_sum = {s: np.zeros((len(test.names), data.num_classes)) for s in cfg.streams}
    histories: dict[str, list[dict]] = {s: [] for s in cfg.streams}
    folds: dict[int, Path] = {}
    for folder in map(Path, cfg.fold_runs):
        run_cfg, _ = load_checkpoint(folder / "checkpoint.pt")
        differ = _differing_options(run_cfg, cfg, ignore=("val_fold",))
        if differ:
            raise ConfigError(f"{folder}: not a fold of this configuration, it was run with " + ", ".join(differ))
        if run_cfg.val_fold in folds:
            raise ConfigError(f"{folds[run_cfg.val_fold]} and {folder} both hold out fold {run_cfg.val_fold}")
        folds[run_cfg.val_fold] = folder
        path = folder / "scores.npz"
        scores = _read_scores(path, data.num_classes)
        _check_same_clips(path, scores, "test", test)
        rows = [row_of.get(name, -1) for name in scores["val_names"].tolist()]
        if -1 in rows or not np.array_equal(scores["val_labels"], val.labels.numpy()[rows]):
            raise DataFormatError(path, "its validation clips or labels are not in this run's folds")
        missing = [s for s in cfg.streams if f"val_{s}" not in scores or f"test_{s}" not in scores]
        if missing:
            raise ConfigError(f"{folder}: no scores for stream(s) {', '.join(missing)}; train them in every fold run")
        history = _read_history(folder)
        for s in cfg.streams:
            oof[s][rows] = scores[f"val_{s}"]
            test_sum[s] += scores[f"test_{s}"]
            histories[s] += [{**row, "fold": run_cfg.val_fold} for row in history if row.get("stream") == s]
    uncovered = int(np.isnan(oof[cfg.streams[0]][:, 0]).sum())
    if uncovered:
        raise ConfigError(f"fold_runs leave {uncovered} validation clips unscored; list one run per fold")
    source = ", ".join(cfg.fold_runs)
    return {s: StreamResult(None, histories[s], oof[s], test_sum[s] / len(folds), source) for s in cfg.streams}


def reused_streams(cfg: Config, data: SkeletonData) -> dict[str, StreamResult]:
    """The streams of ``cfg.streams`` found in the runs of ``cfg.stream_runs`` (see
    :func:`load_stream_run`), or all of them cross-validated from ``cfg.fold_runs`` (see
    :func:`load_fold_runs`); a stream found in two runs is a :class:`ConfigError`."""
    if cfg.fold_runs:
        return load_fold_runs(cfg, data)
    reused: dict[str, StreamResult] = {}
    for folder in cfg.stream_runs:
        for stream, result in load_stream_run(folder, cfg, data).items():
            if stream in reused:
                raise ConfigError(f"stream {stream} is in both {reused[stream].source} and {folder}; "
                                  "list each stream's run once")
            reused[stream] = result
    return reused


def _row(name: str, streams: list[str], fusion: str, weights: dict[str, float] | None, val: np.ndarray,
         val_labels: torch.Tensor, test: np.ndarray, test_labels: torch.Tensor) -> dict[str, Any]:
    m = metrics.classification_metrics(test, test_labels)
    used = sum(1 for s in streams if weights[s] != 0) if weights else len(streams)
    return {"model": name, "streams": len(streams), "streams used": used, "fusion": fusion,
            "weights": ", ".join(f"{s}:{weights[s]:g}" for s in streams) if weights else "",
            "val top-1 (%)": metrics.top_k_accuracy(val, val_labels, 1), "top-1 (%)": m["top1"],
            "top-5 (%)": m["top5"], "mean class (%)": m["mean_class"]}


def results_table(results: dict[str, StreamResult], data: SkeletonData, cfg: Config) -> tuple[pd.DataFrame, dict]:
    """One row per single stream and per ensemble of ``cfg.ensembles`` (fixed ``cfg.fusion_weights``
    and weights searched on the validation split), with test top-1 / top-5 / mean class accuracy (%),
    validation top-1 (%), and the ensemble's stream count and how many of them have a non-zero weight
    (``streams used``: a searched ensemble may keep fewer when validation cannot separate them).
    Returns the table and the searched weights per ensemble. Ensembles naming an untrained stream are
    skipped with a log line."""
    val_labels, test_labels = data.sets["val"].labels, data.sets["test"].labels
    val = {s: r.val_scores for s, r in results.items()}
    test = {s: r.test_scores for s, r in results.items()}
    rows = [_row(f"{s} ({STREAM_NAMES[s]})", [s], "single", None, val[s], val_labels, test[s], test_labels)
            for s in results]
    searched: dict[str, dict[str, float]] = {}
    for name, members in cfg.ensembles.items():
        members = list(members)
        missing = [s for s in members if s not in results]
        if missing:
            log.warning("ensemble %s skipped: stream(s) %s not trained", name, ", ".join(missing))
            continue
        fixed = {s: float(cfg.fusion_weights.get(s, 1.0)) for s in members}
        rows.append(_row(name, members, "fixed", fixed, ensembles.fuse(val, fixed, members), val_labels,
                         ensembles.fuse(test, fixed, members), test_labels))
        searched[name] = ensembles.search_weights(val, val_labels.numpy(), members, cfg.weight_grid)
        rows.append(_row(name, members, "val-searched", searched[name], ensembles.fuse(val, searched[name], members),
                         val_labels, ensembles.fuse(test, searched[name], members), test_labels))
    return pd.DataFrame(rows), searched


def largest_ensemble_scores(results: dict[str, StreamResult], cfg: Config) -> tuple[str, np.ndarray]:
    """Name and fixed-weight fused test scores of the ensemble with the most streams (or the single
    stream when no ensemble applies)."""
    usable = {n: list(m) for n, m in cfg.ensembles.items() if all(s in results for s in m)}
    if not usable:
        stream = next(iter(results))
        return stream, results[stream].test_scores
    name = max(usable, key=lambda n: len(usable[n]))
    fixed = {s: float(cfg.fusion_weights.get(s, 1.0)) for s in usable[name]}
    return name, ensembles.fuse({s: r.test_scores for s, r in results.items()}, fixed, usable[name])


def error_correlation_table(results: dict[str, StreamResult], data: SkeletonData) -> pd.DataFrame:
    """Pairwise correlation of the single streams' test errors (:func:`metrics.error_correlation`),
    streams as rows and columns, and each stream's test error rate (%) as the last column."""
    streams = list(results)
    labels = data.sets["test"].labels
    corr = metrics.error_correlation([results[s].test_scores for s in streams], labels).numpy()
    table = pd.DataFrame(corr, index=streams, columns=streams)
    table["test error (%)"] = [100.0 - metrics.top_k_accuracy(results[s].test_scores, labels, 1) for s in streams]
    return table


def history_frame(results: dict[str, StreamResult]) -> pd.DataFrame:
    """One row per epoch: ``epoch`` and ``<stream> <column>`` for every history column of every stream
    (train_loss, val_loss, val_top1 (%), lr, ...; the mean over folds for cross-validated streams), for
    :func:`workbench.viz.curves.learning_curves`."""
    frames = [pd.DataFrame(r.history).drop(columns=["stream", "fold"], errors="ignore").groupby("epoch").mean()
              .add_prefix(f"{s} ") for s, r in results.items() if r.history]
    if not frames:
        return pd.DataFrame({"epoch": []})
    return pd.concat(frames, axis=1).reset_index()


def viewer_clips(data: SkeletonData, role: str = "test", max_clips: int = 4) -> tuple[list[np.ndarray], list[str]]:
    """The first clip of up to ``max_clips`` classes of a split, (M, T, V, C) with y pointing up
    (2D image rows are negated), and their titles."""
    clips = data.sets[role]
    shown, titles, seen = [], [], set()
    flip = np.array([1.0, -1.0] if data.channels == 2 else [1.0, 1.0, 1.0], dtype=np.float32)
    for i, label in enumerate(clips.labels.tolist()):
        if label in seen or len(shown) >= max_clips:
            continue
        seen.add(label)
        shown.append(clips.clips[0, i].numpy() * flip)
        titles.append(f"{data.class_names[label]} ({clips.names[i]})")
    return shown, titles


def output_dir(cfg: Config) -> Path:
    """``cfg.output_dir`` or a new ``outputs/skeleton_ensembles/<time>_<model>``."""
    return run_folder(STUDY, cfg.model, cfg.output_dir)


def save_results(folder: Path, cfg: Config, data: SkeletonData, results: dict[str, StreamResult],
                 table: pd.DataFrame, searched: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Write ``metrics.json`` (every table row, searched weights, training time per stream),
    ``history.csv`` (all streams, a ``stream`` column), ``config.yaml``, ``checkpoint.pt`` (every
    stream's weights with the model and study configuration) and ``scores.npz`` (softmax scores
    ``val_<stream>``, ``test_<stream>``, the labels ``val_labels``, ``test_labels`` and the clip names
    ``val_names``, ``test_names``, in the same order)."""
    history = [row for r in results.values() for row in r.history]
    blank_model = make_model(cfg, data)
    summary: dict[str, Any] = {
        "study": STUDY, "model": cfg.model, "dataset": cfg.dataset, "source": data.source,
        "layout": data.layout.name, "classes": data.class_names, "device": str(resolve_device(cfg.device)),
        "clips": {role: len(s.names) for role, s in data.sets.items()}, "scores": "softmax probabilities",
        "rows": table.to_dict(orient="records"), "searched_weights": searched,
        "train_time_s": {s: float(sum(row["epoch_time_s"] for row in r.history)) for s, r in results.items()},
        "reused_from": {s: r.source for s, r in results.items() if r.source},
        "parameters_per_stream": parameter_counts(blank_model)["total"],
    }
    save_atomic({"format": CHECKPOINT_FORMAT,
                 "models": {s: r.model.state_dict() for s, r in results.items() if r.model is not None},
                 "model_config": blank_model.config_dict(),
                 "study_config": asdict(cfg), "class_names": data.class_names}, folder / "checkpoint.pt")
    arrays = {f"{role}_{s}": getattr(r, f"{role}_scores") for s, r in results.items() for role in ("val", "test")}
    names = {f"{role}_names": np.array(data.sets[role].names, dtype=str) for role in ("val", "test")}
    np.savez_compressed(folder / "scores.npz", val_labels=data.sets["val"].labels.numpy(),
                        test_labels=data.sets["test"].labels.numpy(), **names, **arrays)
    write_json(folder / "metrics.json", summary)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return summary


def load_checkpoint(path: str | Path) -> tuple[Config, dict[str, torch.nn.Module]]:
    """The study configuration and every stream's model of a run's ``checkpoint.pt``."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, f"not a skeleton_ensembles checkpoint (format {CHECKPOINT_FORMAT} expected)")
    for key in ("study_config", "model_config", "models"):
        if not isinstance(state.get(key), dict):
            raise CheckpointError(path, f"the checkpoint has no {key!r} mapping")
    names = {f.name for f in fields(Config)}
    try:
        cfg = Config(**{k: v for k, v in state["study_config"].items() if k in names})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"its study_config is not valid ({exc})") from None
    if not state["models"] and state["study_config"].get("fold_runs"):
        raise CheckpointError(path, "a cross-validated run keeps no models; use its fold runs' checkpoints: "
                              + ", ".join(map(str, state["study_config"]["fold_runs"])))
    options = dict(state["model_config"])
    models = {}
    for stream, weights in state["models"].items():
        model = build_model(STUDY, cfg.model, **options)
        if cfg.cross_validated:
            model = FoldEnsemble([model] + [build_model(STUDY, cfg.model, **options) for _ in range(cfg.val_folds - 1)])
        models[stream] = load_state_dict_checked(model, weights, path)
    return cfg, models
