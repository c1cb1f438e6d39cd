"""The embedded default data of the hand-forecasting study: procedural two-hand clips in the
QUB-PHEO HDF5 layout (:mod:`workbench.data.qub_pheo`), seen by an overhead camera.

A scene is a table (image coordinates, x right, y down, 0..1) with a tray and 4-7 objects; the
person sits at the bottom of the image with the hands resting near (0.35, 0.8) and (0.65, 0.8).
Objects are moved to the tray one after the other, always the object outside the tray that is
nearest to it, by the hand on its side of the tray:

* ``transfer``: reach, grasp, carry to the tray, release, return;
* ``handover``: one hand brings the object to the middle, the other takes it to the tray;
* ``reach``: reach and touch the object, return without moving it.

Wrist paths follow minimum-jerk profiles (x(s) = 10 s^3 - 15 s^4 + 6 s^5); the hand opens while
reaching and closes to grasp. The gaze leads the hands: it jumps to the end point of each
movement 5-14 frames (0.2-0.6 s) before the movement starts. Object boxes mark the objects
(a carried object's box moves with the hand), so gaze and boxes both carry information about
where the hands go next. Detections drop out now and then (a hand stored as zeros for 2-15
frames; in 5% of clips one hand is lost for 40-120 frames); landmarks and gaze get small noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.qub_pheo import DEFAULT_SPLIT, FPS, LANDMARKS_PER_HAND, NUM_BOXES, write_clip
from workbench.settings import outputs_dir

GENERATOR_VERSION = 1
DEFAULT_SIZES = {"train": 160, "val": 30, "test": 30}
TASKS = ("transfer", "handover", "reach")
REST = np.array([[0.35, 0.80], [0.65, 0.80]])
SHOULDERS = np.array([[0.30, 1.15], [0.70, 1.15]])
HANDOVER_POINT = np.array([0.5, 0.62])

# Hand model, in units of hand length (wrist to middle fingertip): (forward, thumb-side) positions of
# the base joint of the thumb and the four fingers, and the lengths of their three segments.
_BASES = np.array([[0.12, 0.20], [0.45, 0.16], [0.47, 0.03], [0.44, -0.09], [0.40, -0.20]])
_SEGMENTS = np.array([[0.20, 0.16, 0.13], [0.24, 0.14, 0.10], [0.26, 0.16, 0.11],
                      [0.24, 0.15, 0.10], [0.18, 0.11, 0.09]])
_SPLAY = np.array([0.75, 0.12, 0.0, -0.12, -0.25])


@dataclass(frozen=True)
class Move:
    """One wrist movement of ``hand`` (0 left, 1 right) from frame ``start`` to ``end`` towards ``target``
    (x, y); ``grip`` is the hand closure (0 open, 1 closed) reached at the end."""

    hand: int
    start: int
    end: int
    target: tuple[float, float]
    grip: float


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk progress 10 s^3 - 15 s^4 + 6 s^5 for s in [0, 1] (clipped)."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10 - 15 * s + 6 * s ** 2)


def hand_landmarks(wrist: np.ndarray, forward: np.ndarray, closure: np.ndarray, size: float, hand: int
                   ) -> np.ndarray:
    """21 MediaPipe-ordered landmarks (F, 21, 3) of a hand seen from above.

    ``wrist`` (F, 2) image position, ``forward`` (F, 2) unit vector along the fingers, ``closure``
    (F,) 0 open .. 1 fist, ``size`` hand length in image units, ``hand`` 0 left / 1 right (the thumb
    lies on the body-midline side). z is a small relative depth, as MediaPipe writes it.
    """
    frames = len(wrist)
    side = 1.0 if hand == 0 else -1.0
    lateral = side * np.stack([-forward[:, 1], forward[:, 0]], axis=1)
    points = np.zeros((frames, LANDMARKS_PER_HAND, 2))
    depth = np.zeros((frames, LANDMARKS_PER_HAND))
    for finger in range(5):
        u, v = _BASES[finger]
        angle = np.full(frames, _SPLAY[finger])
        for joint in range(4):
            index = 1 + 4 * finger + joint
            if joint > 0:
                length = _SEGMENTS[finger, joint - 1]
                bend = closure * (0.55 + 0.25 * joint) * (0.6 if finger == 0 else 1.0)
                u = u + length * np.cos(angle) * np.cos(bend)
                v = v + length * np.sin(angle) * np.cos(bend)
                depth[:, index] = depth[:, index - 1] - length * np.sin(bend) * 0.3
                if finger == 0:
                    angle = angle - closure * 0.35
            points[:, index] = np.stack([np.broadcast_to(u, (frames,)), np.broadcast_to(v, (frames,))], axis=1)
    xy = wrist[:, None] + size * (points[..., :1] * forward[:, None] + points[..., 1:] * lateral[:, None])
    return np.concatenate([xy, size * depth[..., None]], axis=-1)


def _place_objects(rng: np.random.Generator, count: int, tray: np.ndarray) -> np.ndarray:
    """``count`` object centres on the table, at least 0.09 apart and away from the tray."""
    placed: list[np.ndarray] = []
    while len(placed) < count:
        p = np.array([rng.uniform(0.12, 0.88), rng.uniform(0.35, 0.68)])
        if np.linalg.norm(p - tray) > 0.2 and all(np.linalg.norm(p - q) > 0.09 for q in placed):
            placed.append(p)
    return np.array(placed)


def _plan(rng: np.random.Generator, frames: int, objects: np.ndarray, tray: np.ndarray
          ) -> tuple[list[Move], list[tuple[int, int, int, int]]]:
    """The movements of both hands, and the carries (object, hand, grasp frame, release frame)."""
    moves: list[Move] = []
    carries: list[tuple[int, int, int, int]] = []
    free = [0, 0]
    moved: set[int] = set()
    t = int(rng.integers(5, 30))
    while t < frames:
        remaining = [k for k in range(len(objects)) if k not in moved]
        if not remaining:
            break
        k = min(remaining, key=lambda i: float(np.linalg.norm(objects[i] - tray)))
        hand = 0 if objects[k][0] < tray[0] else 1
        task = rng.choice(TASKS, p=[0.55, 0.25, 0.2])
        t = max(t, free[hand])
        obj = tuple(objects[k])
        reach_end = t + int(rng.integers(14, 26))
        moves.append(Move(hand, t, reach_end, obj, 0.0))
        grasp = reach_end + int(rng.integers(4, 9))
        slot = tuple(tray + rng.uniform(-0.03, 0.03, 2))
        if task == "reach":
            moves.append(Move(hand, grasp, grasp + 3, obj, 0.5))
            back = grasp + 3 + int(rng.integers(2, 6))
            free[hand] = back + int(rng.integers(14, 24))
            moves.append(Move(hand, back, free[hand], tuple(REST[hand]), 0.0))
            t = free[hand] + int(rng.integers(3, 20))
            continue
        moves.append(Move(hand, reach_end, grasp, obj, 1.0))
        if task == "transfer":
            carry_end = grasp + int(rng.integers(16, 28))
            moves.append(Move(hand, grasp, carry_end, slot, 1.0))
            release = carry_end + int(rng.integers(4, 8))
            moves.append(Move(hand, carry_end, release, slot, 0.0))
            free[hand] = release + int(rng.integers(14, 24))
            moves.append(Move(hand, release, free[hand], tuple(REST[hand]), 0.0))
            carries.append((k, hand, grasp, release))
        else:
            other = 1 - hand
            meet = grasp + int(rng.integers(14, 22))
            moves.append(Move(hand, grasp, meet, tuple(HANDOVER_POINT), 1.0))
            other_start = max(free[other], meet - int(rng.integers(10, 16)))
            other_meet = max(meet, other_start + 8)
            moves.append(Move(other, other_start, other_meet, tuple(HANDOVER_POINT + [0.0, -0.03]), 0.0))
            exchange = other_meet + int(rng.integers(4, 8))
            moves.append(Move(other, other_meet, exchange, tuple(HANDOVER_POINT + [0.0, -0.03]), 1.0))
            moves.append(Move(hand, exchange, exchange + 3, tuple(HANDOVER_POINT), 0.0))
            free[hand] = exchange + 3 + int(rng.integers(14, 24))
            moves.append(Move(hand, exchange + 3, free[hand], tuple(REST[hand]), 0.0))
            carry_end = exchange + int(rng.integers(16, 28))
            moves.append(Move(other, exchange, carry_end, slot, 1.0))
            release = carry_end + int(rng.integers(4, 8))
            moves.append(Move(other, carry_end, release, slot, 0.0))
            free[other] = release + int(rng.integers(14, 24))
            moves.append(Move(other, release, free[other], tuple(REST[other]), 0.0))
            carries.append((k, hand, grasp, exchange))
            carries.append((k, other, exchange, release))
        objects[k] = np.array(slot)
        moved.add(k)
        t = max(free) - int(rng.integers(0, 12))
    return moves, carries


def _trajectories(frames: int, moves: list[Move], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Wrist positions (2, F, 2) and closures (2, F) from the movements, with a small idle sway."""
    wrist = np.repeat(REST[:, None, :], frames, axis=1).astype(float)
    closure = np.zeros((2, frames))
    times = np.arange(frames)
    for hand in (0, 1):
        position, grip = REST[hand].copy(), 0.0
        for move in sorted((m for m in moves if m.hand == hand), key=lambda m: m.start):
            if move.start >= frames:
                break
            s = min_jerk((times - move.start) / max(move.end - move.start, 1))[:, None]
            active = times >= move.start
            wrist[hand, active] = (position + s * (np.asarray(move.target) - position))[active]
            closure[hand, active] = (grip + s[:, 0] * (move.grip - grip))[active]
            position, grip = np.asarray(move.target, float), move.grip
    sway = np.cumsum(rng.normal(0.0, 0.0007, (2, frames, 2)), axis=1)
    return wrist + sway - sway.mean(axis=1, keepdims=True), closure


