"""Script commands of the 3DPW study: ``workbench evaluate 3dpw`` and ``workbench predict 3dpw``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import metrics
from workbench.data.formats import somof
from workbench.studies import decoupled_3dpw as study
from workbench.studies.decoupled_3dpw.evaluation import evaluate_split, predict_split

if TYPE_CHECKING:
    from workbench.studies.declaration import Study



def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="folder in the SoMoF 3DPW layout")
    p.add_argument("--model", choices=[*study.trainable_models(), *study.BASELINES],
                   help="default: the model named in --checkpoint, else derpof")
    p.add_argument("--decay", type=float, default=study.DEFAULT_DECAY, help="damped_velocity: the decay d")
    p.add_argument("--checkpoint-g", help="published DeRPoF global state dict (.pkl)")
    p.add_argument("--checkpoint-l", help="published DeRPoF local state dict (.pkl)")
    p.add_argument("--checkpoint", help="a workbench checkpoint.pt")
    p.add_argument("--deterministic", action="store_true", help="use z = mean instead of sampling the VAE latent")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)


def _model_options(args: argparse.Namespace) -> dict:
    return {"data_dir": args.data, "model": args.model, "checkpoint": args.checkpoint or "",
            "checkpoint_g": args.checkpoint_g or "", "checkpoint_l": args.checkpoint_l or "", "decay": args.decay,
            "deterministic": args.deterministic, "device": args.device, "seed": args.seed}


def evaluate(args: argparse.Namespace) -> int:
    """Print the forecast metrics of a model on a split with ground truth."""
    name, result = evaluate_split(args.split, **_model_options(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{name} on {args.split} ({result['n_people']} people)")
    horizons = zip(metrics.VIM_LABELS_MS, result["vim_cm"], strict=True)
    print("VIM (cm) at " + ", ".join(f"{ms} ms: {v:.2f}" for ms, v in horizons))
    print(f"ADE {result['ade']:.4f} m   FDE {result['fde']:.4f} m   MPJPE {result['mpjpe_mm']:.1f} mm")
    return 0


def predict(args: argparse.Namespace) -> int:
    """Write forecasts of a split in the SoMoF submission layout (scenes x people x 14 x 39)."""
    scenes, people = predict_split(args.split, args.out, **_model_options(args))
    print(f"wrote {scenes} scenes x {people} people x 14 frames to {args.out}")
    return 0


def register(declared: Study, evaluate_commands: argparse._SubParsersAction,
             predict_commands: argparse._SubParsersAction) -> None:
    """Add ``3dpw`` to ``workbench evaluate`` and ``workbench predict``."""
    first, *others = declared.command_names
    ev = evaluate_commands.add_parser(first, aliases=others, help="SoMoF 3DPW forecasting metrics")
    _add_model_options(ev)
    ev.add_argument("--split", default="valid", choices=list(somof.SPLITS))
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=evaluate)
    pr = predict_commands.add_parser(first, aliases=others, help="SoMoF submission file")
    _add_model_options(pr)
    pr.add_argument("--split", default="test", choices=list(somof.SPLITS))
    pr.add_argument("--out", required=True, type=Path)
    pr.set_defaults(func=predict)
