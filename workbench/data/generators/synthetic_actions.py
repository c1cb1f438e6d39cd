"""Procedural action clips on the NTU-25 skeleton: the embedded default data of the skeleton study.

Each clip starts from :func:`workbench.data.generators.motion_generator.simulate` (a standing or walking body,
y up, metres), adds the action's own kinematics to the named joints, derives the 25 NTU joints,
then varies it: speed (action rate), amplitude, body size, viewpoint (rotation about the vertical
axis), Gaussian jitter, and in ``second_person_prob`` of the clips a second person standing or
walking nearby. Classes: wave, clap, jump, squat, kick, bow, walk, sit_down, raise_arms, throw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workbench.data.generators import motion_generator
from workbench.data.layouts.skeleton_layouts import NTU25

ACTIONS: tuple[str, ...] = ("wave", "clap", "jump", "squat", "kick", "bow", "walk", "sit_down", "raise_arms", "throw")
FPS = 30.0
Joints = dict[str, np.ndarray]
UP = np.array([0.0, 1.0, 0.0])


def _frame(joints: Joints) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame unit vectors (T, 3): forward and left of the body, from the hips."""
    left = joints["L-hip"] - joints["R-hip"]
    left[:, 1] = 0.0
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    return np.cross(left, UP), left


def _set_arm(joints: Joints, side: str, flexion: np.ndarray, abduction: np.ndarray, elbow: np.ndarray,
             size: float) -> None:
    """Place elbow, wrist and hand of one arm from shoulder angles (rad): flexion raises the arm
    forward, abduction sideways, elbow bends the forearm further forward."""
    fwd, left = _frame(joints)
    out = left if side == "L" else -left

    def direction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = a[:, None], b[:, None]
        return np.cos(b) * (np.sin(a) * fwd - np.cos(a) * UP) + np.sin(b) * out

    shoulder = joints[f"{side}-shoulder"]
    joints[f"{side}-elbow"] = shoulder + 0.28 * size * direction(flexion, abduction)
    joints[f"{side}-wrist"] = joints[f"{side}-elbow"] + 0.25 * size * direction(flexion + elbow, abduction)
    forearm = joints[f"{side}-wrist"] - joints[f"{side}-elbow"]
    joints[f"{side}-hand"] = joints[f"{side}-wrist"] + 0.08 * size * forearm / np.linalg.norm(forearm, axis=-1,
                                                                                              keepdims=True)


def _shift(joints: Joints, names: tuple[str, ...] | None, offset: np.ndarray) -> None:
    for name in names or tuple(joints):
        joints[name] = joints[name] + offset


UPPER = ("pelvis", "L-hip", "R-hip", "neck", "head", "nose", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow",
         "L-wrist", "R-wrist", "L-hand", "R-hand")
ARMS = ("neck", "head", "nose", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist", "L-hand",
        "R-hand")


def _lower(joints: Joints, level: np.ndarray, depth: float, back: float, size: float) -> None:
    """Squat-like lowering: upper body down by ``depth`` x level and back by ``back`` x level, knees forward."""
    fwd, _ = _frame(joints)
    _shift(joints, UPPER, -depth * size * level[:, None] * UP - back * size * level[:, None] * fwd)
    for side in ("L", "R"):
        joints[f"{side}-knee"] = joints[f"{side}-knee"] + size * level[:, None] * (0.25 * fwd - 0.12 * UP)


