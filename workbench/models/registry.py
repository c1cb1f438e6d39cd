"""Models of every study by name, and their parameter counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from workbench.errors import ConfigError
from workbench.models.dct_mlp import DctMlp, DctMlpConfig
from workbench.models.derpof import DeRPoF, DerpofConfig
from workbench.models.hand_forecasters import build_hand_model
from workbench.models.heatmap_models import MODELS as HEATMAP_MODELS
from workbench.models.heatmap_models import build as build_heatmap_model
from workbench.models.pose_baselines import ConstantVelocity, DampedVelocity, ZeroVelocity
from workbench.models.stgcn import STGCN, StgcnConfig


def _derpof(**options: Any) -> nn.Module:
    names = DerpofConfig.__dataclass_fields__
    return DeRPoF(DerpofConfig(**{k: v for k, v in options.items() if k in names}))


def _dct_mlp(**options: Any) -> nn.Module:
    names = DctMlpConfig.__dataclass_fields__
    return DctMlp(DctMlpConfig(**{k: v for k, v in options.items() if k in names}))


def _stgcn(**options: Any) -> nn.Module:
    names = StgcnConfig.__dataclass_fields__
    return STGCN(StgcnConfig(**{k: v for k, v in options.items() if k in names}))


def _hand(arch: str) -> Callable[..., nn.Module]:
    names = ("input_size", "pred_len", "hidden", "layers", "dropout")
    return lambda **options: build_hand_model(arch, **{k: v for k, v in options.items() if k in names})


STUDY_MODELS: dict[str, dict[str, Callable[..., nn.Module]]] = {
    "decoupled_3dpw": {
        "derpof": _derpof,
        "dct_mlp": _dct_mlp,
        "zero_velocity": lambda **_: ZeroVelocity(),
        "constant_velocity": lambda **_: ConstantVelocity(),
        "damped_velocity": lambda decay=0.85, **_: DampedVelocity(decay),
    },
    "hand_forecasting": {arch: _hand(arch) for arch in
                         ("bilstm", "bigru", "residual_gru", "zero_velocity", "constant_velocity")},
    "pretrain": {name: (lambda name=name, **options: build_heatmap_model(name, **options)) for name in HEATMAP_MODELS},
    "skeleton_ensembles": {"stgcn": _stgcn},
}
STUDY_ALIASES = {"3dpw": "decoupled_3dpw", "hands": "hand_forecasting", "skeleton": "skeleton_ensembles"}
DEFAULT_MODEL = {"decoupled_3dpw": "derpof", "hand_forecasting": "bilstm", "pretrain": "bi_convlstm_c",
                 "skeleton_ensembles": "stgcn"}


def canonical_study(study: str) -> str:
    """The study's full name (accepts short aliases such as ``3dpw``)."""
    study = STUDY_ALIASES.get(study, study)
    if study not in STUDY_MODELS:
        raise ConfigError(f"unknown study {study!r}; choose from {', '.join(sorted(STUDY_MODELS))}")
    return study


def build_model(study: str, name: str, **options: Any) -> nn.Module:
    """Build model ``name`` of ``study``; ``options`` are its size parameters (others ignored)."""
    models = STUDY_MODELS[canonical_study(study)]
    if name not in models:
        raise ConfigError(f"unknown model {name!r} for study {study}; choose from {', '.join(models)}")
    return models[name](**options)


def parameter_counts(model: nn.Module) -> dict[str, Any]:
    """``{"total": N, "modules": {top-level module name: n}}`` counting trainable and frozen parameters."""
    modules = {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
    own = sum(p.numel() for p in model.parameters(recurse=False))
    if own:
        modules["(own parameters)"] = own
    return {"total": sum(p.numel() for p in model.parameters()), "modules": modules}
