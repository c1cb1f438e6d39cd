"""Procedural human motion: the embedded default data of the studies.

A small kinematic body model moves people over a ground plane (y up, metres):
walking with a gait cycle, turning, standing, and arm gestures (waving,
raising both arms, pointing), with varied speed, body size and heading. Each
person is described by :class:`MotionParams`; :func:`simulate` returns named
3D joint trajectories that the per-study layouts pick their joints from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GESTURES = ("none", "wave", "raise_arms", "point", "swing")


@dataclass(frozen=True)
class MotionParams:
    """One person's motion. Lengths in metres, angles in radians, rates in Hz or rad/s."""

    size: float
    speed: float
    heading: float
    turn_rate: float
    turn_accel: float
    gait_phase: float
    start_x: float
    start_z: float
    gesture: str
    gesture_rate: float
    gesture_phase: float


def sample_params(rng: np.random.Generator, start: tuple[float, float] = (0.0, 0.0)) -> MotionParams:
    """Draw one person's motion: 40% stand, the rest walk at 0.2-1.0 m/s."""
    walking = rng.random() > 0.4
    return MotionParams(
        size=float(rng.uniform(0.85, 1.15)),
        speed=float(rng.uniform(0.2, 1.0)) if walking else 0.0,
        heading=float(rng.uniform(-np.pi, np.pi)),
        turn_rate=float(rng.uniform(-0.8, 0.8)),
        turn_accel=float(rng.uniform(-0.6, 0.6)),
        gait_phase=float(rng.uniform(0, 2 * np.pi)),
        start_x=start[0] + float(rng.uniform(-0.5, 0.5)),
        start_z=start[1] + float(rng.uniform(-0.5, 0.5)),
        gesture=str(rng.choice(GESTURES)),
        gesture_rate=float(rng.uniform(0.3, 1.0)),
        gesture_phase=float(rng.uniform(0, 2 * np.pi)),
    )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _limb(start: np.ndarray, length: float, fwd: np.ndarray, side: np.ndarray, up: np.ndarray,
          flexion: np.ndarray, abduction: np.ndarray) -> np.ndarray:
    """End point of a limb hanging down from ``start``, rotated forward by ``flexion``
    and sideways by ``abduction``: d = cos(b)(sin(a) fwd - cos(a) up) + sin(b) side."""
    a = flexion[:, None]
    b = abduction[:, None]
    direction = np.cos(b) * (np.sin(a) * fwd - np.cos(a) * up) + np.sin(b) * side
    return start + length * direction


def _arm_angles(p: MotionParams, t: np.ndarray, leg_swing: np.ndarray, side: int) -> tuple[np.ndarray, ...]:
    """Shoulder flexion, abduction and elbow flexion of one arm (side +1 left, -1 right)."""
    g = 2 * np.pi * p.gesture_rate * t + p.gesture_phase
    flex = -0.8 * side * leg_swing
    abd = np.full_like(t, 0.12)
    elbow = 0.3 + 0.2 * np.abs(leg_swing)
    if p.gesture == "wave" and side < 0:
        flex = np.full_like(t, 0.3)
        abd = 1.9 + 0.15 * np.sin(g)
        elbow = 0.9 + 0.5 * np.sin(2 * g)
    elif p.gesture == "raise_arms":
        level = 0.5 * (1 - np.cos(g))
        flex = 0.2 + 0.2 * level
        abd = 0.12 + 2.6 * level
        elbow = 0.2 * level + 0.1
    elif p.gesture == "point" and side < 0:
        level = np.clip(1.5 * np.sin(g), 0, 1)
        flex = flex * (1 - level) + 1.5 * level
        elbow = elbow * (1 - level)
    elif p.gesture == "swing":
        flex = 0.6 * np.sin(g + (0 if side > 0 else np.pi))
        elbow = 0.4 + 0.3 * np.sin(g)
    return flex, abd, elbow


