"""What a study declares about itself, in one object.

Each study is a package ``workbench/studies/<study>/`` whose ``STUDY`` attribute is a :class:`Study`:
its name and short aliases, its options class (the notebook's parameters), its models by name with the
default, its script commands (``workbench evaluate/predict <study>``) and its leaderboard columns. The
runner, the CLI, the model registry and the leaderboard read the list of studies from
:func:`workbench.studies.declared`; a new study is its package, its notebook ``notebooks/<study>.ipynb``,
its parameter sets ``parameters/<study>/*.yaml`` and its tests, with no edit elsewhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from workbench.settings import notebooks_dir, parameters_dir
from workbench.studies.base import StudyConfig

Row = dict[str, Any]
ModelBuilder = Callable[..., nn.Module]
"""``builder(**options) -> model``: takes the study's size options by name and ignores the others."""
RegisterCli = Callable[["Study", argparse._SubParsersAction, argparse._SubParsersAction], None]
"""``register(study, evaluate_commands, predict_commands)`` adds the study's script commands, named
:attr:`Study.command_names`."""


@dataclass(frozen=True)
class LeaderboardColumns:
    """How a completed run becomes a leaderboard row: ``row(config, metrics, metrics_path)`` gives the
    key parameters and headline metrics; rows are sorted on ``headline``."""

    row: Callable[[dict, dict, Path], Row]
    headline: str
    higher_is_better: bool


@dataclass(frozen=True)
class Study:
    """One study: ``name`` (its package, notebook and parameter folder), ``aliases`` accepted on the
    command line, ``options`` (its :class:`StudyConfig`), ``models`` {name: builder} with
    ``default_model``, ``register_cli`` and ``leaderboard``."""

    name: str
    title: str
    options: type[StudyConfig]
    models: Mapping[str, ModelBuilder]
    default_model: str
    leaderboard: LeaderboardColumns
    register_cli: RegisterCli | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.default_model not in self.models:
            raise ValueError(f"{self.name}: default model {self.default_model!r} is not among {list(self.models)}")

    @property
    def command_names(self) -> tuple[str, ...]:
        """The names of its script commands: its aliases first (``workbench evaluate 3dpw``), then its name."""
        return (*self.aliases, self.name)

    @property
    def notebook(self) -> Path:
        """``notebooks/<name>.ipynb``."""
        return notebooks_dir() / f"{self.name}.ipynb"

    def presets(self) -> list[str]:
        """The names of the study's parameter sets (``parameters/<name>/*.yaml``)."""
        return sorted(p.stem for p in (parameters_dir() / self.name).glob("*.yaml"))
