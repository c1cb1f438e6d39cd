"""Models of every study by name (from the study declarations), and their parameter counts."""

from __future__ import annotations

from typing import Any

from torch import nn

from workbench.errors import ConfigError


def canonical_study(study: str) -> str:
    """The study's full name (accepts short aliases such as ``3dpw``)."""
    from workbench.studies import get_study

    return get_study(study).name


def study_models(study: str) -> dict[str, Any]:
    """The builders of ``study``'s models by name (its declaration's ``models``)."""
    from workbench.studies import get_study

    return dict(get_study(study).models)


def build_model(study: str, name: str, **options: Any) -> nn.Module:
    """Build model ``name`` of ``study``; ``options`` are its size parameters (others ignored)."""
    models = study_models(study)
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
