"""The 3DPW decoupled pose-forecasting study (``notebooks/decoupled_3dpw.ipynb``).

Data in the SoMoF layout (real benchmark files or the generated default) for validation and
evaluation; training windows from the same folder's train split or from a weighted mix of motion
sources (:mod:`workbench.data.transforms.forecast_sources`: generated motion, CMU mocap, SoMoF-layout folders).
Models: DeRPoF, the DCT-space MLP (:mod:`workbench.models.dct_mlp`) and the zero-, constant- and
damped-velocity baselines (the damped decay fitted on the training windows); training through the
shared engine, and the results the notebook shows and the CLI prints.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from workbench import metrics
from workbench.data.formats import somof
from workbench.data.generators import synthetic_3dpw
from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, OBS_FRAMES, PRED_FRAMES
from workbench.data.transforms import forecast_sources, pose3d_transforms
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, previous_path, save_atomic
from workbench.engine.machine import machine_record
from workbench.engine.runtime import resolve_device, seed_everything
from workbench.engine.trainer import Trainer
from workbench.errors import CheckpointError, ConfigError
from workbench.models.derpof import load_published_weights
from workbench.models.horizon_blend import HorizonBlend, fit_blend_weights
from workbench.models.pose_baselines import fit_decay
from workbench.models.registry import build_model, parameter_counts, study_models
from workbench.notebook_run import open_run
from workbench.run_folders import write_history_csv, write_json, write_yaml
from workbench.settings import resolve_data_path, shared_data_dir
from workbench.studies.base import StudyConfig
from workbench.studies.decoupled_3dpw.valid_folds import fold_recordings, scene_folds

STUDY = "decoupled_3dpw"
BASELINES = ("zero_velocity", "constant_velocity", "damped_velocity")


@functools.cache
def trainable_models() -> tuple[str, ...]:
    """The study's models that train: those that own a training objective,
    ``model.loss(forecast, observed, future) -> (loss, logs)``."""
    return tuple(name for name in study_models(STUDY) if callable(getattr(build_model(STUDY, name), "loss", None)))
DEFAULT_DECAY = 0.85
"""The damped-velocity decay used when a run has no training windows to fit it on."""


@dataclass
class Config(StudyConfig):
    """Every parameter of the study (the notebook's papermill parameters).

    ``data_dir`` empty: the generated default data with ``synthetic_scenes`` scenes per
    split; ``shared:somof_3dpw`` the shared SoMoF files. ``train_sources`` (name -> weight) empty:
    train on ``data_dir``'s train split; else on the mix of :func:`forecast_sources.training_windows`
    (``generated``, ``cmu`` with ``cmu_stride``, the frame rates ``cmu_speeds`` and, with ``cmu_retarget``, SoMoF's
    segment lengths (:mod:`workbench.data.transforms.retarget`), or SoMoF-layout
    folders, whose train split only is read). ``augment``: training augmentations of
    :mod:`workbench.data.transforms.pose3d_transforms` (rotate, mirror, reverse, scale). ``select_best``: keep
    the epoch with the lowest validation VIM averaged over the five horizons (``val_vim_avg``, cm).
    ``damped_decay`` < 0: fit the damped-velocity decay on the training windows (0.85 without any).
    ``pretrained_g``/``pretrained_l``: published DeRPoF state dicts to start from;
    ``checkpoint``: a workbench checkpoint to start from. ``epochs`` 0 evaluates only.

    ``blend_damped``: forecast ``w_t model_t + (1 - w_t) damped_t`` with one weight per future frame fitted on
    (at most ``blend_windows``) training windows (:mod:`workbench.models.horizon_blend`). ``valid_folds`` K >= 2:
    also train on ``val_split``'s scenes (``valid_weight``: their weight beside ``train_sources``'), and score
    that split by K-fold cross-validation over its recordings (:mod:`.valid_folds`: K models, each trained
    without one fold and scoring it); the run's model (test predictions) trains on every scene.
    ``two_person`` (dct_mlp): the model also sees the other person of the scene.
    """

    model: str = "derpof"
    data_dir: str = ""
    synthetic_scenes: dict = field(default_factory=lambda: dict(synthetic_3dpw.DEFAULT_SIZES))
    train_split: str = "train"
    val_split: str = "valid"
    eval_splits: list = field(default_factory=lambda: ["valid", "test"])
    train_sources: dict = field(default_factory=dict)
    cmu_stride: int = 1
    cmu_speeds: list = field(default_factory=lambda: [120])
    cmu_retarget: bool = False
    valid_folds: int = 0
    valid_weight: float = 0.05
    blend_damped: bool = False
    blend_windows: int = 8000
    two_person: bool = False
    augment: list = field(default_factory=list)
    damped_decay: float = -1.0
    blocks: int = 8
    hidden: int = 64
    latent: int = 32
    embedding: int = 8
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 60
    lr: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "plateau"
    plateau_factor: float = 0.7
    plateau_patience: int = 35
    plateau_monitor: str = "train_loss"
    early_stopping_patience: int = 0
    select_best: bool = False
    pretrained_g: str = ""
    pretrained_l: str = ""
    checkpoint: str = ""
    deterministic_eval: bool = True
    viewer_split: str = "valid"
    viewer_scenes: int = 8

    def scenes_per_split(self) -> dict[str, int]:
        """Generated scenes per split, each validated as a positive whole number, in the order train,
        valid, test, then any others (the order fixes each split's generator seed)."""
        given = {str(k): int(v) for k, v in dict(self.synthetic_scenes).items()}
        sizes = {k: given[k] for k in ("train", "valid", "test") if k in given}
        sizes.update({k: v for k, v in given.items() if k not in sizes})
        if any(v < 1 for v in sizes.values()):
            raise ConfigError(f"synthetic_scenes must be positive, got {sizes}")
        return sizes


def data_dir(cfg: Config) -> Path:
    """The data folder: ``cfg.data_dir`` (``shared:`` names the shared data), or the generated default
    data (created on first use)."""
    if cfg.data_dir:
        return resolve_data_path(cfg.data_dir)
    return synthetic_3dpw.default_dataset(cfg.seed, cfg.scenes_per_split())


def trains(cfg: Config) -> bool:
    """Whether this configuration trains a model (a trainable model and epochs > 0)."""
    return cfg.model in trainable_models() and cfg.epochs > 0


def load_data(cfg: Config) -> dict[str, somof.SomofSplit]:
    """Every split the study needs that exists in the data folder, by name (the train split only when
    the run trains on it rather than on ``train_sources``)."""
    folder = data_dir(cfg)
    wanted = [cfg.val_split, *cfg.eval_splits]
    if trains(cfg) and not cfg.train_sources:
        wanted.insert(0, cfg.train_split)
        if not somof.split_path(folder, cfg.train_split, "in").is_file():
            raise ConfigError(
                f"{folder} has no {somof.split_path(folder, cfg.train_split, 'in').name} to train on; "
                "set epochs=0 to evaluate pretrained weights only"
            )
    return {name: somof.load_split(folder, name) for name in dict.fromkeys(wanted)}


def people(split: somof.SomofSplit) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-person tensors: observed (N, 16, 39) and future (N, 14, 39) or None; N = scenes x people."""
    observed = torch.from_numpy(split.inputs).reshape(-1, OBS_FRAMES, COORDS_PER_FRAME)
    future = None
    if split.outputs is not None:
        future = torch.from_numpy(split.outputs).reshape(-1, PRED_FRAMES, COORDS_PER_FRAME)
    return observed, future


def partners(split: somof.SomofSplit) -> torch.Tensor:
    """The observed poses of each person's other person (N, 16, 39), in :func:`people`'s order
    (:func:`forecast_sources.partner_index`)."""
    other = split.inputs[:, forecast_sources.partner_index(split.inputs.shape[1])]
    return torch.from_numpy(np.ascontiguousarray(other)).reshape(-1, OBS_FRAMES, COORDS_PER_FRAME)


def _valid_windows(cfg: Config, data: dict[str, somof.SomofSplit],
                   held_out: int | None) -> forecast_sources.SourceWindows:
    split = data.get(cfg.val_split)
    if split is None or split.outputs is None:
        raise ConfigError(f"valid_folds trains on the {cfg.val_split} split, which {data_dir(cfg)} has no ground "
                          "truth for")
    keep = np.ones(split.num_scenes, bool) if held_out is None else scene_folds(split, cfg.valid_folds) != held_out
    return forecast_sources.scene_windows(split.inputs[keep], split.outputs[keep])


def valid_source_name(cfg: Config, held_out: int | None) -> str:
    """The name of the validation scenes as a training source (all of them, or all but fold ``held_out``)."""
    return f"{cfg.val_split} split" + ("" if held_out is None else f" without fold {held_out}")


@functools.lru_cache(maxsize=2)
def _source_windows(name: str, seed: int, generated: int, stride: int, speeds: tuple[int, ...], retarget: bool
                    ) -> forecast_sources.SourceWindows:
    # cached: the fold models of one run read the same (large) CMU windows
    return forecast_sources.source_windows(name, seed, generated, stride, speeds, retarget)


def training_windows(cfg: Config, data: dict[str, somof.SomofSplit], held_out: int | None = None,
                     with_valid: bool = True) -> forecast_sources.TrainingWindows:
    """Per-person training windows (observed (N, 16, 39), future (N, 14, 39), the other person's windows
    (N, 30, 39)) and the count per source: the mix of ``cfg.train_sources``, else the train split of ``data``
    (empty tensors when the run has neither); with ``cfg.valid_folds``, and ``with_valid``, mixed with the
    validation scenes at weight ``cfg.valid_weight`` (all of them, or those outside fold ``held_out``)."""
    sources: dict[str, forecast_sources.SourceWindows] = {}
    weights: dict[str, float] = {}
    if cfg.train_sources:
        for name, weight in cfg.train_sources.items():
            sources[str(name)] = _source_windows(str(name), cfg.seed, cfg.scenes_per_split().get("train", 600),
                                                 cfg.cmu_stride, tuple(int(f) for f in cfg.cmu_speeds),
                                                 cfg.cmu_retarget)
            weights[str(name)] = float(weight)
    elif cfg.train_split in data and data[cfg.train_split].outputs is not None:
        split = data[cfg.train_split]
        # keyed by the split's name, not its folder, so a run's metrics do not depend on where it ran
        name = f"data_dir {cfg.train_split} split"
        sources[name], weights[name] = forecast_sources.scene_windows(split.inputs, split.outputs), 1.0
    if cfg.valid_folds and with_valid:
        name = valid_source_name(cfg, held_out)
        sources[name], weights[name] = _valid_windows(cfg, data, held_out), float(cfg.valid_weight)
    if not sources:
        empty = torch.zeros((0, OBS_FRAMES, COORDS_PER_FRAME))
        return forecast_sources.TrainingWindows(empty, torch.zeros((0, PRED_FRAMES, COORDS_PER_FRAME)), {},
                                                torch.zeros((0, OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME)))
    return forecast_sources.mix(sources, weights, cfg.seed)


def damped_decay(cfg: Config, data: dict[str, somof.SomofSplit]) -> float:
    """``cfg.damped_decay`` when set (>= 0), else the decay fitted (:func:`fit_decay`) on the training windows
    without the validation scenes (so the baseline scored on them never saw them), else :data:`DEFAULT_DECAY`."""
    if cfg.damped_decay >= 0:
        return float(cfg.damped_decay)
    windows = training_windows(cfg, data, with_valid=False)
    return fit_decay(windows.observed, windows.future) if len(windows.observed) else DEFAULT_DECAY


def make_model(cfg: Config, name: str | None = None, decay: float = DEFAULT_DECAY) -> torch.nn.Module:
    """Build ``name`` (default ``cfg.model``) with the configured sizes and starting weights
    (``decay``: the damped-velocity baseline's); the random initialisation is seeded with ``cfg.seed``."""
    name = name or cfg.model
    seed_everything(cfg.seed)
    if cfg.two_person and cfg.model != "dct_mlp":
        raise ConfigError(f"two_person is an option of the dct_mlp model, not {cfg.model}")
    model = build_model(STUDY, name, hidden=cfg.hidden, latent=cfg.latent, embedding=cfg.embedding, dropout=cfg.dropout,
                        blocks=cfg.blocks, decay=decay, two_person=cfg.two_person)
    if name not in trainable_models():
        return model
    if bool(cfg.pretrained_g) != bool(cfg.pretrained_l):
        raise ConfigError("give both pretrained_g and pretrained_l (the published global and local checkpoints)")
    if cfg.pretrained_g:
        load_published_weights(model, cfg.pretrained_g, cfg.pretrained_l)
    if cfg.checkpoint:
        load_checkpoint(model, cfg.checkpoint)
    return model


def load_checkpoint(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load a workbench checkpoint (``checkpoint.pt`` of a run) into ``model``, checking
    that it was written for the same model sizes."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(path, "not a workbench checkpoint (no 'model' entry)")
    saved = state.get("model_config") or {}
    if saved and is_dataclass(getattr(model, "cfg", None)):
        # options added after a checkpoint was written take their default, the value the checkpoint had
        saved = {**asdict(type(model.cfg)()), **saved}
    if saved and saved != model.config_dict():
        raise CheckpointError(path, f"was written for {type(model).__name__} {saved}, but the model is "
                                    f"{model.config_dict()}")
    return load_state_dict_checked(model, state["model"], path)


def checkpoint_options(path: str | Path) -> dict[str, Any]:
    """The model name (``model``) and size options a run's ``checkpoint.pt`` was written for
    (checkpoints that predate the name are DeRPoF's)."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or not isinstance(state.get("model_config") or {}, dict):
        raise CheckpointError(path, "not a workbench checkpoint (no 'model_config' mapping)")
    name = state.get("model_name", "derpof")
    if name not in trainable_models():
        raise CheckpointError(path, f"names model {name!r}, not a trainable model of this study "
                                    f"({', '.join(trainable_models())})")
    return {"model": str(name), **dict(state.get("model_config") or {})}


def sees_other(model: torch.nn.Module) -> bool:
    """Whether ``model`` forecasts from both people of a scene (a two-person DCT MLP, or a blend of one)."""
    if isinstance(model, HorizonBlend):
        return sees_other(model.learned)
    return bool(getattr(getattr(model, "cfg", None), "two_person", False))


def with_checkpoint_blend(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """``model`` wrapped in the :class:`HorizonBlend` a run's ``checkpoint.pt`` records (``blend``: weights and
    decay), or ``model`` itself when it records none."""
    state = load_torch_file(path)
    blend = state.get("blend") if isinstance(state, dict) else None
    if blend is None:
        return model
    if not isinstance(blend, dict) or not {"weights", "decay"} <= set(blend):
        raise CheckpointError(path, "its 'blend' entry needs 'weights' and 'decay'")
    try:
        return HorizonBlend(model, float(blend["decay"]), torch.as_tensor(blend["weights"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"bad blend entry: {exc}") from None


@torch.no_grad()
def predict(model: torch.nn.Module, observed: torch.Tensor, deterministic: bool = True,
            batch_size: int = 4096, other: torch.Tensor | None = None) -> torch.Tensor:
    """Forecast positions (N, 14, 39) for observed (N, 16, 39) in eval mode, on the model's device; ``other``
    (N, 16, 39): the other person's observed poses, for a model that sees them (:func:`sees_other`)."""
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if sees_other(model) and other is None:
        raise ConfigError("this model forecasts from both people of a scene: give the other person's poses")
    parts = []
    for start in range(0, len(observed), batch_size):
        chunk = observed[start:start + batch_size].to(device)
        context = {"other": other[start:start + batch_size, :OBS_FRAMES].to(device)} if sees_other(model) else {}
        parts.append(model(chunk, deterministic=deterministic, **context).positions.cpu())
    return torch.cat(parts) if parts else observed.new_zeros((0, PRED_FRAMES, COORDS_PER_FRAME))


def forecast(model: torch.nn.Module, split: somof.SomofSplit, deterministic: bool = True) -> torch.Tensor:
    """:func:`predict` for every person of ``split`` (N, 14, 39), with their partners (:func:`partners`)."""
    return predict(model, people(split)[0], deterministic, other=partners(split))


def evaluate(model: torch.nn.Module, split: somof.SomofSplit, deterministic: bool = True) -> dict[str, Any]:
    """Forecast metrics of ``model`` on a split with ground truth (see :func:`workbench.metrics.forecast_metrics`)."""
    _, future = people(split)
    if future is None:
        raise ConfigError(f"split {split.name} of {split.source} has no ground truth (no _out file) to evaluate on")
    return metrics.forecast_metrics(forecast(model, split, deterministic), future)


def subset(split: somof.SomofSplit, scenes: np.ndarray) -> somof.SomofSplit:
    """The scenes of ``split`` where the mask ``scenes`` (S,) is true."""
    keep = np.asarray(scenes, bool)
    frames = None if split.frames is None else [f for f, k in zip(split.frames, keep, strict=False) if k]
    return somof.SomofSplit(split.name, split.inputs[keep], None if split.outputs is None else split.outputs[keep],
                            frames, split.source)


def _validation_fn(split: somof.SomofSplit, cfg: Config):
    observed, future = people(split)
    other = partners(split)[:, :OBS_FRAMES]

    def validate(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        context = {"other": other.to(device)} if sees_other(model) else {}
        with torch.no_grad():
            out = model(observed.to(device), deterministic=cfg.deterministic_eval, **context)
            loss, _ = model.loss(out, observed.to(device), future.to(device))
        pred = out.positions.cpu()
        return {"val_loss": float(loss), "val_ade": metrics.ade(pred, future), "val_fde": metrics.fde(pred, future),
                "val_vim_avg": float(np.mean(metrics.vim(pred, future)))}

    return validate


def train(model: torch.nn.Module, data: dict[str, somof.SomofSplit], cfg: Config,
          checkpoint_path: str | Path | None = None, windows: forecast_sources.TrainingWindows | None = None,
          validation: somof.SomofSplit | None | str = "default") -> list[dict]:
    """Train a trainable model (:func:`trainable_models`) on ``windows`` (default :func:`training_windows`) with
    the ``cfg.augment`` augmentations drawn per batch (a window and its other person as one scene), validating
    each epoch on ``validation``: by default ``cfg.val_split``, unless the run trains on it (``valid_folds``);
    None: no validation. Returns the history, one dict per epoch. Baselines and ``epochs == 0`` return an
    empty history."""
    if not trains(cfg):
        return []
    windows = windows if windows is not None else training_windows(cfg, data)
    if not len(windows.observed):
        raise ConfigError(f"no training windows: {data_dir(cfg)} has no {cfg.train_split} split with ground truth "
                          "and train_sources is empty")
    if isinstance(validation, str):
        validation = None if cfg.valid_folds else data.get(cfg.val_split)
    has_val = validation is not None and validation.outputs is not None
    if cfg.select_best and cfg.valid_folds:
        raise ConfigError("select_best picks an epoch on the validation split, which valid_folds trains on: "
                          "turn one of them off")
    people_per_batch = cfg.batch_size * (data[cfg.train_split].inputs.shape[1] if cfg.train_split in data else 2)
    train_cfg = cfg.engine_options(
        batch_size=people_per_batch, optimizer="adamw" if cfg.weight_decay else "adam", monitor="val_vim_avg",
        restore_best=cfg.select_best and has_val, checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
        sample_unit="people")
    draws = torch.Generator().manual_seed(cfg.seed)
    two = sees_other(model)

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict]:
        obs, fut, other = batch
        if cfg.augment:
            scene = torch.cat([torch.cat([obs, fut], 1), other], -1).cpu()
            scene = pose3d_transforms.augment(scene, cfg.augment, draws).to(obs.device)
            obs, fut, other = scene[:, :OBS_FRAMES, :COORDS_PER_FRAME], scene[:, OBS_FRAMES:, :COORDS_PER_FRAME], \
                scene[..., COORDS_PER_FRAME:]
        context = {"other": other[:, :OBS_FRAMES]} if two else {}
        return net.loss(net(obs, **context), obs, fut)

    evaluate_fn = _validation_fn(validation, cfg) if has_val else None
    trainer = Trainer(model, train_cfg, loss_fn, evaluate_fn, model_config=model.config_dict())
    return trainer.fit(TensorDataset(windows.observed, windows.future, windows.other))


def blended(model: torch.nn.Module, cfg: Config, windows: forecast_sources.TrainingWindows,
            decay: float) -> torch.nn.Module:
    """With ``cfg.blend_damped`` and a trained model: :class:`HorizonBlend` of ``model`` and damped velocity
    (``decay``), its per-frame weights fitted on a seeded draw of at most ``cfg.blend_windows`` of ``windows``
    (without augmentation); else ``model`` itself."""
    if not (cfg.blend_damped and trains(cfg)) or not len(windows.observed):
        return model
    count = min(int(cfg.blend_windows), len(windows.observed))
    draw = torch.randperm(len(windows.observed), generator=torch.Generator().manual_seed(cfg.seed))[:count]
    observed, future, other = windows.observed[draw], windows.future[draw], windows.other[draw]
    learned = predict(model, observed, cfg.deterministic_eval, other=other)
    damped = make_model(cfg, "damped_velocity", decay)(observed).positions
    return HorizonBlend(model, decay, fit_blend_weights(learned, damped, future))


@dataclass
class CrossValidation:
    """Out-of-fold forecasts of ``split`` (:func:`cross_validate`): ``folds`` (S,) the fold of each scene,
    ``recordings`` each fold's recordings, ``predictions`` (N, 14, 39) in :func:`people`'s order, each from
    the model trained without its fold, ``histories`` one per fold, ``blend_weights`` per fold (or None)."""

    split: str
    folds: np.ndarray
    recordings: list[list[str]]
    predictions: torch.Tensor
    histories: list[list[dict]]
    blend_weights: list[list[float]] | None

    def summary(self) -> dict[str, Any]:
        """What ``metrics.json`` records of the cross-validation."""
        return {"split": self.split, "folds": len(self.recordings), "recordings": self.recordings,
                "scenes_per_fold": np.bincount(self.folds, minlength=len(self.recordings)).tolist(),
                "blend_weights": self.blend_weights}


def cross_validate(cfg: Config, data: dict[str, somof.SomofSplit], decay: float,
                   report: Any = print) -> CrossValidation | None:
    """With ``cfg.valid_folds`` K: for each fold k of ``cfg.val_split`` (:mod:`.valid_folds`), a model trained as
    the run's (same seed and recipe) on the training sources and the scenes outside fold k, validated and then
    scored on fold k; None when the run has no such folds or trains nothing. ``report`` gets one line per fold."""
    if not (cfg.valid_folds and trains(cfg)):
        return None
    split = data[cfg.val_split]
    folds, recordings = scene_folds(split, cfg.valid_folds), fold_recordings(split, cfg.valid_folds)
    person_fold = np.repeat(folds, split.inputs.shape[1])
    predictions = torch.zeros((split.num_people, PRED_FRAMES, COORDS_PER_FRAME))
    histories, weights = [], []
    for k in range(cfg.valid_folds):
        report(f"fold {k + 1}/{cfg.valid_folds}: training without {', '.join(recordings[k])} "
               f"({int((folds == k).sum())} scenes), then scoring it")
        held_out = subset(split, folds == k)
        windows = training_windows(cfg, data, held_out=k)
        model = make_model(cfg, decay=decay)
        histories.append(train(model, data, cfg, windows=windows, validation=held_out))
        model = blended(model, cfg, windows, decay)
        if isinstance(model, HorizonBlend):
            weights.append([round(float(w), 4) for w in model.weights])
        predictions[torch.from_numpy(person_fold == k)] = forecast(model, held_out, cfg.deterministic_eval)
    return CrossValidation(cfg.val_split, folds, recordings, predictions, histories, weights or None)


def results_table(trained: torch.nn.Module, data: dict[str, somof.SomofSplit], cfg: Config,
                  decay: float = DEFAULT_DECAY, cross_validated: CrossValidation | None = None) -> pd.DataFrame:
    """One row per (split, model) for the trained model and the baselines (damped velocity with
    ``decay``), on every evaluation split with ground truth; on ``cross_validated.split`` the trained model's row
    scores the out-of-fold forecasts. Columns carry units: ADE (m), FDE (m), MPJPE (mm), VIM@<t> ms (cm) and
    their mean over the five horizons, VIM avg (cm)."""
    rows = []
    candidates = {cfg.model: trained, **{b: make_model(cfg, b, decay) for b in BASELINES if b != cfg.model}}
    for split_name in cfg.eval_splits:
        split = data.get(split_name)
        if split is None or split.outputs is None:
            continue
        for name, model in candidates.items():
            if name == cfg.model and cross_validated is not None and cross_validated.split == split_name:
                m = metrics.forecast_metrics(cross_validated.predictions, people(split)[1])
            else:
                m = evaluate(model, split, cfg.deterministic_eval)
            row = {"split": split_name, "model": name, "people": m["n_people"], "ADE (m)": m["ade"],
                   "FDE (m)": m["fde"], "MPJPE (mm)": m["mpjpe_mm"]}
            row.update({f"VIM@{ms} ms (cm)": v for ms, v in zip(metrics.VIM_LABELS_MS, m["vim_cm"], strict=True)})
            row["VIM avg (cm)"] = float(np.mean(m["vim_cm"]))
            rows.append(row)
    return pd.DataFrame(rows)


REFERENCE_VIM_CM: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("DeRPoF, published weights (workbench evaluation)", "valid", (20.9, 41.3, 74.6, 86.9, 106.6)),
    ("DeRPoF, published weights (workbench evaluation)", "test", (28.9, 53.4, 95.9, 115.1, 148.2)),
    ("DeRPoF, paper table", "test", (19.5, 36.9, 68.3, 85.5, 118.2)),
    ("zero velocity, paper table", "test", (29.4, 53.6, 94.5, 112.7, 143.1)),
)
"""Published SoMoF 3DPW figures (VIM in cm at 100 / 240 / 500 / 640 / 900 ms) to compare against:
the published DeRPoF weights as this workbench scores them (deterministic z; the repository's own test
predictions agree within 0.5 cm) and the paper's test-set table, which those weights do not reproduce."""


def on_somof_benchmark(cfg: Config) -> bool:
    """Whether the run evaluates on the shared SoMoF 3DPW files (the published figures then apply)."""
    return bool(cfg.data_dir) and data_dir(cfg).resolve() == (shared_data_dir() / "somof_3dpw").resolve()


def reference_table() -> pd.DataFrame:
    """:data:`REFERENCE_VIM_CM` as rows ``model``, ``split``, ``VIM@<t> ms (cm)``, ``VIM avg (cm)``."""
    rows = []
    for name, split, vim in REFERENCE_VIM_CM:
        row = {"model": name, "split": split}
        row.update({f"VIM@{ms} ms (cm)": v for ms, v in zip(metrics.VIM_LABELS_MS, vim, strict=True)})
        row["VIM avg (cm)"] = float(np.mean(vim))
        rows.append(row)
    return pd.DataFrame(rows)


def vim_by_model(table: pd.DataFrame, split: str) -> dict[str, list[float]]:
    """VIM (cm) per horizon for each model on ``split``, from :func:`results_table`."""
    columns = [f"VIM@{ms} ms (cm)" for ms in metrics.VIM_LABELS_MS]
    rows = table[table["split"] == split]
    return {r["model"]: [float(r[c]) for c in columns] for _, r in rows.iterrows()}


def poses_for_viewer(model: torch.nn.Module, split: somof.SomofSplit, cfg: Config, max_scenes: int = 8,
                     cross_validated: CrossValidation | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Observed (S, P, 16, 13, 3), predicted (S, P, 14, 13, 3) and ground truth (or None) of the
    first ``max_scenes`` scenes, metres; on ``cross_validated.split`` the out-of-fold forecasts."""
    scenes = min(max_scenes, split.num_scenes)
    sub = subset(split, np.arange(split.num_scenes) < scenes)
    if cross_validated is not None and cross_validated.split == split.name:
        pred = cross_validated.predictions[: sub.num_people].numpy()
    else:
        pred = forecast(model, sub, cfg.deterministic_eval).numpy()
    shape = (scenes, split.inputs.shape[1], -1, COORDS_PER_FRAME // 3, 3)
    truth = None if sub.outputs is None else sub.outputs.reshape(shape)
    return sub.inputs.reshape(shape), pred.reshape(shape), truth


def output_dir(cfg: Config) -> Path:
    """Where this run writes its files: ``cfg.output_dir`` (``workbench run``'s staging folder), else the
    staging folder of a run the notebook kernel keeps (:func:`workbench.notebook_run.open_run`)."""
    return open_run(STUDY, cfg)


def save_results(folder: Path, cfg: Config, data: dict[str, somof.SomofSplit], table: pd.DataFrame,
                 history: list[dict], model: torch.nn.Module, training: dict[str, Any] | None = None,
                 cross_validated: CrossValidation | None = None) -> dict[str, Any]:
    """Write ``metrics.json`` (per split: model and baselines; ``training``: the training sources,
    augmentations and damped decay), ``history.csv``, ``config.yaml``, ``checkpoint.pt`` of a
    trainable model (its final weights, the selected epoch's with ``select_best``, with the model's
    name and sizes, replacing the training state; a blend's weights and decay under ``blend``) and
    ``predictions_<split>.json`` (SoMoF submission layout) for evaluation splits without ground truth, from
    the run's model (trained on every scene with ``valid_folds``). ``metrics.json`` records
    ``blend_weights`` and the cross-validation (``valid_cv``)."""
    results: dict[str, Any] = {"study": STUDY, "model": cfg.model, "parameters": parameter_counts(model)["total"],
                               "device": str(resolve_device(cfg.device)),
                               "machine": machine_record(cfg.device, cfg.precision), "training": training or {},
                               "splits": {}}
    for _, row in table.iterrows():
        results["splits"].setdefault(row["split"], {})[row["model"]] = {
            k: (int(v) if k == "people" else float(v)) for k, v in row.items() if k not in ("split", "model")
        }
    learned = model.learned if isinstance(model, HorizonBlend) else model
    if isinstance(model, HorizonBlend):
        results["blend_weights"] = [round(float(w), 4) for w in model.weights]
    if cross_validated is not None:
        results["valid_cv"] = cross_validated.summary()
    if history:
        results["epochs_trained"] = len(history)
        results["train_time_s"] = float(sum(r["epoch_time_s"] for r in history))
    if cfg.model in trainable_models():
        state = {"format": "workbench-weights-1", "model_name": cfg.model, "model": learned.state_dict(),
                 "model_config": learned.config_dict()}
        if isinstance(model, HorizonBlend):
            state["blend"] = {"weights": model.weights.tolist(), "decay": model.decay}
        checkpoint = save_atomic(state, folder / "checkpoint.pt")
        previous_path(checkpoint).unlink(missing_ok=True)  # the training state's backup: superseded
    for name in cfg.eval_splits:
        split = data.get(name)
        if split is not None and split.outputs is None:
            pred = forecast(model, split, cfg.deterministic_eval).numpy()
            scenes = pred.reshape(*split.inputs.shape[:2], *pred.shape[1:])
            somof.write_predictions(folder / f"predictions_{name}.json", scenes)
    write_json(folder / "metrics.json", results)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return results
