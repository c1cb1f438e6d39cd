"""CMU Graphics Lab motion capture (ASF/AMC) as windows of the 13 SoMoF 3DPW joints.

Each trial ``NN_MM.amc`` is read with its subject's skeleton ``NN.asf`` (same folder; :mod:`workbench.data.formats.asf`,
:mod:`workbench.data.formats.amc`), taken at every 8th frame (120 Hz -> 15 Hz, the SoMoF rate: every second frame of
3DPW's 30 fps) and placed by forward kinematics; each SoMoF joint is the end point of CMU bones
(:data:`JOINT_SOURCES`), in metres.

Axes: CMU's world axes unchanged (absolute positions, the root's horizontal position is not moved): the
second coordinate is vertical and points up, as in the SoMoF files (head above hips above ankles in every
SoMoF valid frame), and both are right-handed in the same sense: cross(L-hip - R-hip, up) points where the
body faces (the knees lie in front of the hip-ankle line along it in 99.6% of SoMoF valid frames and 99% of
CMU frames; CMU walking moves along it).

Windows: 30 consecutive 15 Hz frames (16 observed + 14 future) starting at frame 0, ``stride``, 2 ``stride``,
... of each trial. People: a SoMoF scene holds two; the n windows of a split, ordered by trial and start,
are paired k with k + n // 2 (n // 2 scenes; with n odd the last window is left out), so the two people of a
scene come from different trials unless one trial holds more than half of the split's windows. They are
unrelated recordings, each at its own trial's world position. Splits: the held-out trials form ``valid``,
the others ``train``. By default those are the last trial of each subject (01_14, 02_10 and 03_04) that the
source holds, so one subject's folder holds out its own last trial and a folder without any of them holds
out none; trials named explicitly (``holdout``) must all be in the source (:func:`holdout_trials`).

Command line: ``workbench convert cmu SOURCE OUT [--stride N] [--holdout 01_14,02_10,03_04]``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.formats import amc, asf, somof
from workbench.data.layouts.skeleton_3dpw import COORDS_PER_FRAME, NUM_JOINTS, OBS_FRAMES, PRED_FRAMES
from workbench.data.many_files import load_skipping
from workbench.errors import ConfigError, DataFormatError
from workbench.settings import shared_data_dir

log = logging.getLogger(__name__)

JOINT_SOURCES: tuple[tuple[str, ...], ...] = (
    ("lhipjoint",), ("rhipjoint",), ("lfemur",), ("rfemur",), ("ltibia",), ("rtibia",),
    ("lowerneck", "upperneck"), ("lclavicle",), ("rclavicle",), ("lhumerus",), ("rhumerus",),
    ("lradius",), ("rradius",),
)
"""Per SoMoF joint (``skeleton_3dpw.JOINT_NAMES`` order) the CMU bones whose end points, averaged, place it:
hips at the tops of the femurs, knees, ankles, shoulders at the tops of the humeri, elbows, wrists. The
head is the middle of the upper neck, where the SoMoF files put their head joint: 7.4 cm above the
shoulder centre in SoMoF valid (median), 8.4 cm here on 02_01 (the end of the CMU head bone is 22 cm)."""
SOURCE_FPS = 120
SOMOF_FPS = 15
WINDOW = OBS_FRAMES + PRED_FRAMES
DEFAULT_STRIDE = 5
DEFAULT_HOLDOUT = ("01_14", "02_10", "03_04")
"""The default held-out trials: the last of each shared subject (those a source lacks are left out)."""


def default_source() -> Path:
    """``<shared data>/cmu_mocap``."""
    return shared_data_dir() / "cmu_mocap"


def find_trials(source: str | Path) -> list[tuple[Path, Path]]:
    """(skeleton, trial) file pairs of every ``*.amc`` under ``source`` (the cmu_mocap folder, its
    ``subjects/`` or one subject's folder), sorted by trial; the skeleton of ``NN_MM.amc`` is ``NN.asf`` in
    the same folder. Raises :class:`DataFormatError` when ``source`` is not a folder or holds no trial."""
    source = Path(source)
    if not source.is_dir():
        raise DataFormatError(source, "folder not found")
    trials = sorted(source.rglob("*.amc"), key=lambda p: p.stem)
    if not trials:
        raise DataFormatError(source, "no CMU trials (*.amc files) found")
    return [(trial.with_name(f"{trial.stem.rsplit('_', 1)[0]}.asf"), trial) for trial in trials]


def somof_joints(skeleton: asf.Skeleton, motion: amc.Motion) -> np.ndarray:
    """The 13 SoMoF joints per frame: (F, 13, 3) float64, metres, CMU world axes (y up)."""
    ends = amc.forward_kinematics(skeleton, motion)
    missing = sorted({name for names in JOINT_SOURCES for name in names} - set(ends))
    if missing:
        raise DataFormatError(skeleton.path, f"not a CMU skeleton: no bone {', '.join(missing)}")
    return np.stack([np.mean([ends[name] for name in names], axis=0) for names in JOINT_SOURCES], axis=1)


def read_trial(skeleton: str | Path | asf.Skeleton, trial: str | Path, source_fps: int = SOURCE_FPS
               ) -> np.ndarray:
    """One trial's SoMoF joints at 15 Hz: frames 0, k, 2k, ... with k = source_fps / 15;
    (ceil(F / k), 13, 3) float32, metres."""
    if source_fps % SOMOF_FPS:
        raise ConfigError(f"source_fps {source_fps} is not a multiple of the SoMoF rate {SOMOF_FPS} Hz")
    if not isinstance(skeleton, asf.Skeleton):
        skeleton = asf.read_asf(skeleton)
    motion = amc.read_amc(trial, skeleton).subsample(source_fps // SOMOF_FPS)
    return somof_joints(skeleton, motion).astype(np.float32)


def window_starts(frames: int, stride: int) -> np.ndarray:
    """First frames 0, stride, 2 stride, ... of the 30-frame windows that fit in ``frames`` frames."""
    return np.arange(0, max(frames - WINDOW + 1, 0), stride)


@dataclass(frozen=True)
class CmuWindows:
    """30-frame windows at 15 Hz: ``poses`` (n, 30, 13, 3) float32 metres (16 observed then 14 future
    frames), ``trials`` the trial name of each (e.g. "02_01"), ``starts`` (n,) its first frame in the trial
    (15 Hz frames of the trial), ``skipped`` the unreadable (file, problem) pairs."""

    poses: np.ndarray
    trials: tuple[str, ...]
    starts: np.ndarray
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def flat(self) -> np.ndarray:
        """(n, 30, 39): the SoMoF layout of one person (13 joints x xyz per frame)."""
        return self.poses.reshape(len(self.poses), WINDOW, COORDS_PER_FRAME)

    def select(self, trials: Iterable[str]) -> CmuWindows:
        """The windows of the named trials (order kept)."""
        wanted = set(trials)
        keep = np.array([name in wanted for name in self.trials], dtype=bool)
        return CmuWindows(self.poses[keep], tuple(n for n in self.trials if n in wanted), self.starts[keep],
                          self.skipped)


def cmu_windows(source: str | Path | None = None, stride: int = DEFAULT_STRIDE, trials: Iterable[str] | None = None,
                source_fps: int = SOURCE_FPS) -> CmuWindows:
    """Every 30-frame window (first frames ``stride`` 15 Hz frames apart) of the trials under ``source``
    (default :func:`default_source`), or only of the named ``trials``. An unreadable trial (or one whose
    skeleton is unreadable) is skipped with a logged warning and listed in ``skipped``; raises
    :class:`DataFormatError` when no trial can be read."""
    if stride < 1:
        raise ConfigError(f"stride must be a whole number >= 1, got {stride}")
    source = Path(source) if source is not None else default_source()
    pairs = find_trials(source)
    if trials is not None:
        wanted = set(trials)
        pairs = [(skeleton, trial) for skeleton, trial in pairs if trial.stem in wanted]
    skeletons: dict[Path, asf.Skeleton] = {}  # each subject's skeleton read once

    def load(pair: tuple[Path, Path]) -> tuple[str, np.ndarray]:
        skeleton, trial = pair
        if skeleton not in skeletons:
            skeletons[skeleton] = asf.read_asf(skeleton)
        return trial.stem, read_trial(skeletons[skeleton], trial, source_fps)

    loaded, skipped = load_skipping(pairs, load)
    if not loaded:
        raise DataFormatError(source, f"no readable CMU trial ({len(skipped)} skipped)")
    if skipped:
        log.warning("skipped %d of %d CMU trials", len(skipped), len(pairs))
    poses, names, starts = [], [], []
    for name, joints in loaded:
        first = window_starts(len(joints), stride)
        poses += [joints[s:s + WINDOW] for s in first]
        names += [name] * len(first)
        starts.append(first)
    stacked = np.stack(poses) if poses else np.zeros((0, WINDOW, NUM_JOINTS, 3), np.float32)
    return CmuWindows(stacked, tuple(names), np.concatenate(starts), tuple(skipped))


def pair_people(poses: np.ndarray) -> np.ndarray:
    """Scenes of two people from n windows (n, 30, 13, 3): window k with window k + n // 2;
    (n // 2, 2, 30, 39)."""
    half = len(poses) // 2
    flat = poses.reshape(len(poses), WINDOW, COORDS_PER_FRAME)
    return np.stack([flat[:half], flat[half:2 * half]], axis=1)


def holdout_trials(source: str | Path, holdout: Iterable[str] | None = None) -> list[str]:
    """The trials of ``source`` a conversion holds out, sorted: with ``holdout`` None those of
    :data:`DEFAULT_HOLDOUT` that ``source`` holds (none when it holds none of them), else the named trials
    (empty: none). Raises :class:`ConfigError` naming ``source`` and the trials when a named one is not in
    it, and :class:`DataFormatError` when ``source`` holds no trial (:func:`find_trials`)."""
    present = {trial.stem for _, trial in find_trials(source)}
    if holdout is None:
        return sorted(present.intersection(DEFAULT_HOLDOUT))
    named = set(holdout)
    unknown = sorted(named - present)
    if unknown:
        raise ConfigError(f"holdout names trial(s) {', '.join(unknown)}, which {source} does not hold")
    return sorted(named)


def write_somof(source: str | Path, out: str | Path, stride: int = DEFAULT_STRIDE,
                holdout: Iterable[str] | None = None) -> dict[str, int]:
    """Write the windows of ``source`` to ``out`` in the SoMoF layout: ``3dpw_train_{in,out}.json`` from
    every trial not held out, ``3dpw_valid_{in,out}.json`` from the held-out ones (:func:`holdout_trials`:
    by default those of :data:`DEFAULT_HOLDOUT` in ``source``; when they give a scene, otherwise valid files
    of an earlier conversion in ``out`` are removed). Returns the number of scenes per split written. Raises
    :class:`ConfigError` for a name in ``holdout`` that is no trial of ``source`` and
    :class:`DataFormatError` when train gets no scene."""
    holdout = set(holdout_trials(source, holdout))
    windows = cmu_windows(source, stride)
    splits = {"train": sorted(set(windows.trials) - holdout), "valid": sorted(holdout)}
    written: dict[str, int] = {}
    for split, names in splits.items():
        scenes = pair_people(windows.select(names).poses)
        if split == "train" and not len(scenes):
            raise DataFormatError(source, f"too few frames for two {WINDOW}-frame windows outside the held-out trials")
        if len(scenes):
            somof.write_split(out, split, scenes[:, :, :OBS_FRAMES], scenes[:, :, OBS_FRAMES:])
            written[split] = len(scenes)
        else:  # no held-out scene: a stale valid split would pass for this conversion's
            for kind in ("in", "out"):
                somof.split_path(out, split, kind).unlink(missing_ok=True)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``workbench convert cmu``."""
    parser.add_argument("--stride", type=int, default=DEFAULT_STRIDE,
                        help=f"cmu: 15 Hz frames between window starts (default {DEFAULT_STRIDE})")
    parser.add_argument("--holdout", default=None, metavar="TRIALS",
                        help="cmu: comma-separated trials written as the valid split, each one in SOURCE ('' for "
                             f"none; default those of {','.join(DEFAULT_HOLDOUT)} that SOURCE holds)")


def run(args: argparse.Namespace) -> int:
    """``workbench convert cmu SOURCE OUT``: write the SoMoF splits and print their scene counts and the
    held-out trials (by default those of :data:`DEFAULT_HOLDOUT` in SOURCE, and the ones it lacks)."""
    named = None if args.holdout is None else [name.strip() for name in args.holdout.split(",") if name.strip()]
    holdout = holdout_trials(args.source, named)
    written = write_somof(args.source, args.out, args.stride, holdout)
    sizes = ", ".join(f"{split} {n}" for split, n in written.items())
    print(f"wrote SoMoF scenes of two people, 15 Hz ({sizes}) to {args.out}")
    note = ""
    if named is None:
        lacking = [name for name in DEFAULT_HOLDOUT if name not in holdout]
        note = f" (the default; {args.source} lacks {', '.join(lacking)})" if lacking else " (the default)"
    print(f"held out as valid: {', '.join(holdout) or 'no trial'}{note}")
    return 0
