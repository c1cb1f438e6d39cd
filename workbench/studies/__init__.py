"""The studies: one package per study, each declaring itself in ``<study>/declaration.py``.

:func:`declared` finds them (every sub-package with a ``declaration`` module holding a ``STUDY``), so the
runner, the CLI, the model registry and the leaderboard all read the same list; ``workbench run all`` runs
them in name order.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.studies.declaration import Study


@functools.cache
def declared() -> dict[str, Study]:
    """Every study by name, in name order."""
    studies = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.ispkg and importlib.util.find_spec(f"{__name__}.{info.name}.declaration") is not None:
            study = importlib.import_module(f"{__name__}.{info.name}.declaration").STUDY
            studies[study.name] = study
    return studies


def get_study(name: str) -> Study:
    """The study called ``name`` or one of its aliases (e.g. ``3dpw``)."""
    studies = declared()
    for study in studies.values():
        if name == study.name or name in study.aliases:
            return study
    raise ConfigError(f"unknown study {name!r}; choose from {', '.join(studies)}")
