"""The embedded default data of the 3DPW study: generated scenes in the SoMoF layout."""

from __future__ import annotations

from pathlib import Path

from workbench.data.formats import somof
from workbench.data.generators.motion_generator import simulate_scenes
from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, JOINT_NAMES, OBS_FRAMES, PRED_FRAMES
from workbench.settings import outputs_dir

FPS = 15.0
DEFAULT_SIZES = {"train": 600, "valid": 120, "test": 120}
GENERATOR_VERSION = 1


def write_dataset(data_dir: str | Path, sizes: dict[str, int], seed: int) -> Path:
    """Generate scenes of two people (30 frames at 15 fps) and write each split.

    Splits get disjoint seeds (``seed * 10 + split index``) so no scene repeats.
    """
    data_dir = Path(data_dir)
    for index, (split, count) in enumerate(sizes.items()):
        scenes = simulate_scenes(count, 2, OBS_FRAMES + PRED_FRAMES, FPS, JOINT_NAMES, seed * 10 + index)
        flat = scenes.reshape(count, 2, OBS_FRAMES + PRED_FRAMES, COORDS_PER_FRAME).astype("float32")
        frames = [[f"synthetic_{split}_{s:05d}/image_{2 * f:05d}.jpg" for f in range(OBS_FRAMES)] for s in range(count)]
        somof.write_split(data_dir, split, flat[:, :, :OBS_FRAMES], flat[:, :, OBS_FRAMES:], frames)
    return data_dir


def default_dataset(seed: int = 0, sizes: dict[str, int] | None = None) -> Path:
    """The generated dataset for ``seed`` under ``outputs/data/``, created on first use."""
    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    tag = "-".join(f"{k}{v}" for k, v in sizes.items())
    data_dir = outputs_dir() / "data" / f"synthetic_3dpw_v{GENERATOR_VERSION}_seed{seed}_{tag}"
    if all(somof.split_path(data_dir, split, "out").is_file() for split in sizes):
        return data_dir
    return write_dataset(data_dir, sizes, seed)
