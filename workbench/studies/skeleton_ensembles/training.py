"""Training and scoring of the skeleton study's streams: one ST-GCN classifier per stream, trained
once or once per fold (cross-validated in this run)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from workbench import metrics
from workbench.data.layouts.skeleton_layouts import Layout
from workbench.data.transforms import skeleton_augment
from workbench.data.transforms.skeleton_streams import make_stream
from workbench.engine.runtime import seed_everything
from workbench.engine.trainer import Trainer
from workbench.models.fold_ensemble import FoldEnsemble
from workbench.models.registry import build_model
from workbench.studies.skeleton_ensembles import replicas
from workbench.studies.skeleton_ensembles.config import STUDY, Config
from workbench.studies.skeleton_ensembles.data import ClipSet, SkeletonData, fold_holdout


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


def train_stream(cfg: Config, data: SkeletonData, stream: str, checkpoint_path: str | Path | None = None,
                 seed: int | None = None) -> tuple[torch.nn.Module, list[dict]]:
    """Train one classifier on ``stream``, initialised and trained from ``seed`` (default ``cfg.seed``;
    the data are ``data`` whatever the seed); validation loss and top-1 (%) of the first temporal clip
    per video (the learning curve; the final scores average all ``test_clips``) are logged every epoch.
    Returns the model (last epoch's weights) and the history."""
    if seed is not None:
        cfg = replace(cfg, seed=seed)
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
                                   checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
                                   sample_unit="clips")
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


def cross_validate_stream(cfg: Config, data: SkeletonData, stream: str, folder: Path | None = None,
                          name: str = "", train_seed: int | None = None) -> StreamResult:
    """Train ``stream`` once per fold of the ``val_folds``-way stratified partition
    (:func:`fold_holdout`, dealt with ``cfg.seed``) of ``data``'s pooled validation split (``val_fold``
    -1, see :func:`load_data`), each model on the other folds' clips from ``train_seed`` (default
    ``cfg.seed``), training state in ``folder/train_<name>_fold<k>.pt`` (``name`` the model's name,
    default the stream). Validation scores are out of fold (each clip scored by the model that did not
    train on it); the model is the :class:`FoldEnsemble` of the K fold models, whose test scores are the
    fold mean ``(1/K) sum_k p_k`` of their softmax scores. History rows carry a ``fold`` column."""
    pool = data.sets["val"]  # the training split holds the same clips in the same order (see load_data)
    row_of = {clip: i for i, clip in enumerate(pool.names)}
    oof = np.zeros((len(pool.names), data.num_classes))
    members, history = [], []
    for k in range(cfg.val_folds):
        kept, held = fold_holdout(pool.names, pool.labels.tolist(), cfg.val_folds, k, cfg.seed)
        rows = [row_of[n] for n in held]
        fold_data = SkeletonData(data.layout, data.class_names,
                                 {"train": _subset(data.sets["train"], [row_of[n] for n in kept]),
                                  "val": _subset(pool, rows), "test": data.sets["test"]}, data.source)
        path = folder / f"train_{name or stream}_fold{k}.pt" if folder is not None else None
        model, fold_history = train_stream(cfg, fold_data, stream, path, train_seed)
        oof[rows] = predict_scores(model, fold_data.sets["val"], stream, data.layout, cfg.bone_order)
        members.append(model)
        history += [{**row, "fold": k} for row in fold_history]
    ensemble = FoldEnsemble(members)
    return StreamResult(ensemble, history, oof,
                        predict_scores(ensemble, data.sets["test"], stream, data.layout, cfg.bone_order))


def run_stream(cfg: Config, data: SkeletonData, name: str, folder: Path | None = None) -> StreamResult:
    """Train model ``name`` (a stream, or a replica ``stream#i`` trained from
    :func:`replicas.replica_seed`; training state in ``folder/train_<name>.pt`` when given) and score it;
    with ``val_fold`` -1 cross-validate it in this run (:func:`cross_validate_stream`). ``data`` is
    loaded with the run's seed, so a replica sees the same clips, hold-out and crops as its stream."""
    stream, seed = replicas.base_stream(name), replicas.replica_seed(cfg.seed, name)
    if cfg.cross_validated:
        result = cross_validate_stream(cfg, data, stream, folder, name, seed)
        result.history = [{**row, "stream": name} for row in result.history]
        return result
    path = folder / f"train_{name}.pt" if folder is not None else None
    model, history = train_stream(cfg, data, stream, path, seed)
    return StreamResult(model, [{**row, "stream": name} for row in history],
                        predict_scores(model, data.sets["val"], stream, data.layout, cfg.bone_order),
                        predict_scores(model, data.sets["test"], stream, data.layout, cfg.bone_order))