def _clap(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    level = 0.5 * (1 + np.cos(2 * g))
    for side in ("L", "R"):
        _set_arm(j, side, np.full_like(g, 1.2), 0.15 + 0.5 * amp * level, 1.0 - 0.4 * level, size)


def _jump(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    hop = np.clip(np.sin(g), 0, None) ** 2
    _shift(j, None, 0.25 * amp * size * hop[:, None] * UP)
    for side in ("L", "R"):
        _set_arm(j, side, 0.4 + 0.8 * hop, np.full_like(g, 0.3), np.full_like(g, 0.3), size)


def _squat(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    level = 0.5 * (1 - np.cos(g))
    _lower(j, level, 0.35 * amp, 0.12, size)
    for side in ("L", "R"):
        _set_arm(j, side, 1.4 * level, np.full_like(g, 0.1), np.full_like(g, 0.1), size)


def _kick(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    fwd, _ = _frame(j)
    level = np.clip(np.sin(g), 0, None) ** 2
    angle = (1.3 * amp * level)[:, None]
    leg = np.sin(angle) * fwd - np.cos(angle) * UP
    j["R-knee"] = j["R-hip"] + 0.40 * size * leg
    j["R-ankle"] = j["R-knee"] + 0.40 * size * leg
    j["R-toe"] = j["R-ankle"] + 0.14 * size * fwd


def _bow(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    fwd, _ = _frame(j)
    angle = (1.0 * amp * 0.5 * (1 - np.cos(g)))[:, None]
    pelvis = j["pelvis"]
    for name in ARMS:
        rel = j[name] - pelvis
        height, ahead = rel @ UP, np.sum(rel * fwd, axis=-1)
        lateral = rel - height[:, None] * UP - ahead[:, None] * fwd
        new_h = height[:, None] * np.cos(angle) - ahead[:, None] * np.sin(angle)
        new_f = height[:, None] * np.sin(angle) + ahead[:, None] * np.cos(angle)
        j[name] = pelvis + lateral + new_h * UP + new_f * fwd


def _sit_down(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    t = np.linspace(0, 1, g.size)
    level = np.clip((t - 0.2) / 0.5, 0, 1)
    level = level * level * (3 - 2 * level)
    _lower(j, level, 0.4 * amp, 0.25, size)


def _throw(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    cycle = (g / (2 * np.pi)) % 1.0
    wind = np.clip(cycle / 0.6, 0, 1)
    release = np.clip((cycle - 0.6) / 0.25, 0, 1)
    flexion = -0.6 * wind + (2.8 * amp) * wind * (1 - release) + release * 1.2 * amp
    _set_arm(j, "R", flexion, np.full_like(g, 0.25), 1.2 * wind * (1 - release), size)


def _gesture_only(j: Joints, g: np.ndarray, amp: float, size: float) -> None:
    return None


MOTION: dict[str, tuple[str, float, Callable[[Joints, np.ndarray, float, float], None]]] = {
    "wave": ("wave", 0.0, _gesture_only),
    "clap": ("none", 0.0, _clap),
    "jump": ("none", 0.0, _jump),
    "squat": ("none", 0.0, _squat),
    "kick": ("none", 0.0, _kick),
    "bow": ("none", 0.0, _bow),
    "walk": ("none", 1.0, _gesture_only),
    "sit_down": ("none", 0.0, _sit_down),
    "raise_arms": ("raise_arms", 0.0, _gesture_only),
    "throw": ("none", 0.0, _throw),
}
"""Per action: the base generator's gesture, walking speed factor, and the added kinematics."""


def ntu_joints(j: Joints, size: float) -> np.ndarray:
    """NTU-25 joints (T, 25, 3) from the generator's named joints (extra joints derived from them)."""
    fwd, left = _frame(j)
    neck, head = j["neck"], j["head"]
    derived = {
        "spine_base": j["pelvis"], "spine_shoulder": neck, "spine_mid": 0.5 * (j["pelvis"] + neck),
        "neck": neck + 0.5 * (head - neck), "head": head + 0.6 * (j["nose"] - head),
        "L-foot": j["L-toe"], "R-foot": j["R-toe"],
    }
    for side in ("L", "R"):
        hand, wrist = j[f"{side}-hand"], j[f"{side}-wrist"]
        unit = (hand - wrist) / np.linalg.norm(hand - wrist, axis=-1, keepdims=True)
        derived[f"{side}-hand_tip"] = hand + 0.06 * size * unit
        inward = -left if side == "L" else left
        derived[f"{side}-thumb"] = wrist + 0.6 * (hand - wrist) + 0.03 * size * (fwd + inward)
    return np.stack([derived.get(name, j.get(name)) for name in NTU25.joints], axis=1)


def _rotate_y(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return points @ rot.T


def _person(rng: np.random.Generator, action: str | None, frames: int, start: tuple[float, float]) -> np.ndarray:
    base = motion_generator.sample_params(rng, start=start)
    size = base.size
    if action is None:
        params = base
        added: Callable[[Joints, np.ndarray, float, float], None] = _gesture_only
        rate, amp = 0.0, 1.0
    else:
        gesture, walk, added = MOTION[action]
        rate = float(rng.uniform(0.5, 1.1))
        amp = float(rng.uniform(0.7, 1.2))
        params = motion_generator.MotionParams(
            size=size, speed=walk * float(rng.uniform(0.5, 1.3)), heading=0.0,
            turn_rate=walk * float(rng.uniform(-0.3, 0.3)), turn_accel=0.0, gait_phase=base.gait_phase,
            start_x=start[0], start_z=start[1], gesture=gesture,
            gesture_rate=rate, gesture_phase=float(rng.uniform(0, 2 * np.pi)),
        )
    joints = motion_generator.simulate(params, frames, FPS)
    t = np.arange(frames) / FPS
    g = 2 * np.pi * rate * t + float(rng.uniform(0, 0.5))
    added(joints, g, amp, size)
    return ntu_joints(joints, size)


def generate(num_per_class: int, seed: int, frames: tuple[int, int] = (60, 120), second_person_prob: float = 0.3,
             noise_m: float = 0.01, actions: tuple[str, ...] = ACTIONS) -> list[dict]:
    """``num_per_class`` clips of every action as PYSKL records (keypoint (2, T, 25, 3) metres, the
    second person zero when absent; T uniform in ``frames``), in a seeded, reproducible order."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(num_per_class):
        for label, action in enumerate(actions):
            length = int(rng.integers(frames[0], frames[1] + 1))
            keypoint = np.zeros((2, length, NTU25.num_joints, 3))
            keypoint[0] = _person(rng, action, length, (0.0, 0.0))
            people = 1 + int(rng.random() < second_person_prob)
            if people == 2:
                offset = rng.uniform(1.0, 2.0) * rng.choice([-1.0, 1.0])
                keypoint[1] = _person(rng, None, length, (float(offset), float(rng.uniform(-0.5, 0.5))))
            keypoint = _rotate_y(keypoint, float(rng.uniform(-np.pi / 3, np.pi / 3)))
            keypoint[:people] += rng.normal(0.0, noise_m, size=keypoint[:people].shape)
            records.append({"frame_dir": f"synthetic_{seed}_{i:04d}_{action}", "label": label, "total_frames": length,
                            "img_shape": (0, 0), "keypoint": keypoint.astype(np.float32)})
    return records


def default_dataset(seed: int, sizes: dict[str, int]) -> dict:
    """A PYSKL data set with ``sizes[split]`` clips per class in each split (splits drawn from
    different seeds, so no clip is shared)."""
    records, split = [], {}
    for offset, (name, count) in enumerate(sizes.items()):
        part = generate(count, seed * 1000 + offset)
        for r in part:
            r["frame_dir"] = f"{name}_{r['frame_dir']}"
        records.extend(part)
        split[name] = [r["frame_dir"] for r in part]
    return {"split": split, "annotations": records}
