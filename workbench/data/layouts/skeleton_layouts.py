"""Skeleton layouts: joint names, the bone tree (each joint's parent), left/right pairs and limbs.

The tree gives the parent matrix ``A`` (``A[i, parent(i)] = 1``; the root's row is zero) used by
the bone streams, the left/right pairs used by the flip augmentation and the four limbs (left
arm, right arm, left leg, right leg) used by the part-drop augmentation. ``center`` lists the
joints whose mean is the body centre used for normalisation: the root for NTU-25 (spine base),
the hip midpoint for layouts whose tree is rooted at the head or neck.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.errors import ConfigError


@dataclass(frozen=True)
class Layout:
    """One skeleton layout. ``parents[i]`` is the parent joint of ``i`` (-1 for the root)."""

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    limbs: tuple[tuple[int, ...], ...]
    center: tuple[int, ...]

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) pairs of the tree, for drawing and for the graph."""
        return tuple((i, p) for i, p in enumerate(self.parents) if p >= 0)

    def parent_matrix(self) -> np.ndarray:
        """``A`` (V, V) float32: ``A[i, parent(i)] = 1``, zero row for the root."""
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for child, parent in self.edges:
            a[child, parent] = 1.0
        return a

    def flip_permutation(self) -> np.ndarray:
        """Index array swapping every left joint with its right counterpart (an involution)."""
        perm = np.arange(self.num_joints)
        for left, right in self.pairs:
            perm[left], perm[right] = right, left
        return perm

    def depth(self) -> int:
        """Number of edges on the longest root-to-leaf path."""
        def level(i: int) -> int:
            return 0 if self.parents[i] < 0 else 1 + level(self.parents[i])

        return max(level(i) for i in range(self.num_joints))


def _check(layout: Layout) -> Layout:
    v = layout.num_joints
    if len(layout.parents) != v or layout.parents.count(-1) != 1:
        raise ValueError(f"layout {layout.name}: needs one parent per joint and exactly one root")
    seen = {i for pair in layout.pairs for i in pair}
    if len(seen) != 2 * len(layout.pairs) or max(seen, default=0) >= v or len(layout.limbs) != 4:
        raise ValueError(f"layout {layout.name}: bad left/right pairs or limbs")
    layout.depth()  # raises RecursionError on a cycle
    return layout


NTU25 = _check(Layout(
    name="ntu25",
    joints=("spine_base", "spine_mid", "neck", "head", "L-shoulder", "L-elbow", "L-wrist", "L-hand",
            "R-shoulder", "R-elbow", "R-wrist", "R-hand", "L-hip", "L-knee", "L-ankle", "L-foot",
            "R-hip", "R-knee", "R-ankle", "R-foot", "spine_shoulder", "L-hand_tip", "L-thumb",
            "R-hand_tip", "R-thumb"),
    parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 7, 11, 11),
    pairs=((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24)),
    limbs=((5, 6, 7, 21, 22), (9, 10, 11, 23, 24), (13, 14, 15), (17, 18, 19)),
    center=(0,),
))

OPENPOSE18 = _check(Layout(
    name="openpose18",
    joints=("nose", "neck", "R-shoulder", "R-elbow", "R-wrist", "L-shoulder", "L-elbow", "L-wrist", "R-hip",
            "R-knee", "R-ankle", "L-hip", "L-knee", "L-ankle", "R-eye", "L-eye", "R-ear", "L-ear"),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
    limbs=((6, 7), (3, 4), (12, 13), (9, 10)),
    center=(8, 11),
))

COCO17 = _check(Layout(
    name="coco17",
    joints=("nose", "L-eye", "R-eye", "L-ear", "R-ear", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow",
            "L-wrist", "R-wrist", "L-hip", "R-hip", "L-knee", "R-knee", "L-ankle", "R-ankle"),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    limbs=((7, 9), (8, 10), (13, 15), (14, 16)),
    center=(11, 12),
))

PENN13 = _check(Layout(
    name="penn13",
    joints=("head", "L-shoulder", "R-shoulder", "L-elbow", "R-elbow", "L-wrist", "R-wrist",
            "L-hip", "R-hip", "L-knee", "R-knee", "L-ankle", "R-ankle"),
    parents=(-1, 0, 0, 1, 2, 3, 4, 1, 2, 7, 8, 9, 10),
    pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)),
    limbs=((3, 5), (4, 6), (9, 11), (10, 12)),
    center=(7, 8),
))

JHMDB15 = _check(Layout(
    name="jhmdb15",
    joints=("neck", "belly", "face", "R-shoulder", "L-shoulder", "R-hip", "L-hip", "R-elbow", "L-elbow", "R-knee",
            "L-knee", "R-wrist", "L-wrist", "R-ankle", "L-ankle"),
    parents=(-1, 0, 0, 0, 0, 1, 1, 3, 4, 5, 6, 7, 8, 9, 10),
    pairs=((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14)),
    limbs=((8, 12), (7, 11), (10, 14), (9, 13)),
    center=(5, 6),
))
"""JHMDB's joint order; the tree is rooted at the neck, the hips hang from the belly."""

LAYOUTS: dict[str, Layout] = {"ntu25": NTU25, "openpose18": OPENPOSE18, "coco17": COCO17, "penn13": PENN13,
                              "jhmdb15": JHMDB15, "synthetic": NTU25}
"""Layouts by name; ``synthetic`` (the generated default data) is NTU-25."""


def get_layout(name: str) -> Layout:
    """The layout called ``name`` (see :data:`LAYOUTS`)."""
    if name not in LAYOUTS:
        raise ConfigError(f"unknown skeleton layout {name!r}; choose from {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
