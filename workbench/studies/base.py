"""What every study's configuration shares.

A study's ``Config`` dataclass extends :class:`StudyConfig` with its own options; the options every
study has (device, seed, resume, progress reports, precision, output folder) are declared here once.
:meth:`StudyConfig.engine_options` turns a study's options into the training engine's
:class:`~workbench.engine.trainer.TrainConfig` by name, so a study states only its fixed recipe
(optimiser, schedule, monitored metric). Names are checked: an unknown parameter given to
``workbench run -p/-f`` or injected by papermill is a :class:`~workbench.errors.ConfigError` naming
the closest option.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Self

from workbench.engine.trainer import TrainConfig
from workbench.errors import ConfigError

PARAMETER_TYPES = (str, int, float, bool, list, dict, tuple, type(None))
"""Value types a notebook parameter can have (papermill passes these); other globals are not parameters."""
IPYTHON_GLOBALS = frozenset({"In", "Out", "exit", "quit", "get_ipython"})


@dataclass
class StudyConfig:
    """Base of each study's ``Config`` dataclass (the notebook's papermill parameters).

    ``device``: ``auto`` | ``cpu`` | ``cuda[:N]``; ``seed`` seeds data splits, initialisation and
    training; ``resume`` continues from the run's saved training state; ``progress`` reports
    training progress; ``precision``: ``fp32`` | ``bf16`` | ``auto`` (see
    :mod:`workbench.engine.precision`); ``output_dir``: where the run writes (``workbench run``
    sets it). ``ALIASES`` maps accepted old names to options.
    """

    device: str = "auto"
    seed: int = 0
    resume: bool = False
    progress: bool = True
    precision: str = "fp32"
    output_dir: str = ""

    ALIASES: ClassVar[dict[str, str]] = {}

    @classmethod
    def option_names(cls) -> list[str]:
        """Every option, in declaration order."""
        return [f.name for f in fields(cls)]

    @classmethod
    def study_name(cls) -> str:
        """The study this options class belongs to: its package or module under ``workbench.studies``."""
        parts = cls.__module__.split(".")
        return parts[parts.index("studies") + 1] if "studies" in parts[:-1] else parts[-1]

    @classmethod
    def check_names(cls, names: Iterable[str], source: str = "parameter") -> None:
        """Raise a :class:`ConfigError` for the first name that is neither an option nor an alias,
        naming the closest options."""
        known = [*cls.option_names(), *cls.ALIASES]
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise ConfigError(f"unknown {source} {name!r} for the {cls.study_name()} study{hint}")

    @classmethod
    def canonical(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with aliases replaced by their option names (giving both is an error)."""
        out = dict(values)
        for alias, name in cls.ALIASES.items():
            if alias in out:
                value = out.pop(alias)
                if name in values and values[name] != value:
                    raise ConfigError(f"{alias!r} is another name for {name!r}; give only one of them")
                out[name] = value
        return out

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """Build from a parameter dict, ignoring names that are not options (aliases are accepted)."""
        names = set(cls.option_names())
        return cls(**{k: v for k, v in cls.canonical(values).items() if k in names})

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any]) -> Self:
        """Build from a notebook's globals: every global holding a parameter-like value (not a module,
        function or class, not private, not IPython's) must be an option or an alias, so that a
        mistyped papermill parameter stops the run instead of being ignored."""
        given = {k: v for k, v in namespace.items()
                 if not k.startswith("_") and k not in IPYTHON_GLOBALS and isinstance(v, PARAMETER_TYPES)}
        cls.check_names(given, "notebook parameter")
        return cls.from_mapping(given)

    def engine_options(self, **recipe: Any) -> TrainConfig:
        """The engine's options: every option of this config that the engine has (epochs, batch_size,
        lr, device, seed, precision, ...) by name, overridden by the study's fixed ``recipe``."""
        return TrainConfig.from_mapping({**asdict(self), **recipe})
