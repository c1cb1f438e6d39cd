"""The skeleton study's data: the configured data set read, split into training, validation and test
(a held-out fraction or a stratified fold of the pooled training and validation splits when the data
has no validation split), and preprocessed into clip tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from workbench.data.formats import jhmdb, penn_action, pyskl
from workbench.data.generators import synthetic_actions
from workbench.data.layouts.skeleton_layouts import Layout, get_layout
from workbench.data.transforms import penn_skeleton
from workbench.data.transforms.skeleton_streams import normalise, random_sample_indices, sample_indices
from workbench.errors import ConfigError
from workbench.settings import shared_data_dir
from workbench.studies.skeleton_ensembles.config import Config


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
