"""Script command of the hand-forecasting study: ``workbench evaluate hands``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from workbench.errors import ConfigError
from workbench.studies import hand_forecasting as study
from workbench.studies.hand_forecasting.evaluation import evaluate_folder

if TYPE_CHECKING:
    from workbench.studies.declaration import Study



def _length(text: str) -> int | str:
    """A window length: a whole number of frames >= 1, or ``half``."""
    if text == "half":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of frames or 'half', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a window length must be at least 1 frame, got {value}")
    return value


def evaluate(args: argparse.Namespace) -> int:
    """Print ``mpjpe_qub``, ``mpjpe``, ``ade``, ``fde`` (u) and ``n_windows`` of a model on a clip folder."""
    half = args.obs_len == "half" or args.pred_len == "half"
    if half and args.obs_len != args.pred_len:
        raise ConfigError("--obs-len half needs --pred-len half (one window per clip: n = floor(F/2) each)")
    if args.model in study.BASELINES and args.weights:
        raise ConfigError(f"{args.model} has no weights; leave out --weights")
    if args.model in study.TRAINABLE and not args.weights:
        raise ConfigError(f"{args.model} needs --weights (a published state dict or a run's weights.pt)")
    obs_len, pred_len = (2, 1) if half else (args.obs_len, args.pred_len)
    cfg = study.Config(model=args.model, data_dir=args.data, clip_list=args.clip_list or "", obs_len=obs_len,
                       pred_len=pred_len, stride=args.stride, include_gaze=args.gaze, include_obj=args.obj,
                       include_sur=args.sur, mask=not args.no_mask, epochs=0, device=args.device, progress=False,
                       hidden=args.hidden, layers=args.layers)
    result, skipped = evaluate_folder(cfg, args.weights, args.split, half)
    notes = [f"{n} {what}" for what, n in skipped.items() if n]
    if notes:
        print(f"skipped clips: {', '.join(notes)}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.model} on {args.data}: {result['n_windows']} windows ({'masked' if cfg.mask else 'unmasked'})")
    print(f"MPJPE-QUB {result['mpjpe_qub']:.4f} u   MPJPE {result['mpjpe']:.4f} u   "
          f"ADE {result['ade']:.4f} u   FDE {result['fde']:.4f} u   (u = half the image size)")
    return 0


def register(declared: Study, evaluate_commands: argparse._SubParsersAction,
             predict_commands: argparse._SubParsersAction) -> None:
    """Add ``hands`` to ``workbench evaluate``."""
    first, *others = declared.command_names
    ev = evaluate_commands.add_parser(first, aliases=others, help="two-hand forecasting metrics (u)")
    ev.add_argument("--data", required=True, help="folder of QUB-PHEO .h5 clips")
    ev.add_argument("--clip-list", help="CSV with columns clip,participant (default: every .h5, id from the name)")
    ev.add_argument("--split", default="all", choices=["all", "train", "val", "test"],
                    help="clips of one participant split (train 1-48, val 49-59, test 60-70)")
    ev.add_argument("--model", "--arch", dest="model", default="bilstm", choices=[*study.TRAINABLE, *study.BASELINES])
    ev.add_argument("--weights", help="published state dict (weights_<arch>-gaze_*-obj_*-sur_*.pt) or a run's "
                                      "weights.pt")
    ev.add_argument("--obs-len", type=_length, default=60, help="observed frames, or 'half'")
    ev.add_argument("--pred-len", type=_length, default=60, help="predicted frames, or 'half'")
    ev.add_argument("--stride", type=int, default=15, help="frames between window starts")
    ev.add_argument("--gaze", action="store_true", help="the model takes gaze (2 inputs)")
    ev.add_argument("--obj", action="store_true", help="the model takes object boxes (144 inputs)")
    ev.add_argument("--sur", action="store_true", help="the model takes surrogate hand boxes (8 inputs)")
    ev.add_argument("--hidden", type=int, default=128)
    ev.add_argument("--layers", type=int, default=2)
    ev.add_argument("--no-mask", action="store_true", help="count missing hands (published, unmasked numbers)")
    ev.add_argument("--device", default="auto")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=evaluate)
