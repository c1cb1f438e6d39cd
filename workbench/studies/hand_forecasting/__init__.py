"""The hand-forecasting study (``notebooks/hand_forecasting.ipynb``).

Two-hand 2D landmark forecasting in the QUB-PHEO layout (real clips or the generated default),
BiLSTM / BiGRU (the published design), a residual GRU, and the zero-/constant-velocity baselines,
optionally fed with gaze, object boxes and surrogate hand boxes; training through the shared
engine; the results the notebook shows, the CLI prints and ``results_<arch>.md`` records.

Errors are in feature units (u): normalised image coordinates re-centred on the wrists' midpoint
and divided by 0.5 (1 u = half the image width in x, half its height in y). The optional inputs use
the same frame (:func:`workbench.data.formats.qub_pheo.clip_features`): gaze (g - c) / 0.5; per object box
slot ((x, y) - c) / 0.5 and (w, h) / 0.5, an empty slot all zeros; c the frame's wrist midpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from workbench import metrics
from workbench.data.formats import qub_pheo
from workbench.data.generators import synthetic_hands
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.machine import machine_record
from workbench.engine.runtime import resolve_device, seed_everything
from workbench.engine.trainer import Trainer
from workbench.errors import CheckpointError, ConfigError, DataFormatError
from workbench.models.hand_forecasters import build_hand_model, load_published_weights
from workbench.models.registry import build_model, parameter_counts
from workbench.notebook_run import open_run
from workbench.run_folders import write_history_csv, write_json, write_yaml
from workbench.settings import shared_data_dir
from workbench.studies.base import StudyConfig
from workbench.studies.hand_forecasting.report import write_results_markdown

log = logging.getLogger(__name__)

STUDY = "hand_forecasting"
BASELINES = ("zero_velocity", "constant_velocity")
TRAINABLE = ("bilstm", "bigru", "residual_gru")
MODALITY_FLAGS = {"gaze": "include_gaze", "boxes": "include_obj", "surrogate": "include_sur"}
METRIC_COLUMNS = {"mpjpe_qub": "MPJPE-QUB (u)", "mpjpe": "MPJPE (u)", "ade": "ADE (u)", "fde": "FDE (u)"}


@dataclass
class Config(StudyConfig):
    """Every parameter of the study (the notebook's papermill parameters).

    ``data_dir`` empty: generated clips (``synthetic_clips`` per split); else a folder of QUB-PHEO
    ``.h5`` clips, split by participant with ``split_ranges`` (inclusive id ranges), optionally
    listed in ``clip_list`` (CSV ``clip,participant``). ``mask`` False reproduces the unmasked
    published numbers. ``pretrained``: a published state dict or a workbench ``weights.pt`` /
    ``checkpoint.pt`` to start from; ``epochs`` 0 evaluates only. ``real_data_dir`` /
    ``published_weights_dir``: real clips evaluated with one half/half window per clip and the
    published weights (``auto``: under the shared data folder; empty: skip). ``ablation_sets``:
    the modality sets trained for the ablation (empty list: no ablation). ``model`` was called
    ``arch`` (and ``ablation_model`` ``ablation_arch``); the old names are still accepted.
    """

    ALIASES = {"arch": "model", "ablation_arch": "ablation_model"}

    model: str = "bilstm"
    data_dir: str = ""
    clip_list: str = ""
    synthetic_clips: dict = field(default_factory=lambda: dict(synthetic_hands.DEFAULT_SIZES))
    split_ranges: dict = field(default_factory=lambda: {k: list(v) for k, v in qub_pheo.DEFAULT_SPLIT.items()})
    obs_len: int = 60
    pred_len: int = 60
    stride: int = 15
    include_gaze: bool = False
    include_obj: bool = False
    include_sur: bool = False
    mask: bool = True
    hidden: int = 128
    layers: int = 2
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    warmup_epochs: int = 5
    grad_clip: float = 1.0
    early_stopping_patience: int = 20
    pretrained: str = ""
    real_data_dir: str = "auto"
    published_weights_dir: str = "auto"
    ablation_sets: list = field(default_factory=lambda: [[], ["gaze"], ["boxes"], ["gaze", "boxes"]])
    ablation_model: str = ""
    ablation_epochs: int = 0
    viewer_split: str = "test"
    viewer_windows: int = 2

    def __post_init__(self) -> None:
        if self.model not in (*TRAINABLE, *BASELINES):
            raise ConfigError(f"unknown model {self.model!r}; use {', '.join((*TRAINABLE, *BASELINES))}")
        if int(self.obs_len) < 2 or int(self.pred_len) < 1 or int(self.stride) < 1:
            raise ConfigError(f"need obs_len >= 2, pred_len >= 1, stride >= 1; got {self.obs_len}, "
                              f"{self.pred_len}, {self.stride}")
        if self.model in ("bilstm", "bigru") and self.pred_len > self.obs_len:
            raise ConfigError(f"{self.model} maps observed frames one to one onto forecast frames: "
                              f"pred_len {self.pred_len} must not exceed obs_len {self.obs_len}")
        for modalities in self.ablation_sets:
            unknown = set(modalities) - set(MODALITY_FLAGS)
            if unknown:
                raise ConfigError(f"unknown modality {sorted(unknown)} in ablation_sets; use gaze, boxes, surrogate")

    @property
    def modalities(self) -> list[str]:
        """The optional inputs of the main model, in input order (gaze, boxes, surrogate)."""
        return [m for m, flag in MODALITY_FLAGS.items() if getattr(self, flag)]


def input_size(modalities: Sequence[str]) -> int:
    """Input features per frame: 84 hand numbers plus each modality's width."""
    return qub_pheo.HAND_FEATURES + sum(qub_pheo.modality_width(m) for m in modalities)


def modality_label(modalities: Sequence[str]) -> str:
    """``hands`` followed by the modalities, e.g. ``hands + gaze + boxes``."""
    return " + ".join(["hands", *modalities])


@dataclass
class HandData:
    """The clips of each split (``train``/``val``/``test``), where they came from, and the
    files skipped as unreadable (file, problem)."""

    splits: dict[str, list[qub_pheo.HandClip]]
    source: str
    skipped: list[tuple[str, str]]


def _shared(path: str, *parts: str) -> Path | None:
    """``path`` as a folder; ``auto``: the shared data folder's ``parts`` if present; empty: None."""
    if not path:
        return None
    if path == "auto":
        folder = shared_data_dir().joinpath(*parts)
        return folder if folder.is_dir() else None
    return Path(path)


def load_data(cfg: Config) -> HandData:
    """Read every clip of the data folder (generated when ``cfg.data_dir`` is empty) and split
    the readable ones by participant."""
    if cfg.data_dir:
        folder = Path(cfg.data_dir)
    else:
        sizes = {str(k): int(v) for k, v in dict(cfg.synthetic_clips).items()}
        folder = synthetic_hands.default_dataset(cfg.seed, sizes)
    clips, skipped = qub_pheo.load_clips(qub_pheo.clip_list(folder, cfg.clip_list or None))
    if skipped:
        log.warning("skipped %d unreadable clip file(s) in %s", len(skipped), folder)
    if not clips:
        raise DataFormatError(folder, f"none of the clip files could be read ({len(skipped)} skipped)")
    ranges = {str(k): tuple(v) for k, v in dict(cfg.split_ranges).items()}
    return HandData(qub_pheo.split_by_participant(clips, ranges), str(folder), skipped)


def windows(cfg: Config, clips: Sequence[qub_pheo.HandClip], modalities: Sequence[str] | None = None
            ) -> qub_pheo.Windows:
    """The forecasting windows of ``clips`` with the given inputs (default ``cfg.modalities``);
    clips lacking a modality or shorter than a window are skipped (logged)."""
    modalities = cfg.modalities if modalities is None else list(modalities)
    usable, _ = qub_pheo.usable_clips(clips, modalities)
    result, _ = qub_pheo.make_windows(usable, cfg.obs_len, cfg.pred_len, cfg.stride, modalities, cfg.mask)
    return result


def data_summary(data: HandData, cfg: Config) -> pd.DataFrame:
    """Per split: clips, participants, frames, windows with the main model's inputs, clips skipped
    (missing modality or too short) and the share of frames with a missing hand (%)."""
    rows = []
    for name, clips in data.splits.items():
        usable, lacking = qub_pheo.usable_clips(clips, cfg.modalities)
        w, short = qub_pheo.make_windows(usable, cfg.obs_len, cfg.pred_len, cfg.stride, cfg.modalities, cfg.mask)
        visible = np.concatenate([qub_pheo.hand_visible(c) for c in clips]) if clips else np.ones((0, 2), bool)
        rows.append({
            "split": name, "clips": len(clips), "participants": len({c.participant for c in clips}),
            "frames": int(sum(c.num_frames for c in clips)), "windows": len(w),
            "skipped: no modality": len(lacking), "skipped: too short": len(short),
            "missing hand (% of hand-frames)": 100.0 * float((~visible).mean()) if len(visible) else float("nan"),
        })
    return pd.DataFrame(rows)


def make_model(cfg: Config, arch: str | None = None, modalities: Sequence[str] | None = None,
               pred_len: int | None = None) -> torch.nn.Module:
    """Build ``arch`` (default ``cfg.model``) for the given inputs, seeded with ``cfg.seed``; the main
    model (no ``arch`` given) starts from ``cfg.pretrained`` when set."""
    main = arch is None
    arch = arch or cfg.model
    modalities = cfg.modalities if modalities is None else list(modalities)
    seed_everything(cfg.seed)
    model = build_model(STUDY, arch, input_size=input_size(modalities), pred_len=pred_len or cfg.pred_len,
                        hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout)
    if main and cfg.pretrained:
        load_checkpoint(model, cfg.pretrained)
    return model


def load_checkpoint(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load a published QUB-PHEO state dict, or the ``model`` entry of a workbench ``weights.pt`` /
    ``checkpoint.pt``, checked to be written for the same model configuration (dropout, and the
    horizon of BiLSTM/BiGRU, which has no weights, may differ)."""
    state = load_torch_file(path)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        saved = dict(state.get("model_config") or {})
        ignored = {"dropout", "pred_len"} if getattr(model, "HORIZON_FREE", False) else {"dropout"}
        own = {k: v for k, v in model.config_dict().items() if k not in ignored}
        if saved and {k: v for k, v in saved.items() if k not in ignored} != own:
            raise CheckpointError(path, f"was written for {saved}, but the model is {model.config_dict()}")
        return load_state_dict_checked(model, state["model"], path)
    if getattr(model, "PUBLISHED_FORMAT", False):
        return load_published_weights(model, path)
    return load_state_dict_checked(model, state, path)


def published_weights_path(folder: Path, arch: str, modalities: Sequence[str]) -> Path:
    """``weights_<arch>-gaze_<bool>-obj_<bool>-sur_<bool>.pt`` in ``folder``."""
    flags = [f"{short}_{name in modalities}" for short, name in (("gaze", "gaze"), ("obj", "boxes"),
                                                                 ("sur", "surrogate"))]
    return folder / f"weights_{arch}-{'-'.join(flags)}.pt"


@torch.no_grad()
def predict(model: torch.nn.Module, observed: torch.Tensor | np.ndarray, pred_len: int | None = None,
            batch_size: int = 1024) -> torch.Tensor:
    """Forecast hand features (N, Tp, 84) for observed inputs (N, To, D) in eval mode, on the model's device."""
    model.eval()
    observed = torch.as_tensor(observed)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    parts = [model(chunk.to(device), pred_len).cpu() for chunk in observed.split(batch_size)]
    return torch.cat(parts) if parts else observed.new_zeros((0, pred_len or 0, qub_pheo.HAND_FEATURES))


def evaluate(model: torch.nn.Module, w: qub_pheo.Windows, masked: bool = True) -> dict[str, float | int]:
    """:func:`workbench.metrics.hand_forecast_metrics` (u) of ``model`` on windows ``w``."""
    if len(w) == 0:
        return {"mpjpe_qub": float("nan"), "mpjpe": float("nan"), "ade": float("nan"), "fde": float("nan"),
                "n_windows": 0}
    pred = predict(model, w.observed, w.future.shape[1])
    return metrics.hand_forecast_metrics(pred, torch.from_numpy(w.future),
                                         torch.from_numpy(w.future_mask) if masked else None)


def evaluate_half(model: torch.nn.Module, parts: Sequence[qub_pheo.Windows], masked: bool = True
                  ) -> dict[str, float | int]:
    """Metrics (u) pooled over one half/half window per clip (lengths differ between clips): MPJPE
    and ADE average over every predicted frame of every clip, FDE over the clips' last frames."""
    if not parts:
        return evaluate(model, qub_pheo.make_windows([], 2, 1, 1)[0], masked)
    preds = [predict(model, w.observed, w.future.shape[1])[0] for w in parts]
    truth = [torch.from_numpy(w.future[0]) for w in parts]
    masks = [torch.from_numpy(w.future_mask[0]) if masked else torch.ones(w.future_mask[0].shape) for w in parts]
    frames = (torch.cat(preds)[None], torch.cat(truth)[None], torch.cat(masks)[None])
    last = (torch.stack([p[-1:] for p in preds]), torch.stack([t[-1:] for t in truth]),
            torch.stack([m[-1:] for m in masks]))
    return {"mpjpe_qub": metrics.hand_mpjpe_qub(*frames), "mpjpe": metrics.hand_mpjpe(*frames),
            "ade": metrics.centroid_ade(*frames), "fde": metrics.centroid_fde(*last), "n_windows": len(parts)}


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error (u^2) over the coordinates of visible hands: (B, T, 84) with mask (B, T, 2)."""
    weights = mask.repeat_interleave(2 * qub_pheo.LANDMARKS_PER_HAND, dim=-1)
    return ((pred - target) ** 2 * weights).sum() / weights.sum().clamp(min=1.0)


def _batch_metrics(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    pred, target, mask = pred.detach().cpu(), target.detach().cpu(), mask.detach().cpu()
    return {"mpjpe": metrics.hand_mpjpe_qub(pred, target, mask), "ade": metrics.centroid_ade(pred, target, mask),
            "fde": metrics.centroid_fde(pred, target, mask)}


def _tensors(w: qub_pheo.Windows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.from_numpy(w.observed), torch.from_numpy(w.future), torch.from_numpy(w.future_mask).float()


def train(model: torch.nn.Module, data: HandData, cfg: Config, modalities: Sequence[str] | None = None,
          epochs: int | None = None, checkpoint_path: str | Path | None = None, label: str = "") -> list[dict]:
    """Train ``model`` on the train split with the masked MSE, validating on ``val`` after every
    epoch (validation never updates weights); the best-validation weights are restored. History
    rows hold ``train_loss``, ``train_mpjpe`` (MPJPE-QUB), ``train_ade``, ``train_fde`` (means over
    the epoch's batches) and ``val_loss``, ``val_mpjpe``, ``val_ade``, ``val_fde`` (u). Baselines
    and zero epochs return an empty history. ``label`` names the training in progress reports."""
    epochs = cfg.epochs if epochs is None else epochs
    if not any(p.requires_grad for p in model.parameters()) or epochs == 0:
        return []
    train_w = windows(cfg, data.splits.get("train", []), modalities)
    if len(train_w) == 0:
        raise ConfigError(f"no training windows of {cfg.obs_len}+{cfg.pred_len} frames in {data.source}")
    val_w = windows(cfg, data.splits.get("val", []), modalities)
    evaluate_fn = None
    if len(val_w):
        observed, future, mask = _tensors(val_w)

        def evaluate_fn(net: torch.nn.Module) -> dict[str, float]:
            device = next(net.parameters()).device
            pred = torch.cat([net(chunk.to(device)).cpu() for chunk in observed.split(1024)])
            logs = _batch_metrics(pred, future, mask)
            return {"val_loss": float(masked_mse(pred, future, mask)), **{f"val_{k}": v for k, v in logs.items()}}

    train_cfg = cfg.engine_options(
        epochs=epochs, optimizer="adamw", scheduler="cosine",
        early_stopping_patience=cfg.early_stopping_patience if evaluate_fn else 0, restore_best=evaluate_fn is not None,
        monitor="val_loss", checkpoint_path=str(checkpoint_path) if checkpoint_path else None, progress_label=label,
        sample_unit="windows")

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
        obs, fut, msk = batch
        pred = net(obs)
        return masked_mse(pred, fut, msk), _batch_metrics(pred, fut, msk)

    trainer = Trainer(model, train_cfg, loss_fn, evaluate_fn, model_config=model.config_dict())
    return trainer.fit(TensorDataset(*_tensors(train_w)))


def _row(split: str, name: str, m: dict[str, Any]) -> dict[str, Any]:
    return {"split": split, "model": name, "windows": m["n_windows"],
            **{label: m[key] for key, label in METRIC_COLUMNS.items()}}


def results_table(trained: torch.nn.Module, data: HandData, cfg: Config, splits: Sequence[str] = ("val", "test")
                  ) -> pd.DataFrame:
    """One row per (split, model): the main model and both baselines on the windows of each split.
    Columns: windows, MPJPE-QUB (u), MPJPE (u), ADE (u), FDE (u)."""
    candidates = {cfg.model: trained, **{b: make_model(cfg, b) for b in BASELINES if b != cfg.model}}
    rows = []
    for split in splits:
        w = windows(cfg, data.splits.get(split, []))
        if len(w) == 0:
            continue
        rows.extend(_row(split, name, evaluate(model, w, cfg.mask)) for name, model in candidates.items())
    return pd.DataFrame(rows)


def modality_ablation(data: HandData, cfg: Config, trained: torch.nn.Module | None = None,
                      split: str = "test") -> pd.DataFrame:
    """Train ``cfg.ablation_model`` (default ``cfg.model``) once per modality set of
    ``cfg.ablation_sets`` (same seed, data and ``cfg.ablation_epochs`` epochs, default ``cfg.epochs``)
    and evaluate on ``split``; the main model is reused for its own set when the arch and epochs
    match. Windows come from the clips holding every modality of every set, so all rows are
    scored on the same windows. Rows: inputs, the errors (u), and the change of MPJPE against the
    hands-only row (%)."""
    arch = cfg.ablation_model or cfg.model
    epochs = cfg.ablation_epochs or cfg.epochs
    if not cfg.ablation_sets or arch in BASELINES:
        return pd.DataFrame()
    every = sorted({m for s in cfg.ablation_sets for m in s}, key=list(MODALITY_FLAGS).index)
    common = HandData({k: qub_pheo.usable_clips(v, every)[0] for k, v in data.splits.items()}, data.source, [])
    rows = []
    for modalities in cfg.ablation_sets:
        modalities = sorted(modalities, key=list(MODALITY_FLAGS).index)
        if trained is not None and arch == cfg.model and epochs == cfg.epochs and modalities == cfg.modalities:
            model = trained
        else:
            model = make_model(cfg, arch, modalities)
            train(model, common, Config(**{**asdict(cfg), "resume": False}), modalities, epochs,
                  label=f"ablation {arch} ({modality_label(modalities)})")
        m = evaluate(model, windows(cfg, common.splits.get(split, []), modalities), cfg.mask)
        rows.append({"inputs": modality_label(modalities), "model": arch, "windows": m["n_windows"],
                     **{label: m[key] for key, label in METRIC_COLUMNS.items()}})
    zero = evaluate(make_model(cfg, "zero_velocity"), windows(cfg, common.splits.get(split, []), []), cfg.mask)
    rows.append({"inputs": "hands", "model": "zero_velocity", "windows": zero["n_windows"],
                 **{label: zero[key] for key, label in METRIC_COLUMNS.items()}})
    table = pd.DataFrame(rows)
    reference = table[(table["inputs"] == "hands") & (table["model"] == arch)]["MPJPE (u)"]
    if len(reference):
        table["MPJPE change vs hands only (%)"] = 100.0 * (table["MPJPE (u)"] / float(reference.iloc[0]) - 1.0)
    return table


def real_clips_table(cfg: Config, trained: torch.nn.Module | None = None) -> pd.DataFrame:
    """Real QUB-PHEO clips (``cfg.real_data_dir``), one half/half window per clip (n = floor(F/2)):
    the published BiLSTM/BiGRU weights (hands only), the baselines and, when it takes hands only and
    forecasts any length, the trained model. Empty when the folder is not there."""
    folder = _shared(cfg.real_data_dir, "qub_pheo", "landmarks")
    if folder is None:
        return pd.DataFrame()
    clips, skipped = qub_pheo.load_clips(qub_pheo.clip_list(folder))
    parts, short = qub_pheo.half_windows(clips, (), cfg.mask)
    weights = _shared(cfg.published_weights_dir, "qub_pheo", "weights")
    candidates: dict[str, torch.nn.Module] = {}
    for arch in ("bilstm", "bigru"):
        path = published_weights_path(weights, arch, ()) if weights else None
        if path is not None and path.is_file():
            published = build_hand_model(arch)  # the published sizes, whatever cfg.hidden / cfg.layers say
            candidates[f"{arch} (published weights)"] = load_published_weights(published, path)
    candidates.update({b: make_model(cfg, b, []) for b in BASELINES})
    if trained is not None and getattr(trained, "HORIZON_FREE", False) and trained.input_size == input_size([]):
        candidates[f"{cfg.model} (trained here)"] = trained
    rows = [{"model": name, "clips": len(parts), "skipped clips": len(skipped) + len(short),
             **{label: m[key] for key, label in METRIC_COLUMNS.items()}}
            for name, m in ((n, evaluate_half(model, parts, cfg.mask)) for n, model in candidates.items())]
    return pd.DataFrame(rows)


def hands_for_viewer(model: torch.nn.Module, data: HandData, cfg: Config, split: str = "test", count: int = 4
                     ) -> dict[str, Any]:
    """``count`` windows of ``split``, spread over it, in image-free feature units: observed (W, To, 42, 2),
    predicted and truth (W, Tp, 42, 2), masks (W, T, 2), gaze (W, To, 2) or None, and labels."""
    w = windows(cfg, data.splits.get(split, []))
    if len(w) == 0:
        raise ConfigError(f"split {split!r} has no windows to show")
    picks = np.unique(np.linspace(0, len(w) - 1, min(count, len(w))).round().astype(int))
    observed = w.observed[picks]
    pred = predict(model, observed, cfg.pred_len).numpy()
    gaze = observed[..., qub_pheo.HAND_FEATURES:qub_pheo.HAND_FEATURES + 2] if "gaze" in cfg.modalities else None
    shape = (len(picks), -1, 2 * qub_pheo.LANDMARKS_PER_HAND, 2)
    return {
        "observed": observed[..., :qub_pheo.HAND_FEATURES].reshape(shape), "predicted": pred.reshape(shape),
        "truth": w.future[picks].reshape(shape), "observed_mask": w.observed_mask[picks],
        "future_mask": w.future_mask[picks], "gaze": gaze,
        "labels": [f"{w.clips[i]} @ frame {w.starts[i]}" for i in picks],
    }


def output_dir(cfg: Config) -> Path:
    """Where this run writes its files: ``cfg.output_dir`` (``workbench run``'s staging folder), else the
    staging folder of a run the notebook kernel keeps (:func:`workbench.notebook_run.open_run`)."""
    return open_run(STUDY, cfg)


def save_results(folder: Path, cfg: Config, table: pd.DataFrame, history: list[dict], model: torch.nn.Module,
                 ablation: pd.DataFrame | None = None, real: pd.DataFrame | None = None) -> dict[str, Any]:
    """Write ``metrics.json`` (per split and model, the ablation and the real-clip rows; u),
    ``history.csv``, ``config.yaml``, ``weights.pt`` (the evaluated weights, for ``--weights``),
    and ``results_<arch>.md`` with its learning-curve PNG."""
    counts = parameter_counts(model)
    results: dict[str, Any] = {"study": STUDY, "model": cfg.model, "arch": cfg.model, "parameters": counts["total"],
                               "inputs": modality_label(cfg.modalities), "masked": cfg.mask,
                               "device": str(resolve_device(cfg.device)),
                               "machine": machine_record(cfg.device, cfg.precision), "units": "u (half image size)",
                               "splits": {}}
    for _, row in table.iterrows():
        results["splits"].setdefault(row["split"], {})[row["model"]] = {
            k: (int(v) if k == "windows" else float(v)) for k, v in row.items() if k not in ("split", "model")}
    if ablation is not None and len(ablation):
        results["ablation"] = ablation.to_dict(orient="records")
    if real is not None and len(real):
        results["real_clips"] = real.to_dict(orient="records")
    if history:
        results["epochs_trained"] = len(history)
        results["train_time_s"] = float(sum(r["epoch_time_s"] for r in history))
    if counts["total"]:
        save_atomic({"format": "workbench-weights-1", "model": model.state_dict(),
                     "model_config": model.config_dict()}, folder / "weights.pt")
    test = results["splits"].get("test", {}).get(cfg.model, {})
    write_results_markdown(folder, cfg.model, model, cfg.batch_size, history,
                           {k: test.get(label, float("nan")) for k, label in METRIC_COLUMNS.items()},
                           {"Hands": True, "Gaze": cfg.include_gaze, "Object BBoxes": cfg.include_obj,
                            "Surrogate BBoxes": cfg.include_sur})
    write_json(folder / "metrics.json", results)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return results
