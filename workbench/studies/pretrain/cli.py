"""Script command of the pretraining study: ``workbench evaluate pretrain``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from workbench.data.transforms import heatmaps
from workbench.data.transforms.heatmap_windows import SPLITS
from workbench.engine.precision import PRECISIONS
from workbench.studies import pretrain as study
from workbench.studies.pretrain.evaluation import evaluate_split

if TYPE_CHECKING:
    from workbench.studies.declaration import Study


def evaluate(args: argparse.Namespace) -> int:
    """Print PCK (%) per alpha, the mean threshold distances (px), PCK (%) at the fixed pixel thresholds
    and the scored keypoint count of a model on a split. The split is rebuilt from the data,
    ``--experiment`` and ``--seed``: use the training run's values to score its test windows."""
    result = evaluate_split(args.model, args.checkpoint or "", args.split, dataset=args.dataset,
                            data_dir=args.data or "", max_videos=args.max_videos, experiment=args.experiment,
                            shift_scalar=args.shift_scalar, seed=args.seed, device=args.device, decode=args.decode,
                            precision=args.precision, compare_decode=list(args.compare_decode or []),
                            max_windows={args.split: args.max_windows} if args.max_windows else {},
                            **({"pck_px": args.pck_px} if args.pck_px else {}))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.model} on {args.dataset} {args.split} (experiment {args.experiment}, shift scalar "
          f"{args.shift_scalar:g}, {result['n_keypoints']} keypoints scored, {result['precision']})")
    for decoder, found in (result.get("by_decode") or {args.decode: result}).items():
        print(f"{decoder} decoding")
        for alpha, value in found["pck"].items():
            print(f"  PCK@{alpha}: {value:.2f} %   (mean threshold {found['threshold_px'][alpha]:.2f} px)")
        for threshold, value in found["pck_px"].items():
            print(f"  PCK@{threshold} px: {value:.2f} %")
    return 0


def register(declared: Study, evaluate_commands: argparse._SubParsersAction,
             predict_commands: argparse._SubParsersAction) -> None:
    """Add ``pretrain`` to ``workbench evaluate`` (the study has no submission format to predict)."""
    first, *others = declared.command_names
    ev = evaluate_commands.add_parser(first, aliases=others, help="heatmap-denoising PCK")
    ev.add_argument("--data", help="Penn Action root or labels folder, or a BRACE folder (default: the shared copy)")
    ev.add_argument("--dataset", default="penn_action", choices=list(study.DATASETS))
    ev.add_argument("--model", default="identity", choices=[*study.MODELS, study.BASELINE])
    ev.add_argument("--checkpoint", help="a pretrain run's checkpoint.pt")
    ev.add_argument("--experiment", type=int, default=1, choices=sorted(study.EXPERIMENTS))
    ev.add_argument("--shift-scalar", type=float, default=1.0, help="detector shift std = 3 x this (px)")
    ev.add_argument("--split", default="test", choices=list(SPLITS))
    ev.add_argument("--max-videos", type=int, default=0, help="read only the first N files (0: all)")
    ev.add_argument("--device", default="auto")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--decode", default="argmax", choices=list(heatmaps.DECODERS),
                    help="keypoint read-out of every map (default argmax, the thesis's)")
    ev.add_argument("--pck-px", type=float, nargs="+", help="fixed PCK thresholds in px (default 1.11 2.23 4.46)")
    ev.add_argument("--compare-decode", nargs="+", choices=list(heatmaps.DECODERS),
                    help="also read the same maps off with these decoders (JSON: by_decode)")
    ev.add_argument("--precision", default="auto", choices=list(PRECISIONS),
                    help="forward pass precision (default auto: bf16 where the hardware computes it natively)")
    ev.add_argument("--max-windows", type=int, default=0,
                    help="score the split's first N windows after shuffling, as a run's max_windows does (0: all)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=evaluate)
