"""Acclaim ASF skeleton files (the format of the CMU Graphics Lab motion capture database), and the
rotations of the format; :mod:`workbench.data.formats.amc` reads the motion and places the bones.

Sections read:

* ``:units``: ``length u`` (metres per file unit = 0.0254 / u: CMU declares ``length 0.45``, so file lengths
  divided by 0.45 are inches) and ``angle deg|rad`` (unit of the ``axis`` angles); default 1 and deg;
* ``:root``: ``order`` (the AMC root channels, e.g. ``TX TY TZ RX RY RZ``) and ``axis`` (the root rotation
  order, e.g. ``XYZ``). ``position`` / ``orientation`` (the rest pose, zero in CMU files) are not used: AMC
  frames give the root's absolute translation and rotation;
* ``:bonedata``: ``begin`` / ``end`` blocks with ``name``, ``direction`` (the bone in world axes of the rest
  pose), ``length``, ``axis ax ay az ORDER`` (the bone's local frame C) and ``dof`` (a subset of
  ``rx ry rz``, in the order of the AMC values); ``id``, ``limits`` and other keywords are not used;
* ``:hierarchy``: ``begin`` / ``end`` around lines ``parent child ...``.

Rotations are right-handed; Euler angles applied in the order ``XYZ`` give R = Rz Ry Rx (x first, fixed
axes). Every error is a :class:`DataFormatError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from workbench.data.number_checks import MAX_ABS
from workbench.errors import DataFormatError

INCH = 0.0254
ROOT = "root"
_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")


@dataclass(frozen=True)
class Bone:
    """One ASF bone: ``direction`` (3,) unit vector and ``length`` (metres) in rest-pose world axes,
    ``axis`` C (3, 3), ``dof`` a subset of "xyz" in AMC value order, ``parent`` a bone name or "root"."""

    name: str
    parent: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    dof: str


@dataclass(frozen=True)
class Skeleton:
    """An ASF skeleton: ``bones`` parents first; ``root_order`` the AMC root channels (e.g. TX .. RZ);
    ``root_axis`` the root rotation order (e.g. "xyz"); ``scale`` metres per file length unit."""

    path: str
    bones: tuple[Bone, ...]
    root_order: tuple[str, ...]
    root_axis: str
    scale: float


def text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, or a :class:`DataFormatError` when it is missing or unreadable."""
    if not path.is_file():
        raise DataFormatError(path, "file not found")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"unreadable ({type(exc).__name__}: {exc})") from None


def _floats(path: Path, number: int, fields: list[str], count: int, what: str) -> np.ndarray:
    """``count`` finite numbers within +-1e6 from ``fields``, or an error naming the line."""
    if len(fields) != count:
        raise DataFormatError(path, f"line {number}: {what} needs {count} value(s), found {len(fields)}")
    try:
        values = np.array([float(f) for f in fields])
    except ValueError:
        raise DataFormatError(path, f"line {number}: {what} holds a non-number: {' '.join(fields)!r}") from None
    if not np.isfinite(values).all():
        raise DataFormatError(path, f"line {number}: {what} holds NaN/inf")
    if (np.abs(values) > MAX_ABS).any():
        raise DataFormatError(path, f"line {number}: {what} holds values beyond +-{MAX_ABS:g}")
    return values


def _rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) right-handed rotations by ``angle`` (...) radians about axis "x", "y" or "z"."""
    c, s, one, zero = np.cos(angle), np.sin(angle), np.ones_like(angle), np.zeros_like(angle)
    rows = {"x": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
            "y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
            "z": ((c, -s, zero), (s, c, zero), (zero, zero, one))}[axis]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def euler(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) rotation R_k .. R_1 for ``angles`` (..., k) radians about the axes of ``order``
    (e.g. "xyz": R = Rz Ry Rx, the first axis applied first)."""
    result = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3))
    for i, axis in enumerate(order):
        result = _rotation(axis, angles[..., i]) @ result
    return result


def _sections(path: Path, lines: list[str]) -> dict[str, list[tuple[int, list[str]]]]:
    """The numbered, non-empty lines of each ``:keyword`` section (comments dropped)."""
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith(":"):
            current = sections.setdefault(fields[0][1:].lower(), [])
        elif current is None:
            raise DataFormatError(path, f"line {number}: {fields[0]!r} before the first :section")
        else:
            current.append((number, fields))
    for required in ("root", "bonedata", "hierarchy"):
        if required not in sections:
            raise DataFormatError(path, f"no :{required} section")
    return sections


def _rotation_order(path: Path, number: int, text: str) -> str:
    order = text.lower()
    if sorted(order) != ["x", "y", "z"]:
        raise DataFormatError(path, f"line {number}: rotation order {text!r} is not a permutation of XYZ")
    return order


def _bone_blocks(path: Path, lines: list[tuple[int, list[str]]]) -> list[tuple[int, dict[str, tuple]]]:
    """(line of ``begin``, keyword -> (line, values)) of every ``begin`` .. ``end`` block."""
    blocks: list[tuple[int, dict[str, tuple]]] = []
    block: dict[str, tuple] | None = None
    for number, fields in lines:
        key = fields[0].lower()
        if key == "begin":
            block = {}
            blocks.append((number, block))
        elif key == "end":
            block = None
        elif block is None:
            raise DataFormatError(path, f"line {number}: {fields[0]!r} outside a begin .. end bone block")
        else:
            block[key] = (number, fields[1:])
    return blocks


