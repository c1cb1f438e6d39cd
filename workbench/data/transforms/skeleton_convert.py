"""Convert folders of NTU ``.skeleton`` files, Kinetics-Skeleton JSON files, Penn Action labels or JHMDB
joint pickles into one PYSKL ``.pkl``.

NTU splits: ``xsub_train`` / ``xsub_val`` (the official cross-subject performers) and ``xview_train`` /
``xview_val`` (cameras 2 and 3 train, camera 1 validation). Kinetics: every file goes to the split
named ``split``. Penn Action: the official ``train`` / ``test`` split. JHMDB: the three official
splits ``train1`` / ``test1`` / ``train2`` / ``test2`` / ``train3`` / ``test3``, each distinct clip stored
once. Unreadable files are skipped, each with a log line, and the count is reported.

Command line: ``workbench convert {ntu,kinetics,penn,jhmdb} SOURCE OUT.pkl`` (or
``python -m workbench.data.transforms.skeleton_convert`` with the same arguments). ``workbench convert cmu SOURCE OUT``
writes CMU mocap as SoMoF 3DPW windows into the folder OUT instead (:mod:`workbench.data.formats.cmu_mocap`).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from workbench.data.formats import cmu_mocap, jhmdb, kinetics_skeleton, ntu_skeleton, pyskl
from workbench.data.many_files import find_files, load_skipping
from workbench.data.transforms import penn_skeleton
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

NTU_XSUB_TRAIN = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU_XVIEW_TRAIN = (2, 3)


def ntu_splits(names: list[str]) -> dict[str, list[str]]:
    """Cross-subject and cross-view splits of NTU names ``SsssCcccPpppRrrrAaaa``."""
    split: dict[str, list[str]] = {"xsub_train": [], "xsub_val": [], "xview_train": [], "xview_val": []}
    for name in names:
        match = re.search(r"C(\d{3})P(\d{3})", name)
        if not match:
            continue
        camera, performer = int(match.group(1)), int(match.group(2))
        split["xsub_train" if performer in NTU_XSUB_TRAIN else "xsub_val"].append(name)
        split["xview_train" if camera in NTU_XVIEW_TRAIN else "xview_val"].append(name)
    return split


def convert(kind: str, source: str | Path, split: str = "train") -> dict:
    """The PYSKL data set of a folder (``ntu``: ``*.skeleton``; ``kinetics``: ``*.json``; ``penn``:
    a labels folder of ``*.mat``; ``jhmdb``: a folder of ``GT_{train,test}_{1,2,3}.pkl``)."""
    source = Path(source)
    if kind == "penn":
        return penn_skeleton.penn_dataset(source)
    if kind == "jhmdb":
        return jhmdb.jhmdb_dataset(source)
    pattern, read = {"ntu": ("*.skeleton", ntu_skeleton.skeleton_record),
                     "kinetics": ("*.json", kinetics_skeleton.json_record)}[kind]
    files = find_files(source, pattern, f"{pattern} files")
    records, skipped = load_skipping(files, read)
    if skipped:
        log.warning("skipped %d of %d files", len(skipped), len(files))
    names = [r["frame_dir"] for r in records]
    return pyskl.make_dataset(records, ntu_splits(names) if kind == "ntu" else {split: names})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of a conversion (``workbench convert`` and ``python -m``)."""
    parser.add_argument("kind", choices=["ntu", "kinetics", "penn", "jhmdb", "cmu"], help="format of the input files")
    parser.add_argument("source", type=Path, help="folder of input files")
    parser.add_argument("out", type=Path, help="the .pkl to write (cmu: the folder of SoMoF JSON files)")
    parser.add_argument("--split", default="train", help="kinetics: the split name of every file")
    cmu_mocap.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Convert ``args.source`` and write ``args.out``; prints the clip count per split. Raises
    :class:`WorkbenchError` on unreadable input (nothing is written then). Skipped files are logged
    as warnings on standard error."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.kind == "cmu":
        return cmu_mocap.run(args)
    data = convert(args.kind, args.source, args.split)
    pyskl.save(args.out, data)
    sizes = ", ".join(f"{k} {len(v)}" for k, v in data["split"].items())
    print(f"wrote {len(data['annotations'])} clips ({sizes}) to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except WorkbenchError as exc:
        print(f"skeleton_convert: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
