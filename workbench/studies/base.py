"""What every study's configuration shares."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self


@dataclass
class StudyConfig:
    """Base of each study's ``Config`` dataclass (the notebook's papermill parameters)."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Self:
        """Build from notebook globals or a parameter dict, ignoring names that are not options."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})
