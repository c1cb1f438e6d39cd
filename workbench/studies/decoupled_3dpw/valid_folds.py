"""Folds of a SoMoF split by recording, for training on the validation split and still scoring it honestly.

SoMoF 3DPW valid holds 36 scenes cut from four 3DPW recordings (courtyard_dancing_00: 7 scenes, drinking_00: 11,
hug_00: 9, rangeOfMotions_01: 9; the folder of each scene's image paths, ``3dpw_valid_frames_in.json``), and the
scenes of one recording overlap in time. Folds are therefore whole recordings: the sorted recordings are dealt to
``K`` folds in turn (recording i -> fold i mod K), so with K = 4 on SoMoF valid each fold is one recording
(leave-one-recording-out), and no scene is ever scored by a model trained on a scene of its recording. A split
without image paths (or a scene without them) counts each scene as its own recording.
"""

from __future__ import annotations

import numpy as np

from workbench.data.formats import somof
from workbench.errors import ConfigError


def scene_recordings(split: somof.SomofSplit) -> list[str]:
    """The recording of each scene: the folder of its first image path (``courtyard_hug_00/image_00020.jpg`` ->
    ``courtyard_hug_00``), else ``scene <index>``."""
    names = []
    for index in range(split.num_scenes):
        paths = split.frames[index] if split.frames is not None and index < len(split.frames) else []
        first = str(paths[0]) if paths else ""
        names.append(first.rsplit("/", 1)[0] if "/" in first else f"scene {index}")
    return names


def scene_folds(split: somof.SomofSplit, folds: int) -> np.ndarray:
    """The fold (0..folds-1) of each scene of ``split``, (S,) int: whole recordings per fold (module docstring).
    Raises :class:`ConfigError` when ``folds`` is below 2 or above the number of recordings."""
    recordings = scene_recordings(split)
    unique = sorted(set(recordings))
    if not 2 <= folds <= len(unique):
        raise ConfigError(f"valid_folds must lie in 2..{len(unique)} (the recordings of {split.source}'s "
                          f"{split.name} split), got {folds}")
    fold_of = {name: i % folds for i, name in enumerate(unique)}
    return np.array([fold_of[name] for name in recordings], dtype=np.int64)


def fold_recordings(split: somof.SomofSplit, folds: int) -> list[list[str]]:
    """The recordings of each fold, in fold order (for reports)."""
    recordings, assigned = scene_recordings(split), scene_folds(split, folds)
    return [sorted({r for r, f in zip(recordings, assigned, strict=True) if f == k}) for k in range(folds)]
