"""Acclaim AMC motion files (the trials of the CMU Graphics Lab motion capture database) read for an
ASF skeleton (:mod:`workbench.data.formats.asf`), and forward kinematics.

An AMC file holds ``:FULLY-SPECIFIED``, ``:DEGREES`` (default) or ``:RADIANS``, then per frame its number
(consecutive) and one line ``bone v1 .. vk`` for the root and for every bone with dofs.

Forward kinematics per frame: W_root = R_root (the root angles in the skeleton's root order),
end_root = root translation; for a bone b with parent q, L_b = C_b M_b C_b^-1 (C_b the bone's axis rotation,
M_b the frame's dof rotation in the listed dof order), W_b = W_q L_b and
end_b = end_q + W_b (length_b direction_b). Every array has a leading frame axis F.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.data.formats.asf import ROOT, Skeleton, euler, text_lines
from workbench.data.number_checks import MAX_ABS
from workbench.errors import DataFormatError


@dataclass(frozen=True)
class Motion:
    """An AMC trial of F frames: ``root_translation`` (F, 3) metres, ``root_angles`` (F, 3) radians about
    x, y, z; ``dof_angles`` bone name -> (F, len(dof)) radians in the bone's dof order."""

    path: str
    root_translation: np.ndarray
    root_angles: np.ndarray
    dof_angles: dict[str, np.ndarray]

    @property
    def num_frames(self) -> int:
        return int(self.root_translation.shape[0])

    def subsample(self, step: int) -> Motion:
        """Every ``step``-th frame, starting with the first."""
        return Motion(self.path, self.root_translation[::step], self.root_angles[::step],
                      {name: a[::step] for name, a in self.dof_angles.items()})


def _line_of(lines: list[str], start: int, name: str) -> int:
    """1-based number of the first line from line ``start`` (1-based) that begins with ``name``."""
    return next(i for i in range(start, len(lines) + 1) if lines[i - 1].split()[:1] == [name])


def read_amc(path: str | Path, skeleton: Skeleton) -> Motion:
    """The frames of an AMC file for ``skeleton``. Raises :class:`DataFormatError` naming file and line for
    data before the first frame number, frame numbers that are not consecutive, a bone the skeleton lacks
    (or that has no dof), a wrong number of values on a line, a bone twice in a frame or missing from one,
    a value that is not a number, NaN/inf or beyond +-1e6, or a file without frames."""
    path = Path(path)
    lines = text_lines(path)
    counts = {ROOT: len(skeleton.root_order), **{b.name: len(b.dof) for b in skeleton.bones if b.dof}}
    columns = list(counts)
    angle = np.pi / 180.0
    rows: list[list[float]] = []
    starts: list[int] = []  # line of each frame number
    frame: dict[str, list[float]] | None = None

    def finish() -> None:
        missing = [name for name in columns if name not in frame]
        if missing:
            raise DataFormatError(path, f"line {starts[-1]}: frame {lines[starts[-1] - 1].strip()} has no line "
                                        f"for {', '.join(missing)}")
        rows.append([v for name in columns for v in frame[name]])

    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith(":"):
            if frame is not None:
                raise DataFormatError(path, f"line {number}: {fields[0]} after the first frame")
            angle = 1.0 if fields[0].upper() == ":RADIANS" else angle
            continue
        if len(fields) == 1 and fields[0].isdigit():
            if frame is not None:
                finish()
                previous = int(lines[starts[-1] - 1])
                if int(fields[0]) != previous + 1:
                    raise DataFormatError(path, f"line {number}: frame {fields[0]} follows frame {previous}")
            frame = {}
            starts.append(number)
            continue
        if frame is None:
            raise DataFormatError(path, f"line {number}: {fields[0]!r} before the first frame number")
        name, count = fields[0], counts.get(fields[0])
        if count is None:
            known = "has no dof in" if any(b.name == name for b in skeleton.bones) else "is not a bone of"
            raise DataFormatError(path, f"line {number}: {name!r} {known} {Path(skeleton.path).name}")
        if len(fields) != count + 1:
            raise DataFormatError(path, f"line {number}: {name!r} needs {count} value(s), found {len(fields) - 1}")
        if name in frame:
            raise DataFormatError(path, f"line {number}: {name!r} appears twice in frame {len(starts)}")
        try:
            frame[name] = [float(v) for v in fields[1:]]
        except ValueError:
            raise DataFormatError(path, f"line {number}: {name!r} holds a non-number: {line.strip()!r}") from None
    if frame is None:
        raise DataFormatError(path, "no frames")
    finish()
    data = np.array(rows)
    bad = ~np.isfinite(data) | (np.abs(np.nan_to_num(data)) > MAX_ABS)
    if bad.any():
        f, c = (int(i) for i in np.argwhere(bad)[0])
        name = columns[int(np.searchsorted(np.cumsum([counts[n] for n in columns]), c, side="right"))]
        problem = "NaN/inf" if not np.isfinite(data[f, c]) else f"values beyond +-{MAX_ABS:g}"
        raise DataFormatError(path, f"line {_line_of(lines, starts[f], name)}: {name!r} holds {problem}")
    return _motion(path, skeleton, data, columns, counts, angle)


def _motion(path: Path, skeleton: Skeleton, data: np.ndarray, columns: list[str], counts: dict[str, int],
            angle: float) -> Motion:
    """Split the (F, values) table into root translation (metres), root and dof angles (radians)."""
    at = np.cumsum([0] + [counts[name] for name in columns])
    block = {name: data[:, at[i]:at[i + 1]] for i, name in enumerate(columns)}
    translation, rotation = np.zeros((len(data), 3)), np.zeros((len(data), 3))
    for i, channel in enumerate(skeleton.root_order):
        target = translation if channel[0] == "T" else rotation
        target[:, "XYZ".index(channel[1])] = block[ROOT][:, i]
    dofs = {name: values * angle for name, values in block.items() if name != ROOT}
    return Motion(str(path), translation * skeleton.scale, rotation * angle, dofs)


def forward_kinematics(skeleton: Skeleton, motion: Motion) -> dict[str, np.ndarray]:
    """World position of the end of every bone per frame, and of the root ("root"): name -> (F, 3) metres
    (the file's axes; CMU: y up). W_b = W_parent C_b M_b C_b^-1; end_b = end_parent + W_b length_b direction_b."""
    world = {ROOT: euler(motion.root_angles[:, [("xyz".index(a)) for a in skeleton.root_axis]], skeleton.root_axis)}
    ends = {ROOT: motion.root_translation}
    for bone in skeleton.bones:
        world[bone.name] = world[bone.parent]
        if bone.dof:  # C is a rotation: C^-1 = C^T
            local = bone.axis @ euler(motion.dof_angles[bone.name], bone.dof) @ bone.axis.T
            world[bone.name] = world[bone.parent] @ local
        ends[bone.name] = ends[bone.parent] + world[bone.name] @ (bone.length * bone.direction)
    return ends