def _gaze(frames: int, moves: list[Move], rng: np.random.Generator) -> np.ndarray:
    """(F, 2) gaze: jumps to each movement's end point 5-14 frames before the movement starts."""
    gaze = np.tile(np.array([0.5, 0.55]), (frames, 1))
    for move in sorted(moves, key=lambda m: m.start):
        onset = max(move.start - int(rng.integers(5, 15)), 0)
        if onset < frames:
            gaze[onset:] = move.target
    return gaze + rng.normal(0.0, 0.008, gaze.shape)


def simulate_clip(rng: np.random.Generator, frames: int) -> dict[str, np.ndarray]:
    """One clip as the datasets of the QUB-PHEO layout (``left_landmarks``, ``right_landmarks``,
    ``norm_gaze``, ``bboxes``, ``surrogate_hands``, ``timestamps``), float32."""
    tray = np.array([rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.28)])
    objects = _place_objects(rng, int(rng.integers(4, 8)), tray)
    start_positions = objects.copy()
    moves, carries = _plan(rng, frames, objects.copy(), tray)
    wrist, closure = _trajectories(frames, moves, rng)
    size = float(rng.uniform(0.08, 0.11))
    hands = []
    for hand in (0, 1):
        forward = wrist[hand] - SHOULDERS[hand]
        forward /= np.linalg.norm(forward, axis=1, keepdims=True)
        points = hand_landmarks(wrist[hand], forward, closure[hand], size, hand)
        points[..., :2] += rng.normal(0.0, 0.0015, points[..., :2].shape)
        hands.append(points)
    grip_points = [h[:, [4, 8, 12], :2].mean(axis=1) for h in hands]
    boxes = np.zeros((frames, NUM_BOXES, 4))
    boxes[:, 0] = [*tray, 0.16, 0.10]
    dims = rng.uniform(0.04, 0.08, (len(start_positions), 2))
    centres = np.repeat(start_positions[None], frames, axis=0)
    for k, hand, grasp, release in sorted(carries, key=lambda c: c[2]):
        if grasp < frames:
            centres[grasp:release, k] = grip_points[hand][grasp:release]
            centres[release:, k] = grip_points[hand][min(release, frames - 1)]
    boxes[:, 1:1 + len(start_positions), :2] = centres
    boxes[:, 1:1 + len(start_positions), 2:] = dims
    boxes[:, :1 + len(start_positions), :2] += rng.normal(0.0, 0.002, (frames, 1 + len(start_positions), 2))
    surrogate = np.zeros((frames, 2, 4))
    for hand in (0, 1):
        lo, hi = hands[hand][..., :2].min(axis=1), hands[hand][..., :2].max(axis=1)
        surrogate[:, hand] = np.concatenate([(lo + hi) / 2, hi - lo + 0.02], axis=1)
    surrogate += rng.normal(0.0, 0.003, surrogate.shape)
    gaze = _gaze(frames, moves, rng)
    _drop_detections(rng, hands, gaze)
    return {
        "left_landmarks": hands[0].astype(np.float32), "right_landmarks": hands[1].astype(np.float32),
        "norm_gaze": gaze.astype(np.float32), "bboxes": boxes.astype(np.float32),
        "surrogate_hands": surrogate.astype(np.float32),
        "timestamps": (np.arange(frames) / FPS).astype(np.float32),
    }


