"""The embedded default data of the hand-forecasting study: procedural two-hand clips in the
QUB-PHEO HDF5 layout (:mod:`workbench.data.formats.qub_pheo`), seen by an overhead camera.

A dyadic assembly task, as in QUB-PHEO: the subject sits at the bottom of the image (x right, y
down, 0..1) with the hands resting near (0.35, 0.8) and (0.65, 0.8); the assembly (object box slot
0) stands at the far side of the table (x 0.3-0.7, y 0.15-0.28); a partner across the table, not
tracked, supplies one piece per task step. A piece (box slot 1-6: its type) slides in from the top
edge and is set down on the subject's half of the table; 8-29 frames (0.35-1.3 s) after it settles,
or as soon as that hand is free, the hand on the piece's side of the assembly reaches for it and

* ``transfer`` (60%): grasps it, carries it to the assembly, releases it and returns to rest;
* ``handover`` (25%): brings it to the middle, where the other hand takes it to the assembly;
* ``reach`` (15%): touches it and returns; the partner takes the piece back (a wrong piece).

The partner sets the next piece down 0-29 frames after the current one is grasped (0-9 frames
after a rejected piece has been taken back), so a waiting piece's box announces the next reach
target 16-42 frames or more before the hand moves. A piece's box follows the hand holding it (the
mean of the thumb, index and middle fingertips) and disappears when the piece is added to the
assembly, whose box then grows; a rejected piece's box slides back out to the top edge. Unused
box slots are zero.

Wrist paths follow minimum-jerk profiles (x(s) = 10 s^3 - 15 s^4 + 6 s^5); the hand opens while
reaching and closes to grasp. The gaze leads the hands: it jumps to the end point of each
movement 5-14 frames (0.2-0.6 s) before the movement starts. So the boxes tell early where the
next reach goes (and the assembly where each carry ends), the gaze tells shortly before each
movement where it goes. Detections drop out now and then (a hand stored as zeros for 2-15
frames; in 5% of clips one hand is lost for 40-120 frames); landmarks, gaze and boxes get small
noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.data.formats.qub_pheo import DEFAULT_SPLIT, FPS, LANDMARKS_PER_HAND, NUM_BOXES, write_clip
from workbench.settings import outputs_dir

GENERATOR_VERSION = 2
DEFAULT_SIZES = {"train": 160, "val": 30, "test": 30}
TASKS = ("transfer", "handover", "reach")
PIECE_TYPES = 6
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


@dataclass
class Piece:
    """One assembly piece: its box ``slot`` (the piece type), where the partner sets it down
    (``drop``), when its box enters the image (``arrive``) and stops (``settled``), the hands
    holding it (hand, grasp frame, release frame), and the frame its box leaves (``gone``): it
    becomes part of the assembly at the last release, or the partner takes it back from
    ``take_back`` on."""

    slot: int
    drop: np.ndarray
    arrive: int
    settled: int
    carriers: list[tuple[int, int, int]] = field(default_factory=list)
    take_back: int | None = None
    gone: int = 0


def _drop_point(rng: np.random.Generator, tray: np.ndarray) -> np.ndarray:
    """Where the partner sets a piece down: on the subject's half of the table, at least 0.2 from
    the assembly and 0.08 to its left or right (which decides the hand that takes it)."""
    while True:
        p = np.array([rng.uniform(0.12, 0.88), rng.uniform(0.38, 0.68)])
        if np.linalg.norm(p - tray) > 0.2 and abs(p[0] - tray[0]) > 0.08:
            return p


def _carry_to_slot(moves: list[Move], hand: int, start: int, slot_point: tuple, rng: np.random.Generator
                   ) -> tuple[int, int]:
    """Append to ``moves``: ``hand`` carries its piece from frame ``start`` to ``slot_point`` (16-27
    frames), opens (4-7 frames) and returns to rest (14-23 frames). Returns (release frame, frame the
    hand is free again)."""
    carry_end = start + int(rng.integers(16, 28))
    moves.append(Move(hand, start, carry_end, slot_point, 1.0))
    release = carry_end + int(rng.integers(4, 8))
    moves.append(Move(hand, carry_end, release, slot_point, 0.0))
    free = release + int(rng.integers(14, 24))
    moves.append(Move(hand, release, free, tuple(REST[hand]), 0.0))
    return release, free


def _plan(rng: np.random.Generator, frames: int, tray: np.ndarray) -> tuple[list[Move], list[Piece]]:
    """The movements of both hands and the pieces, one piece per task step.

    The partner sets piece k down ``arrive`` .. ``settled`` (8-13 frames of sliding in from the
    top edge); the subject starts the reach 8-29 frames after it settles, or as soon as the hand
    on the piece's side is free. The next piece arrives 0-29 frames after the current one is
    grasped, or 0-9 frames after a rejected piece has been taken back."""
    moves: list[Move] = []
    pieces: list[Piece] = []
    free = [0, 0]
    arrive = int(rng.integers(-25, 10))
    while arrive < frames:
        busy = {p.slot for p in pieces if p.gone > arrive}
        slot = int(rng.choice([s for s in range(1, PIECE_TYPES + 1) if s not in busy]))
        drop = _drop_point(rng, tray)
        piece = Piece(slot, drop, arrive, arrive + int(rng.integers(8, 14)))
        pieces.append(piece)
        hand = 0 if drop[0] < tray[0] else 1
        task = rng.choice(TASKS, p=[0.6, 0.25, 0.15])
        t = max(piece.settled + int(rng.integers(8, 30)), free[hand])
        target = tuple(drop)
        reach_end = t + int(rng.integers(14, 26))
        moves.append(Move(hand, t, reach_end, target, 0.0))
        grasp = reach_end + int(rng.integers(4, 9))
        slot_point = tuple(tray + rng.uniform(-0.03, 0.03, 2))
        if task == "reach":
            moves.append(Move(hand, grasp, grasp + 3, target, 0.5))
            back = grasp + 3 + int(rng.integers(2, 6))
            free[hand] = back + int(rng.integers(14, 24))
            moves.append(Move(hand, back, free[hand], tuple(REST[hand]), 0.0))
            piece.take_back = back + int(rng.integers(4, 12))
            piece.gone = piece.take_back + int(rng.integers(8, 14))
            arrive = piece.gone + int(rng.integers(0, 10))
            continue
        moves.append(Move(hand, reach_end, grasp, target, 1.0))
        if task == "transfer":
            release, free[hand] = _carry_to_slot(moves, hand, grasp, slot_point, rng)
            piece.carriers.append((hand, grasp, release))
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
            release, free[other] = _carry_to_slot(moves, other, exchange, slot_point, rng)
            piece.carriers += [(hand, grasp, exchange), (other, exchange, release)]
        piece.gone = piece.carriers[-1][2]
        arrive = grasp + int(rng.integers(0, 30))
    return moves, pieces


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


def _boxes(frames: int, pieces: list[Piece], tray: np.ndarray, grips: list[np.ndarray], rng: np.random.Generator
           ) -> np.ndarray:
    """(F, 36, 4) boxes (x, y, w, h): slot 0 the assembly (0.16 x 0.10, growing by 0.012 x 0.008 per
    piece added), slot ``piece.slot`` a piece from ``arrive`` to ``gone``: sliding in from the top edge,
    lying at its drop point, following the grip point (mean of thumb, index and middle fingertips,
    ``grips[hand]`` (F, 2)) of the hand holding it, or sliding back out to the top edge; empty slots zero."""
    times = np.arange(frames)
    boxes = np.zeros((frames, NUM_BOXES, 4))
    added = np.zeros(frames)
    for piece in pieces:
        present = (times >= piece.arrive) & (times < piece.gone)
        entry = np.array([piece.drop[0] + rng.uniform(-0.05, 0.05), 0.02])
        s = min_jerk((times - piece.arrive) / (piece.settled - piece.arrive))[:, None]
        centre = entry + s * (piece.drop - entry)
        for hand, grasp, release in piece.carriers:
            held = (times >= grasp) & (times < release)
            centre[held] = grips[hand][held]
        if piece.take_back is not None:
            exit_point = np.array([piece.drop[0], 0.02])
            s = min_jerk((times - piece.take_back) / (piece.gone - piece.take_back))[:, None]
            centre = np.where(times[:, None] >= piece.take_back, piece.drop + s * (exit_point - piece.drop), centre)
        else:
            added += times >= piece.gone
        boxes[present, piece.slot] = np.concatenate(
            [centre[present], np.broadcast_to(rng.uniform(0.04, 0.08, 2), (int(present.sum()), 2))], axis=1)
    boxes[:, 0] = np.stack([np.full(frames, tray[0]), np.full(frames, tray[1]), 0.16 + 0.012 * added,
                            0.10 + 0.008 * added], axis=1)
    shown = boxes[..., 2] > 0
    boxes[..., :2] += np.where(shown[..., None], rng.normal(0.0, 0.002, (frames, NUM_BOXES, 2)), 0.0)
    return boxes


def simulate_clip(rng: np.random.Generator, frames: int) -> dict[str, np.ndarray]:
    """One clip as the datasets of the QUB-PHEO layout (``left_landmarks``, ``right_landmarks``,
    ``norm_gaze``, ``bboxes``, ``surrogate_hands``, ``timestamps``), float32."""
    tray = np.array([rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.28)])
    moves, pieces = _plan(rng, frames, tray)
    wrist, closure = _trajectories(frames, moves, rng)
    size = float(rng.uniform(0.08, 0.11))
    hands = []
    for hand in (0, 1):
        forward = wrist[hand] - SHOULDERS[hand]
        forward /= np.linalg.norm(forward, axis=1, keepdims=True)
        points = hand_landmarks(wrist[hand], forward, closure[hand], size, hand)
        points[..., :2] += rng.normal(0.0, 0.0015, points[..., :2].shape)
        hands.append(points)
    boxes = _boxes(frames, pieces, tray, [h[:, [4, 8, 12], :2].mean(axis=1) for h in hands], rng)
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
