"""The 3DPW decoupled pose-forecasting study (``notebooks/decoupled_3dpw.ipynb``).

Data in the SoMoF layout (real benchmark files or the generated default),
DeRPoF and the zero-/constant-velocity baselines, training through the shared
engine, and the results the notebook shows and the CLI prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from workbench import metrics
from workbench.data import somof, synthetic_3dpw
from workbench.data.skeleton_3dpw import COORDS_PER_FRAME, OBS_FRAMES, PRED_FRAMES
from workbench.engine.checkpoint import load_state_dict_checked, load_torch_file, save_atomic
from workbench.engine.runtime import resolve_device, seed_everything
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.errors import CheckpointError, ConfigError
from workbench.models.derpof import DeRPoF, derpof_loss, load_published_weights
from workbench.models.registry import build_model, parameter_counts
from workbench.runs import run_folder, write_history_csv, write_json, write_yaml
from workbench.studies.base import StudyConfig

STUDY = "decoupled_3dpw"
BASELINES = ("zero_velocity", "constant_velocity")


@dataclass
class Config(StudyConfig):
    """Every parameter of the study (the notebook's papermill parameters).

    ``data_dir`` empty: the generated default data with ``synthetic_scenes`` scenes per
    split. ``pretrained_g``/``pretrained_l``: published DeRPoF state dicts to start from;
    ``checkpoint``: a workbench checkpoint to start from. ``epochs`` 0 evaluates only.
    """

    model: str = "derpof"
    data_dir: str = ""
    synthetic_scenes: dict = field(default_factory=lambda: dict(synthetic_3dpw.DEFAULT_SIZES))
    train_split: str = "train"
    val_split: str = "valid"
    eval_splits: list = field(default_factory=lambda: ["valid", "test"])
    hidden: int = 64
    latent: int = 32
    embedding: int = 8
    dropout: float = 0.2
    epochs: int = 100
    batch_size: int = 60
    lr: float = 1e-3
    scheduler: str = "plateau"
    plateau_factor: float = 0.7
    plateau_patience: int = 35
    plateau_monitor: str = "train_loss"
    early_stopping_patience: int = 0
    pretrained_g: str = ""
    pretrained_l: str = ""
    checkpoint: str = ""
    deterministic_eval: bool = True
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    progress: bool = True
    output_dir: str = ""

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
    """The data folder: ``cfg.data_dir``, or the generated default data (created on first use)."""
    if cfg.data_dir:
        return Path(cfg.data_dir)
    return synthetic_3dpw.default_dataset(cfg.seed, cfg.scenes_per_split())


def load_data(cfg: Config) -> dict[str, somof.SomofSplit]:
    """Every split the study needs that exists in the data folder, by name."""
    folder = data_dir(cfg)
    wanted = [cfg.val_split, *cfg.eval_splits]
    if cfg.model == "derpof" and cfg.epochs > 0:
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


def make_model(cfg: Config, name: str | None = None) -> torch.nn.Module:
    """Build ``name`` (default ``cfg.model``) with the configured sizes and starting weights;
    the random initialisation is seeded with ``cfg.seed``."""
    name = name or cfg.model
    seed_everything(cfg.seed)
    model = build_model(STUDY, name, hidden=cfg.hidden, latent=cfg.latent, embedding=cfg.embedding, dropout=cfg.dropout)
    if name != "derpof":
        return model
    if bool(cfg.pretrained_g) != bool(cfg.pretrained_l):
        raise ConfigError("give both pretrained_g and pretrained_l (the published global and local checkpoints)")
    if cfg.pretrained_g:
        load_published_weights(model, cfg.pretrained_g, cfg.pretrained_l)
    if cfg.checkpoint:
        load_checkpoint(model, cfg.checkpoint)
    return model


def load_checkpoint(model: DeRPoF, path: str | Path) -> DeRPoF:
    """Load a workbench checkpoint (``checkpoint.pt`` of a run) into ``model``, checking
    that it was written for the same model sizes."""
    state = load_torch_file(path)
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(path, "not a workbench checkpoint (no 'model' entry)")
    saved = state.get("model_config") or {}
    if saved and saved != model.config_dict():
        raise CheckpointError(path, f"was written for DeRPoF {saved}, but the model is {model.config_dict()}")
    return load_state_dict_checked(model, state["model"], path)


@torch.no_grad()
def predict(model: torch.nn.Module, observed: torch.Tensor, deterministic: bool = True,
            batch_size: int = 4096) -> torch.Tensor:
    """Forecast positions (N, 14, 39) for observed (N, 16, 39) in eval mode, on the model's device."""
    model.eval()
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    parts = [model(chunk.to(device), deterministic=deterministic).positions.cpu()
             for chunk in observed.split(batch_size)]
    return torch.cat(parts) if parts else observed.new_zeros((0, PRED_FRAMES, COORDS_PER_FRAME))


def evaluate(model: torch.nn.Module, split: somof.SomofSplit, deterministic: bool = True) -> dict[str, Any]:
    """Forecast metrics of ``model`` on a split with ground truth (see :func:`workbench.metrics.forecast_metrics`)."""
    observed, future = people(split)
    if future is None:
        raise ConfigError(f"split {split.name} of {split.source} has no ground truth (no _out file) to evaluate on")
    return metrics.forecast_metrics(predict(model, observed, deterministic), future)


def _validation_fn(split: somof.SomofSplit, deterministic: bool):
    observed, future = people(split)

    def validate(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        out = model(observed.to(device), deterministic=deterministic)
        loss, _ = derpof_loss(out, observed.to(device), future.to(device))
        pred = out.positions.cpu()
        return {"val_loss": float(loss), "val_ade": metrics.ade(pred, future), "val_fde": metrics.fde(pred, future)}

    return validate


def train(model: torch.nn.Module, data: dict[str, somof.SomofSplit], cfg: Config,
          checkpoint_path: str | Path | None = None) -> list[dict]:
    """Train DeRPoF on the train split (validating on ``cfg.val_split`` each epoch); returns the
    history, one dict per epoch. Baselines and ``epochs == 0`` return an empty history."""
    if cfg.model != "derpof" or cfg.epochs == 0:
        return []
    observed, future = people(data[cfg.train_split])
    if future is None:
        raise ConfigError(f"the train split of {data[cfg.train_split].source} has no ground truth")
    val = data.get(cfg.val_split)
    evaluate_fn = _validation_fn(val, cfg.deterministic_eval) if val is not None and val.outputs is not None else None
    train_cfg = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size * data[cfg.train_split].inputs.shape[1], lr=cfg.lr,
        optimizer="adam", scheduler=cfg.scheduler,
        plateau_factor=cfg.plateau_factor, plateau_patience=cfg.plateau_patience, plateau_monitor=cfg.plateau_monitor,
        early_stopping_patience=cfg.early_stopping_patience, device=cfg.device, seed=cfg.seed,
        checkpoint_path=str(checkpoint_path) if checkpoint_path else None, resume=cfg.resume, progress=cfg.progress,
    )

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict]:
        obs, fut = batch
        return derpof_loss(net(obs), obs, fut)

    trainer = Trainer(model, train_cfg, loss_fn, evaluate_fn, model_config=model.config_dict())
    return trainer.fit(TensorDataset(observed, future))