def _drop_detections(rng: np.random.Generator, hands: list[np.ndarray], gaze: np.ndarray) -> None:
    """Zero out missed detections in place: per hand about one 2-15 frame gap per 150 frames; in 5%
    of clips one hand lost for 40-120 frames; about one 2-6 frame gaze gap per 300 frames."""
    frames = len(gaze)
    for points in hands:
        for _ in range(rng.poisson(frames / 150)):
            start = int(rng.integers(0, frames))
            points[start:start + int(rng.integers(2, 16))] = 0.0
    if rng.random() < 0.05:
        start = int(rng.integers(0, frames))
        hands[int(rng.integers(0, 2))][start:start + int(rng.integers(40, 121))] = 0.0
    for _ in range(rng.poisson(frames / 300)):
        start = int(rng.integers(0, frames))
        gaze[start:start + int(rng.integers(2, 7))] = 0.0


def write_dataset(folder: str | Path, sizes: dict[str, int], seed: int, frames: tuple[int, int] = (240, 360)
                  ) -> Path:
    """Write ``sizes[split]`` clips per split (train, val, test) of ``frames`` (min, max) frames.

    Participant ids follow the default split ranges (train 1-48, val 49-59, test 60-70), so the
    participant split recovers the splits; file names are ``p<NN>-SYN-<split>-<index>.h5``.
    """
    folder = Path(folder)
    for index, (split, count) in enumerate(sizes.items()):
        lo, hi = DEFAULT_SPLIT[split]
        rng = np.random.default_rng(seed * 10 + index)
        for i in range(count):
            participant = lo + i % (hi - lo + 1)
            clip = simulate_clip(rng, int(rng.integers(frames[0], frames[1] + 1)))
            write_clip(folder / f"p{participant:02d}-SYN-{split}-{i:04d}.h5", clip["left_landmarks"],
                       clip["right_landmarks"], clip["norm_gaze"], clip["bboxes"], clip["surrogate_hands"],
                       clip["timestamps"])
    return folder


def default_dataset(seed: int = 0, sizes: dict[str, int] | None = None) -> Path:
    """The generated clips for ``seed`` under ``outputs/data/``, created on first use."""
    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    tag = "-".join(f"{k}{v}" for k, v in sizes.items())
    folder = outputs_dir() / "data" / f"synthetic_hands_v{GENERATOR_VERSION}_seed{seed}_{tag}"
    marker = folder / ".complete"
    if marker.is_file():
        return folder
    write_dataset(folder, sizes, seed)
    marker.write_text("ok\n")
    return folder