def _bone(path: Path, begin: int, block: dict[str, tuple], scale: float, angle: float) -> Bone:
    """The bone of one ``begin`` .. ``end`` block (its parent still unset)."""
    for key in ("name", "direction", "length", "axis"):
        if key not in block:
            raise DataFormatError(path, f"line {begin}: bone block without {key!r}")
    name = " ".join(block["name"][1])
    direction = _floats(path, *block["direction"], 3, "direction")
    if not np.linalg.norm(direction) > 0:
        raise DataFormatError(path, f"line {block['direction'][0]}: bone {name!r} has a zero direction")
    length = float(_floats(path, *block["length"], 1, "length")[0]) * scale
    number, fields = block["axis"]
    if len(fields) != 4:
        raise DataFormatError(path, f"line {number}: axis needs three angles and a rotation order")
    order = _rotation_order(path, number, fields[3])
    axis = euler(_floats(path, number, fields[:3], 3, "axis")[["xyz".index(a) for a in order]] * angle, order)
    number, fields = block.get("dof", (begin, []))
    dof = "".join(d.lower()[1:] for d in fields)
    if any(d.lower() not in ("rx", "ry", "rz") for d in fields) or len(set(dof)) != len(dof):
        raise DataFormatError(path, f"line {number}: dof {' '.join(fields)!r}: only rotations rx ry rz, "
                                    "each at most once, are supported")
    return Bone(name, "", direction / np.linalg.norm(direction), length, axis, dof)


def _units(path: Path, lines: list[tuple[int, list[str]]]) -> tuple[float, float]:
    """(metres per file length unit, radians per ``axis`` angle unit) of the ``:units`` lines."""
    scale, angle = INCH, np.pi / 180.0
    for number, fields in lines:
        if fields[0] == "length":
            unit = float(_floats(path, number, fields[1:], 1, "length unit")[0])
            if unit <= 0:
                raise DataFormatError(path, f"line {number}: length unit must be positive, got {unit:g}")
            scale = INCH / unit
        elif fields[0] == "angle":
            if len(fields) != 2 or fields[1].lower() not in ("deg", "rad"):
                raise DataFormatError(path, f"line {number}: angle unit must be deg or rad")
            angle = np.pi / 180.0 if fields[1].lower() == "deg" else 1.0
    return scale, angle


def _root(path: Path, lines: list[tuple[int, list[str]]]) -> tuple[tuple[str, ...], str]:
    """(AMC root channels, root rotation order) of the ``:root`` lines."""
    root = {fields[0].lower(): (number, fields[1:]) for number, fields in lines}
    if "order" not in root or "axis" not in root:
        raise DataFormatError(path, ":root needs an order and an axis line")
    number, fields = root["order"]
    order = tuple(channel.upper() for channel in fields)
    if not order or any(c not in _ROOT_CHANNELS for c in order) or len(set(order)) != len(order):
        raise DataFormatError(path, f"line {number}: root order {' '.join(fields)!r} is not a set of "
                                    f"{' '.join(_ROOT_CHANNELS)}")
    number, fields = root["axis"]
    return order, _rotation_order(path, number, fields[0] if len(fields) == 1 else " ".join(fields))


def _connect(path: Path, bones: dict[str, tuple[Bone, int]], lines: list[tuple[int, list[str]]]) -> list[Bone]:
    """The bones with their ``:hierarchy`` parents, parents first; ``bones``: name -> (bone, line)."""
    parents: dict[str, str] = {}
    lines_of: dict[str, int] = {}  # the :hierarchy line giving each bone its parent
    for number, fields in lines:
        if fields[0].lower() in ("begin", "end"):
            continue
        for name in fields:
            if name != ROOT and name not in bones:
                raise DataFormatError(path, f"line {number}: :hierarchy names {name!r}, which is not in :bonedata")
        for child in fields[1:]:
            if child == ROOT or child in parents:
                raise DataFormatError(path, f"line {number}: {child!r} has a second parent in :hierarchy")
            parents[child], lines_of[child] = fields[0], number
    for name, (_, line) in bones.items():
        if name not in parents:
            raise DataFormatError(path, f"line {line}: bone {name!r} is missing from :hierarchy")
    ordered: list[Bone] = []
    frontier = [ROOT]
    while frontier:  # breadth first from the root: parents before children
        frontier = [name for parent in frontier for name in parents if parents[name] == parent]
        ordered += [replace(bones[name][0], parent=parents[name]) for name in frontier]
    if len(ordered) != len(bones):
        lost = sorted(set(bones) - {b.name for b in ordered}, key=lines_of.get)
        raise DataFormatError(path, f"line {lines_of[lost[0]]}: :hierarchy does not connect {', '.join(lost)} "
                                    "to the root")
    return ordered


def read_asf(path: str | Path) -> Skeleton:
    """The skeleton of an ASF file, bones ordered parents first. Raises :class:`DataFormatError` naming
    file and line for a missing section, a malformed or non-finite number, a bone block without name,
    direction, length or axis, an unsupported dof, or a :hierarchy that names an unknown bone, gives a bone
    two parents, or leaves a bone out or unreachable from the root."""
    path = Path(path)
    sections = _sections(path, text_lines(path))
    scale, angle = _units(path, sections.get("units", []))
    order, axis = _root(path, sections["root"])
    bones: dict[str, tuple[Bone, int]] = {}
    for begin, block in _bone_blocks(path, sections["bonedata"]):
        bone = _bone(path, begin, block, scale, angle)
        if bone.name in bones or bone.name == ROOT:
            raise DataFormatError(path, f"line {begin}: bone name {bone.name!r} used twice")
        bones[bone.name] = (bone, begin)
    return Skeleton(str(path), tuple(_connect(path, bones, sections["hierarchy"])), order, axis, scale)