def results_table(trained: torch.nn.Module, data: dict[str, somof.SomofSplit], cfg: Config) -> pd.DataFrame:
    """One row per (split, model) for the trained model and both baselines, on every evaluation
    split with ground truth. Columns carry units: ADE (m), FDE (m), MPJPE (mm), VIM@<t> ms (cm)."""
    rows = []
    candidates = {cfg.model: trained, **{b: make_model(cfg, b) for b in BASELINES if b != cfg.model}}
    for split_name in cfg.eval_splits:
        split = data.get(split_name)
        if split is None or split.outputs is None:
            continue
        for name, model in candidates.items():
            m = evaluate(model, split, cfg.deterministic_eval)
            row = {"split": split_name, "model": name, "people": m["n_people"], "ADE (m)": m["ade"],
                   "FDE (m)": m["fde"], "MPJPE (mm)": m["mpjpe_mm"]}
            row.update({f"VIM@{ms} ms (cm)": v for ms, v in zip(metrics.VIM_LABELS_MS, m["vim_cm"], strict=True)})
            rows.append(row)
    return pd.DataFrame(rows)


def vim_by_model(table: pd.DataFrame, split: str) -> dict[str, list[float]]:
    """VIM (cm) per horizon for each model on ``split``, from :func:`results_table`."""
    columns = [f"VIM@{ms} ms (cm)" for ms in metrics.VIM_LABELS_MS]
    rows = table[table["split"] == split]
    return {r["model"]: [float(r[c]) for c in columns] for _, r in rows.iterrows()}


