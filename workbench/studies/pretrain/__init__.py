"""The heatmap-denoising pretraining study (``notebooks/pretrain.ipynb``).

Clean 2D pose annotations (Penn Action, BRACE, or the generated default) are cut into 5-frame
windows in 56 x 56 heatmap coordinates; a simulated keypoint detector (random shift, random blur)
makes the noisy input heatmaps on the fly, the clean keypoints rendered with sigma 1 px are the
target, and temporal models learn to clean the input. Results are PCK@{0.05, 0.1, 0.2} of the
maps' argmax against the ground truth, always beside the ``identity`` baseline (the noisy input).

Experiments: 1 = sigma_in drawn per map from {1, 1.5, 2, 2.5, 3} px; 2 = sigma_in = 1 px;
3 = as 1 at half the frame rate (every second frame). Detector shift: Gaussian, std 3 x
``shift_scalar`` px per coordinate.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from workbench import metrics
from workbench.data.formats import brace, penn_action
from workbench.data.generators import synthetic_pose2d
from workbench.data.layouts.keypoints25 import GROUPS, HIPS, NAMES, SHOULDERS, PoseSequence, from_penn
from workbench.data.transforms import heatmaps
from workbench.data.transforms.heatmap_windows import SPLITS, WindowSet, make_windows, split_indices
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.machine import machine_record
from workbench.engine.precision import autocast, resolve_precision
from workbench.engine.progress import task_progress
from workbench.engine.runtime import resolve_device, seed_everything
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.errors import CheckpointError, ConfigError, DataFormatError
from workbench.models import heatmap_models
from workbench.models.registry import build_model, parameter_counts
from workbench.notebook_run import open_run
from workbench.run_folders import write_history_csv, write_json, write_yaml
from workbench.settings import shared_data_dir
from workbench.studies.base import StudyConfig
from workbench.studies.pretrain.sweep import (
    SAME_DATA,
    THRESHOLD_ROW,
    fuse_runs,
    fused_decoders,
    fused_per_keypoint,
    sweep,
    sweep_tables,
)

__all__ = ["fuse_runs", "fused_decoders", "fused_per_keypoint", "sweep", "sweep_tables"]

log = logging.getLogger(__name__)

STUDY = "pretrain"
NOISE_MODEL_ROW = "identity: noise model (quantised Rayleigh)"
BASELINE = "identity"
MODELS = tuple(name for name in heatmap_models.MODELS if name != BASELINE)
"""The trainable models (:data:`workbench.models.heatmap_models.MODELS` without the baseline)."""
DATASETS = ("synthetic", "penn_action", "brace")
EXPERIMENTS: dict[int, tuple[float | None, int]] = {1: (None, 1), 2: (1.0, 1), 3: (None, 2)}
"""experiment -> (fixed sigma_in in px or None for drawn from {1, ..., 3}, frame step)."""


@dataclass
class Config(StudyConfig):
    """Every parameter of the study (the notebook's papermill parameters).

    ``dataset``: ``synthetic`` (generated, ``synthetic_sequences`` people of ``synthetic_frames``
    frames at 30 fps), ``penn_action`` (``data_dir`` = a labels folder, default the shared copy) or
    ``brace`` (``data_dir`` = a folder of segment JSON files). ``max_videos`` > 0 keeps the first
    files only; ``max_windows`` {split: n} caps each split after shuffling (0 or absent: all).
    ``epochs`` 0 evaluates only; ``checkpoint`` starts from a saved model. ``train_windows`` > 0
    defines an epoch as that many training windows drawn afresh each epoch (0: every training window
    once); ``time_limit_min`` > 0 ends training after the first epoch at which that much training
    time has passed; ``precision``: ``fp32`` | ``bf16`` | ``auto`` (bf16 where the hardware computes
    it natively). ``decode``: how keypoints are read off the models' maps and the identity's
    noisy input alike (:func:`heatmaps.decode_coords`: ``argmax``, the thesis's; ``quarter``;
    ``dark``; the truth stays the clean maps' whole-pixel peaks); ``pck_px``: fixed pixel
    thresholds of the second PCK, default the thesis's mean thresholds 1.11 / 2.23 / 4.46 px;
    ``compare_decode``: further decoders read off the same test maps (one model pass), whose PCK of
    every model and the identity is reported beside ``decode``'s (:func:`decoder_table`).
    ``sweep_runs``: earlier runs (one per model,
    experiment and shift scalar) whose test results are fused into the sweep tables instead of
    training them here.
    """

    model: str = "bi_convlstm_c"
    dataset: str = "synthetic"
    data_dir: str = ""
    max_videos: int = 0
    synthetic_sequences: int = 300
    synthetic_frames: int = 60
    experiment: int = 1
    shift_scalar: float = 1.0
    window: int = 5
    split_fractions: list = field(default_factory=lambda: [0.6, 0.2, 0.2])
    max_windows: dict = field(default_factory=dict)
    channels: int = 128
    embed: int = 128
    heads: int = 4
    layers: int = 5
    dropout: float = 0.1
    epochs: int = 50
    batch_size: int = 16
    eval_batch_size: int = 32
    lr: float = 1e-3
    plateau_factor: float = 0.1
    plateau_patience: int = 5
    early_stopping_patience: int = 10
    train_windows: int = 0
    time_limit_min: float = 0.0
    precision: str = "auto"
    checkpoint: str = ""
    sweep: bool = False
    sweep_models: list = field(default_factory=lambda: list(MODELS))
    sweep_experiments: list = field(default_factory=lambda: [1, 2, 3])
    sweep_shift_scalars: list = field(default_factory=lambda: [1, 2])
    sweep_runs: list = field(default_factory=list)
    viewer_windows: int = 4
    decode: str = "argmax"
    pck_px: list = field(default_factory=lambda: list(metrics.PCK_PX_THESIS))
    compare_decode: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.decode not in heatmaps.DECODERS:
            raise ConfigError(f"unknown decode {self.decode!r}; choose from {', '.join(heatmaps.DECODERS)}")
        if not isinstance(self.compare_decode, list) or any(d not in heatmaps.DECODERS for d in self.compare_decode):
            raise ConfigError(f"compare_decode must be a list of decoders ({', '.join(heatmaps.DECODERS)}), "
                              f"got {self.compare_decode!r}")
        if not isinstance(self.pck_px, list) or not self.pck_px or not all(
                isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in self.pck_px):
            raise ConfigError(f"pck_px must be a list of positive pixel thresholds, got {self.pck_px!r}")
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; choose from {', '.join(DATASETS)}")
        for experiment in [self.experiment, *self.sweep_experiments]:
            if int(experiment) not in EXPERIMENTS:
                raise ConfigError(f"unknown experiment {experiment!r}; choose from 1, 2, 3")
        for name in [self.model, *self.sweep_models]:
            if name not in (*MODELS, BASELINE):
                raise ConfigError(f"unknown model {name!r}; choose from {', '.join((*MODELS, BASELINE))}")
        if float(self.shift_scalar) < 0:
            raise ConfigError(f"shift_scalar must be >= 0, got {self.shift_scalar}")
        if int(self.train_windows) < 0 or float(self.time_limit_min) < 0:
            raise ConfigError("train_windows and time_limit_min must be >= 0")
        if not isinstance(self.sweep_runs, list) or not all(isinstance(r, str) for r in self.sweep_runs):
            raise ConfigError(f"sweep_runs must be a list of run folders, got {self.sweep_runs!r}")

    def model_options(self, name: str | None = None) -> dict[str, Any]:
        """The model's name and size options, as stored in its checkpoints."""
        return {"model": name or self.model, "channels": int(self.channels), "embed": int(self.embed),
                "heads": int(self.heads), "layers": int(self.layers), "dropout": float(self.dropout)}


@dataclass
class StudyData:
    """The windows of each split and a description of where they came from (``info``: source,
    files read, skipped files with their problems, window counts)."""

    splits: dict[str, WindowSet]
    info: dict


def default_data_dir(dataset: str) -> Path:
    """The shared copy of a real dataset (``penn_action/labels``, ``brace``)."""
    return shared_data_dir() / ("penn_action/labels" if dataset == "penn_action" else dataset)


def data_folder(cfg: Config) -> Path:
    """The folder of label files: ``cfg.data_dir`` (for Penn Action the dataset root that holds
    ``labels/`` is accepted too) or :func:`default_data_dir`."""
    folder = Path(cfg.data_dir) if cfg.data_dir else default_data_dir(cfg.dataset)
    if cfg.dataset == "penn_action" and (folder / "labels").is_dir():
        return folder / "labels"
    return folder


def load_sequences(cfg: Config) -> tuple[list[PoseSequence], dict]:
    """The pose sequences of ``cfg.dataset`` in the 25-keypoint layout, and what was read / skipped."""
    if cfg.dataset == "synthetic":
        sequences = synthetic_pose2d.generate(int(cfg.synthetic_sequences), int(cfg.synthetic_frames), cfg.seed)
        return sequences, {"source": f"generated ({len(sequences)} sequences)", "files": 0, "skipped": []}
    folder = data_folder(cfg)
    if cfg.dataset == "penn_action":
        files = penn_action.label_files(folder)
        files = files[: cfg.max_videos] if cfg.max_videos > 0 else files
        videos, skipped = penn_action.load_videos(files)
        sequences = [from_penn(v) for v in videos]
    else:
        files = brace.segment_files(folder)
        files = files[: cfg.max_videos] if cfg.max_videos > 0 else files
        sequences, skipped = brace.load_segments(files)
    if skipped:
        log.warning("skipped %d of %d files in %s", len(skipped), len(files), folder)
    if not sequences:
        raise DataFormatError(folder, f"none of the {len(files)} files could be used ({skipped[0][1]}, ...)")
    return sequences, {"source": str(folder), "files": len(files), "skipped": skipped}


def load_data(cfg: Config, sequences: list[PoseSequence] | None = None, info: dict | None = None) -> StudyData:
    """Windows of ``cfg.window`` frames (at half the frame rate for experiment 3), shuffled with
    ``cfg.seed`` and split train/val/test; ``sequences`` (with ``info``) skips loading again."""
    if sequences is None:
        sequences, info = load_sequences(cfg)
    _, step = EXPERIMENTS[int(cfg.experiment)]
    windows, stats = make_windows(sequences, int(cfg.window), step)
    if len(windows) < len(SPLITS):
        raise DataFormatError((info or {}).get("source", cfg.dataset),
                              f"only {len(windows)} windows of {cfg.window} usable frames; need at least 3")
    index = split_indices(len(windows), cfg.seed, cfg.split_fractions)
    limits = {str(k): int(v) for k, v in dict(cfg.max_windows).items()}
    splits = {}
    for name in SPLITS:
        chosen = index[name][: limits[name]] if limits.get(name, 0) > 0 else index[name]
        splits[name] = windows.subset(chosen)
    return StudyData(splits, {**(info or {}), **stats, "frame_step": step,
                              "split_windows": {k: len(v) for k, v in splits.items()}})


def _device_of(model: torch.nn.Module, cfg: Config) -> torch.device:
    """The device of the model's weights, or the configured device for a model without weights."""
    return next((p.device for p in model.parameters()), None) or resolve_device(cfg.device)


def make_model(cfg: Config, name: str | None = None) -> torch.nn.Module:
    """Build ``name`` (default ``cfg.model``), seeded with ``cfg.seed``; loads ``cfg.checkpoint`` if given."""
    options = cfg.model_options(name)
    seed_everything(cfg.seed)
    model = build_model(STUDY, options["model"], **options)
    if cfg.checkpoint and options["model"] != BASELINE:
        load_checkpoint(model, cfg.checkpoint, options)
    return model


def load_checkpoint(model: torch.nn.Module, path: str | Path, options: dict[str, Any]) -> torch.nn.Module:
    """Load a run's ``checkpoint.pt`` (its best weights when training kept them) after checking it was
    written for the same model and sizes."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(path, "not a workbench checkpoint (no 'model' entry)")
    saved = state.get("model_config") or {}
    if saved and saved != options:
        raise CheckpointError(path, f"was written for {saved}, but the model is {options}")
    weights = state.get("best_state") or state["model"]
    return load_state_dict_checked(model, weights, path)


def checkpoint_options(path: str | Path) -> dict[str, Any]:
    """The model name and sizes a checkpoint was written for."""
    state = load_torch_file(path)
    options = state.get("model_config") if isinstance(state, dict) else None
    if not options or "model" not in options:
        raise CheckpointError(path, "holds no model_config (not written by the pretrain study)")
    return dict(options)


def noisy_input(keypoints: torch.Tensor, visible: torch.Tensor, cfg: Config,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Simulated detector heatmaps (B, T, 25, 56, 56) for windows of keypoints (B, T, 25, 2) px:
    blur per map from the experiment, shift std 3 x ``cfg.shift_scalar`` px."""
    fixed, _ = EXPERIMENTS[int(cfg.experiment)]
    sigma = heatmaps.sample_sigma_in(tuple(visible.shape), fixed, generator, keypoints.device)
    return heatmaps.simulate_detector(keypoints, visible, cfg.shift_scalar, sigma, generator)


def _eval_seed(cfg: Config, split: str) -> int:
    return (cfg.seed * 1_000_003 + SPLITS.index(split) * 7919 + int(cfg.experiment) * 31
            + int(round(float(cfg.shift_scalar) * 100)))


@torch.no_grad()
def predict(model: torch.nn.Module, windows: WindowSet, cfg: Config, split: str,
            progress: bool = True, compare: bool = False) -> dict[str, Any]:
    """Run ``model`` on a split with fixed simulated noise (the same for every model of a config).

    Returns ``pred`` and ``input`` (N, T, 25, 2): px of the output and the noisy input maps read off
    by ``cfg.decode`` (:func:`heatmaps.decode_coords`), ``truth`` (N, T, 25, 2): the ground-truth maps'
    peaks (rounded, clipped keypoints: the maps are rendered at whole pixels, where every decoder
    finds a clean map's centre), ``scored``
    (N, T, 25): visible and annotated, ``loss``: the mean loss of the model's ``objective``, and
    ``by_decode`` {decoder: {"pred", "input"}}: the same maps read off by ``cfg.decode`` and, with
    ``compare`` (the test pass; validation inside training skips it), by each decoder of ``cfg.compare_decode``.
    With ``progress`` (and ``cfg.progress``) the pass reports how many windows are done
    (:func:`~workbench.engine.progress.task_progress`; a test pass of Model C takes minutes on a CPU).
    """
    model.eval()
    device = _device_of(model, cfg)
    precision = resolve_precision(cfg.precision, device)
    generator = torch.Generator(device=device).manual_seed(_eval_seed(cfg, split))
    decoders = tuple(dict.fromkeys([cfg.decode, *(cfg.compare_decode if compare else [])]))
    read: dict[str, dict[str, list[torch.Tensor]]] = {d: {"pred": [], "input": []} for d in decoders}
    total = 0.0
    label = f"{type(model).__name__} on {split}"
    with task_progress(label, len(windows), "windows", progress and bool(cfg.progress)) as task:
        for start in range(0, len(windows), int(cfg.eval_batch_size)):
            chunk = slice(start, start + int(cfg.eval_batch_size))
            kp, vis = windows.keypoints[chunk].to(device), windows.visible[chunk].to(device)
            ann = windows.annotated[chunk].to(device)
            x = noisy_input(kp, vis, cfg, generator)
            with autocast(precision, device):
                loss, out = model.objective(x, kp, vis, ann, want_maps=True)
            total += float(loss) * len(kp)
            for decoder, lists in read.items():
                lists["pred"].append(heatmaps.decode_coords(out.float(), decoder).cpu())
                lists["input"].append(heatmaps.decode_coords(x, decoder).cpu())
            task.advance(len(kp))
    truth = windows.keypoints.round().clamp(0, heatmaps.HEATMAP_SIZE - 1)
    empty = torch.zeros(0, *windows.keypoints.shape[1:])
    by_decode = {d: {k: torch.cat(v) if v else empty for k, v in lists.items()} for d, lists in read.items()}
    return {**by_decode[cfg.decode], "truth": truth, "scored": windows.visible & windows.annotated[:, None],
            "loss": total / max(len(windows), 1), "by_decode": by_decode}


def summarize(out: dict[str, Any], thresholds_px: tuple[float, ...] = metrics.PCK_PX_THESIS) -> dict[str, Any]:
    """PCK of a :func:`predict` result: ``pck`` {alpha: %} (torso-relative), ``threshold_px`` {alpha: px},
    ``pck_px`` {threshold: %} at the fixed pixel ``thresholds_px``, ``n_keypoints``, ``loss``."""
    result = metrics.pck(out["pred"], out["truth"], out["scored"], SHOULDERS, HIPS)
    fixed = metrics.pck_px(out["pred"], out["truth"], out["scored"], tuple(thresholds_px))
    return {**result, "pck_px": fixed, "loss": float(out["loss"])}


def decoder_results(outputs: dict[str, dict[str, Any]],
                    thresholds_px: tuple[float, ...] = metrics.PCK_PX_THESIS) -> dict[str, dict[str, dict[str, Any]]]:
    """{decoder: {name: :func:`summarize` result}} of :func:`predict` results ``outputs`` ({model name: result})
    for every decoder they were read off with (``by_decode``): the model's maps scored as ``pred``, and the
    identity (whose prediction is its input) alike."""
    decoders = next(iter(outputs.values()))["by_decode"]
    return {decoder: {name: summarize({**out, "pred": out["by_decode"][decoder]["pred"]}, thresholds_px)
                      for name, out in outputs.items()} for decoder in decoders}


def decoder_table(by_decoder: dict[str, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    """Test PCK (%) per (model, decoder) of :func:`decoder_results`: the :func:`results_table` columns
    (torso-relative, then fixed pixel thresholds), rows indexed (``model``, ``decode``), each model's
    decoders together in the given order, and a ``change (points)`` block: each decoder's PCK minus the
    first decoder's (the run's ``decode``)."""
    first = next(iter(by_decoder))
    names = list(by_decoder[first])
    rows, index = [], []
    for name in names:
        for decoder, results in by_decoder.items():
            rows.append(results_table({name: results[name]}).loc[name])
            index.append((name, decoder))
    table = pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["model", "decode"]))
    change = table - table.xs(first, level="decode").reindex(table.index.get_level_values("model")).to_numpy()
    change.columns = [column.replace("(%)", "change (points)") for column in change.columns]
    return pd.concat([table, change], axis=1)


def evaluate(model: torch.nn.Module, windows: WindowSet, cfg: Config, split: str,
             progress: bool = True) -> dict[str, Any]:
    """:func:`summarize` of :func:`predict` at the run's ``pck_px`` thresholds."""
    return summarize(predict(model, windows, cfg, split, progress), tuple(cfg.pck_px))


def _validation_fn(windows: WindowSet, cfg: Config):
    def validate(model: torch.nn.Module) -> dict[str, float]:
        result = evaluate(model, windows, cfg, "val", progress=False)  # inside an epoch: its own bar
        row = {"val_loss": result["loss"]}
        row.update({f"val_pck_{alpha}": value for alpha, value in result["pck"].items()})
        row.update({f"val_pck_{t}px": value for t, value in result["pck_px"].items()})
        return row

    return validate


def train_config(cfg: Config, checkpoint_path: str | Path | None = None, label: str = "") -> TrainConfig:
    """The engine options of the study's recipe: Adam (0.9, 0.999), LR x ``plateau_factor`` after
    ``plateau_patience`` epochs without a better validation loss, early stopping after
    ``early_stopping_patience`` such epochs, best weights restored at the end; ``label`` names the
    training in progress reports. The shared options (epochs, batch size, lr, device, seed, precision,
    ...) come from ``cfg`` by name."""
    return cfg.engine_options(
        optimizer="adam", betas=(0.9, 0.999), scheduler="plateau", plateau_monitor="val_loss", monitor="val_loss",
        restore_best=True, checkpoint_path=str(checkpoint_path) if checkpoint_path else None, progress_label=label,
        samples_per_epoch=int(cfg.train_windows), max_time_s=60.0 * float(cfg.time_limit_min), sample_unit="windows")


def train(model: torch.nn.Module, data: StudyData, cfg: Config, checkpoint_path: str | Path | None = None,
          name: str | None = None, label: str = "") -> list[dict]:
    """Train on the train windows, validating each epoch; returns the history (one dict per epoch).
    The identity baseline and ``epochs == 0`` return an empty history. ``label`` names the training
    in progress reports."""
    name = name or cfg.model
    if name == BASELINE or cfg.epochs == 0:
        return []
    train_set = data.splits["train"]
    if len(data.splits["val"]) == 0:
        raise ConfigError("the validation split is empty; use more data or larger split fractions")

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
        kp, vis, ann, index = batch
        loss, _ = net.objective(training_input(kp, vis, cfg, index, trainer.epoch), kp, vis, ann)
        return loss, {}

    trainer = Trainer(model, train_config(cfg, checkpoint_path, label), loss_fn,
                      _validation_fn(data.splits["val"], cfg), model_config=cfg.model_options(name))
    windows = torch.arange(len(train_set))
    return trainer.fit(TensorDataset(train_set.keypoints, train_set.visible, train_set.annotated, windows))


def training_input(keypoints: torch.Tensor, visible: torch.Tensor, cfg: Config, index: torch.Tensor,
                   epoch: int) -> torch.Tensor:
    """:func:`noisy_input` for a training batch, window by window, each window's noise drawn from a
    generator seeded by seed x 1,000,000,007 + epoch x 1,000,003 + window ``index`` (distinct for up to
    a million windows): the noise a window gets in an epoch does not depend on the batch it falls in,
    so a run under torchrun (each process holding part of every batch) sees the same inputs as a
    single-process run."""
    seeds = (cfg.seed * 1_000_000_007 + epoch * 1_000_003 + index).tolist()
    return torch.cat([
        noisy_input(keypoints[i:i + 1], visible[i:i + 1], cfg,
                    torch.Generator(device=keypoints.device).manual_seed(int(seed)))
        for i, seed in enumerate(seeds)
    ])


def identity_noise_model(cfg: Config) -> dict[str, float]:
    """The noise model's PCK (%) of the identity baseline at ``cfg.pck_px`` (:func:`heatmaps.identity_pck_model`,
    shift std 3 x ``shift_scalar`` px): what the identity row at fixed thresholds should show."""
    return heatmaps.identity_pck_model(tuple(cfg.pck_px), heatmaps.SHIFT_STD_PER_SCALAR * float(cfg.shift_scalar))


def results_table(results: dict[str, dict[str, Any]], noise_model: dict[str, float] | None = None) -> pd.DataFrame:
    """The PCK table: columns ``PCK@<alpha> (%)`` (torso-relative), then ``PCK@<t> px (%)`` (fixed
    thresholds, when the results have them); first row the threshold distance (px: the mean torso
    threshold, or t itself), then one row per model of ``results`` ({model: :func:`evaluate` result})
    and, with ``noise_model`` ({t: %}, :func:`identity_noise_model`), its row at the fixed thresholds;
    index ``Accuracy metric``."""
    alphas = [str(a) for a in metrics.PCK_ALPHAS]
    first = next(iter(results.values()))
    fixed = list(first.get("pck_px", {}))
    columns = [f"PCK@{a} (%)" for a in alphas] + [f"PCK@{t} px (%)" for t in fixed]
    rows = {THRESHOLD_ROW: [first["threshold_px"][a] for a in alphas] + [float(t) for t in fixed]}
    rows.update({name: [r["pck"][a] for a in alphas] + [r["pck_px"][t] for t in fixed] for name, r in results.items()})
    if noise_model:
        rows[NOISE_MODEL_ROW] = [float("nan")] * len(alphas) + [noise_model.get(t, float("nan")) for t in fixed]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name = "Accuracy metric"
    return table


def per_keypoint_table(outputs: dict[str, dict[str, Any]], alpha: float = 0.1,
                       threshold_px: float | None = None) -> pd.DataFrame:
    """PCK@``alpha`` (%) per keypoint group (rows nose ... ankle, then ``total``) and side (columns
    ``<model> left``, ``<model> right``, ``<model> total`` per model of ``outputs`` ({model: :func:`predict`
    result})); with ``threshold_px`` the PCK at that fixed distance (px) instead. NaN where a group has
    no scored keypoint (e.g. ears in Penn Action). ``attrs["threshold"]``: ``"0.1"`` or ``"2.23px"``."""
    rows = [*GROUPS.values(), tuple(i for members in GROUPS.values() for i in members)]
    sides = {"left": "L-", "right": "R-", "total": ""}
    columns: dict[str, list[float]] = {}
    for name, out in outputs.items():
        if threshold_px is None:
            hits, count, _ = metrics.pck_counts(out["pred"], out["truth"], out["scored"], SHOULDERS, HIPS, alpha)
        else:
            hits, count = metrics.pck_px_counts(out["pred"], out["truth"], out["scored"], threshold_px)
        for side, prefix in sides.items():
            values = []
            for members in rows:
                chosen = [i for i in members if NAMES[i].startswith(prefix)]
                n = int(count[chosen].sum())
                values.append(100.0 * int(hits[chosen].sum()) / n if n else float("nan"))
            columns[f"{name} {side} (%)"] = values
    table = pd.DataFrame(columns, index=[*GROUPS, "total"])
    table.index.name = f"PCK@{alpha}" if threshold_px is None else f"PCK@{threshold_px:g} px"
    table.attrs["threshold"] = f"{alpha}" if threshold_px is None else f"{threshold_px:g}px"
    return table


def viewer_frames(model: torch.nn.Module, windows: WindowSet, cfg: Config, count: int = 4) -> dict[str, np.ndarray]:
    """Heatmaps and keypoints of the first ``count`` windows of a split for the viewer, frames flattened
    (F = count x T): ``input``, ``predicted``, ``truth`` maps (F, 56, 56) (max over keypoints) and
    keypoints (F, 25, 2) px, ``visible`` (F, 25), ``labels`` (F,) 'sequence frame n'."""
    sub = windows.subset(range(min(count, len(windows))))
    model.eval()
    device = _device_of(model, cfg)
    generator = torch.Generator(device=device).manual_seed(_eval_seed(cfg, "test"))
    kp, vis, ann = sub.keypoints.to(device), sub.visible.to(device), sub.annotated.to(device)
    with torch.no_grad():
        x = noisy_input(kp, vis, cfg, generator)
        _, out = model.objective(x, kp, vis, ann, want_maps=True)
    truth = heatmaps.render(kp, vis)
    flat = {name: maps.flatten(0, 1).cpu() for name, maps in (("input", x), ("predicted", out), ("truth", truth))}
    labels = [f"{name} frame {first + step * t}" for name, first, step in sub.origin for t in range(cfg.window)]
    return {
        **{f"{name}_maps": maps.amax(1).numpy() for name, maps in flat.items()},
        **{f"{name}_xy": heatmaps.decode_coords(maps, cfg.decode).numpy() for name, maps in flat.items()},
        "visible": (vis & ann[:, None]).flatten(0, 1).cpu().numpy(),
        "labels": np.array(labels),
    }


def output_dir(cfg: Config) -> Path:
    """Where this run writes its files: ``cfg.output_dir`` (``workbench run``'s staging folder), else the
    staging folder of a run the notebook kernel keeps (:func:`workbench.notebook_run.open_run`)."""
    return open_run(STUDY, cfg)


def _saved_result(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("pck", "threshold_px", "pck_px", "n_keypoints", "loss") if k in result}


def save_results(folder: Path, cfg: Config, data: StudyData, results: dict[str, dict[str, Any]],
                 history: list[dict], model: torch.nn.Module, sweep_rows: pd.DataFrame | None = None,
                 per_keypoint: pd.DataFrame | None = None,
                 per_keypoint_px: pd.DataFrame | None = None,
                 by_decoder: dict[str, dict[str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Write ``metrics.json`` (test PCK (%), threshold distances (px) and scored keypoints per model,
    data description, sweep rows, the per-keypoint PCK@0.1 table and, when given, the per-keypoint PCK
    at a fixed threshold (``per_keypoint_pck_<t>px``) and, given :func:`decoder_results` ``by_decoder``,
    ``test_by_decode`` {decoder: {model: PCK}}), ``history.csv``, ``config.yaml``
    and the model's ``checkpoint.pt`` (weights only, when training did not write it)."""
    payload: dict[str, Any] = {
        "study": STUDY, "model": cfg.model, "experiment": int(cfg.experiment), "shift_scalar": float(cfg.shift_scalar),
        "precision": resolve_precision(cfg.precision, resolve_device(cfg.device)), "seed": int(cfg.seed),
        "data_options": {k: v for k, v in asdict(cfg).items() if k in SAME_DATA},
        "parameters": parameter_counts(model)["total"], "device": str(resolve_device(cfg.device)),
        "machine": machine_record(cfg.device, cfg.precision),
        "data": {k: v for k, v in data.info.items() if k != "skipped"},
        "skipped_files": [{"file": f, "problem": p} for f, p in data.info.get("skipped", [])],
        "decode": cfg.decode,
        "test": {name: _saved_result(r) for name, r in results.items()},
    }
    if by_decoder and len(by_decoder) > 1:
        payload["test_by_decode"] = {d: {name: _saved_result(r) for name, r in found.items()}
                                     for d, found in by_decoder.items()}
    if history:
        payload["epochs_trained"] = len(history)
        payload["train_time_s"] = float(sum(r["epoch_time_s"] for r in history))
    if sweep_rows is not None and len(sweep_rows):
        payload["sweep"] = sweep_rows.to_dict(orient="records")
    for table in (per_keypoint, per_keypoint_px):
        if table is not None:
            payload[f"per_keypoint_pck_{table.attrs['threshold']}"] = {
                column: {group: (None if pd.isna(v) else float(v)) for group, v in table[column].items()}
                for column in table.columns}
    checkpoint = folder / "checkpoint.pt"
    if parameter_counts(model)["total"] and not checkpoint.is_file():
        save_atomic({"format": "workbench-weights-1", "model": model.state_dict(),
                     "model_config": cfg.model_options()}, checkpoint)
    write_json(folder / "metrics.json", payload)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return payload