def simulate(p: MotionParams, num_frames: int, fps: float, t0: float = 0.0) -> dict[str, np.ndarray]:
    """Joint trajectories of one person: name -> (num_frames, 3) array in metres.

    Joints: pelvis, {L,R}-hip, {L,R}-knee, {L,R}-ankle, {L,R}-toe, neck, head,
    nose, {L,R}-shoulder, {L,R}-elbow, {L,R}-wrist, {L,R}-hand.
    """
    t = t0 + np.arange(num_frames) / fps
    s = p.size
    heading = p.heading + p.turn_rate * t + 0.5 * p.turn_accel * t**2
    fwd = np.stack([np.sin(heading), np.zeros_like(t), np.cos(heading)], axis=-1)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), fwd.shape)
    left = np.cross(up, fwd)
    dt = 1.0 / fps
    root_xz = np.cumsum(p.speed * fwd * dt, axis=0) - p.speed * fwd[:1] * dt
    step_freq = 0.7 + 0.45 * p.speed / s if p.speed > 0 else 0.0
    phase = 2 * np.pi * step_freq * t + p.gait_phase
    swing_amp = 0.15 + 0.22 * min(p.speed, 1.8) / 1.8 if p.speed > 0 else 0.0
    leg_swing = swing_amp * np.sin(phase)
    bob = 0.015 * s * np.abs(np.cos(phase)) * (p.speed > 0)
    pelvis = root_xz + np.array([p.start_x, 0.0, p.start_z]) + up * bob[:, None]
    joints: dict[str, np.ndarray] = {"pelvis": pelvis}
    for name, sgn in (("L", 1.0), ("R", -1.0)):
        hip = pelvis + sgn * 0.09 * s * left
        swing = sgn * leg_swing
        knee_bend = 0.05 + 2.5 * swing_amp * np.clip(np.sin(phase + (0 if sgn > 0 else np.pi) + np.pi / 2), 0, None)
        zeros = np.zeros_like(t)
        knee = _limb(hip, 0.40 * s, fwd, left, up, swing, zeros)
        ankle = _limb(knee, 0.40 * s, fwd, left, up, swing - knee_bend, zeros)
        joints[f"{name}-hip"], joints[f"{name}-knee"], joints[f"{name}-ankle"] = hip, knee, ankle
        joints[f"{name}-toe"] = ankle + 0.14 * s * fwd - 0.05 * s * up
    neck = pelvis + up * 0.52 * s + 0.03 * s * fwd * np.sin(phase * 2)[:, None]
    joints["neck"] = neck
    joints["head"] = neck + up * 0.07 * s
    joints["nose"] = neck + up * 0.14 * s + 0.09 * s * fwd
    for name, sgn in (("L", 1.0), ("R", -1.0)):
        shoulder = neck + sgn * 0.17 * s * left - 0.02 * s * up
        flex, abd, elbow_flex = _arm_angles(p, t, leg_swing, int(sgn))
        side_dir = sgn * left
        elbow = _limb(shoulder, 0.28 * s, fwd, side_dir, up, flex, abd)
        wrist = _limb(elbow, 0.25 * s, fwd, side_dir, up, flex + elbow_flex, abd)
        joints[f"{name}-shoulder"], joints[f"{name}-elbow"], joints[f"{name}-wrist"] = shoulder, elbow, wrist
        joints[f"{name}-hand"] = wrist + 0.08 * s * _unit(wrist - elbow)
    return joints


def simulate_scenes(
    num_scenes: int,
    people: int,
    num_frames: int,
    fps: float,
    joint_names: tuple[str, ...],
    seed: int,
    noise_m: float = 0.002,
) -> np.ndarray:
    """Scenes of ``people`` people: array (num_scenes, people, num_frames, J, 3), metres.

    People in one scene start 1-3 m apart; ``noise_m`` is the std of Gaussian
    jitter added to every coordinate (a motion-capture-like noise floor).
    """
    rng = np.random.default_rng(seed)
    out = np.empty((num_scenes, people, num_frames, len(joint_names), 3))
    for s in range(num_scenes):
        centre = rng.uniform(-1.0, 1.0, size=2)
        for k in range(people):
            offset = centre + rng.uniform(-1.5, 1.5, size=2) * (k > 0)
            params = sample_params(rng, start=(float(offset[0]), float(offset[1])))
            joints = simulate(params, num_frames, fps)
            out[s, k] = np.stack([joints[name] for name in joint_names], axis=1)
    out += rng.normal(0.0, noise_m, size=out.shape)
    return out