def poses_for_viewer(model: torch.nn.Module, split: somof.SomofSplit, cfg: Config,
                     max_scenes: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Observed (S, P, 16, 13, 3), predicted (S, P, 14, 13, 3) and ground truth (or None) of the
    first ``max_scenes`` scenes, metres."""
    scenes = min(max_scenes, split.num_scenes)
    sub = somof.SomofSplit(split.name, split.inputs[:scenes],
                           None if split.outputs is None else split.outputs[:scenes], None, split.source)
    observed, _ = people(sub)
    pred = predict(model, observed, cfg.deterministic_eval).numpy()
    shape = (scenes, split.inputs.shape[1], -1, COORDS_PER_FRAME // 3, 3)
    truth = None if sub.outputs is None else sub.outputs.reshape(shape)
    return sub.inputs.reshape(shape), pred.reshape(shape), truth


def output_dir(cfg: Config) -> Path:
    """Where this run writes its files: ``cfg.output_dir`` or a new ``outputs/decoupled_3dpw/<time>_<model>``."""
    return run_folder(STUDY, cfg.model, cfg.output_dir)


def save_results(folder: Path, cfg: Config, data: dict[str, somof.SomofSplit], table: pd.DataFrame,
                 history: list[dict], model: torch.nn.Module) -> dict[str, Any]:
    """Write ``metrics.json`` (per split: model and baselines), ``history.csv``, ``config.yaml``,
    the model's ``checkpoint.pt`` (weights only when it was not trained here) and
    ``predictions_<split>.json`` (SoMoF submission layout) for evaluation splits without ground truth."""
    results: dict[str, Any] = {"study": STUDY, "model": cfg.model, "parameters": parameter_counts(model)["total"],
                               "device": str(resolve_device(cfg.device)), "splits": {}}
    for _, row in table.iterrows():
        results["splits"].setdefault(row["split"], {})[row["model"]] = {
            k: (int(v) if k == "people" else float(v)) for k, v in row.items() if k not in ("split", "model")
        }
    if history:
        results["epochs_trained"] = len(history)
        results["train_time_s"] = float(sum(r["epoch_time_s"] for r in history))
    checkpoint = folder / "checkpoint.pt"
    if isinstance(model, DeRPoF) and not checkpoint.is_file():
        save_atomic({"format": "workbench-weights-1", "model": model.state_dict(), "model_config": model.config_dict()},
                    checkpoint)
    for name in cfg.eval_splits:
        split = data.get(name)
        if split is not None and split.outputs is None:
            observed, _ = people(split)
            pred = predict(model, observed, cfg.deterministic_eval).numpy()
            scenes = pred.reshape(*split.inputs.shape[:2], *pred.shape[1:])
            somof.write_predictions(folder / f"predictions_{name}.json", scenes)
    write_json(folder / "metrics.json", results)
    write_history_csv(folder / "history.csv", history)
    write_yaml(folder / "config.yaml", {"study": STUDY, **asdict(cfg)})
    return results
