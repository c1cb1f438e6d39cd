"""Script commands of the skeleton study: ``workbench evaluate skeleton`` and ``workbench predict skeleton``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.errors import ConfigError
from workbench.studies import skeleton_ensembles as study
from workbench.studies.skeleton_ensembles.evaluation import evaluate_checkpoint, stream_scores

if TYPE_CHECKING:
    from workbench.studies.declaration import Study

ROLES = ("train", "val", "test")


def _parse_weights(text: str | None) -> dict[str, float]:
    """``"j=2,b=2,jm=1"`` -> {stream: weight}."""
    if not text:
        return {}
    weights = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--weights expects stream=number pairs separated by commas, got {item!r}") from None
    return weights


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, type=Path, help="a run's checkpoint.pt (all streams)")
    p.add_argument("--dataset", choices=study.DATASETS, help="data set (default: the one the run was trained on)")
    p.add_argument("--data", help="Penn Action labels folder or PYSKL .pkl (default: the run's)")
    p.add_argument("--layout", help="skeleton layout of a PYSKL file (default: the run's)")
    p.add_argument("--split", default="test", choices=ROLES, help="which split to score")
    p.add_argument("--streams", nargs="+", help="streams to use (default: every stream in the checkpoint)")
    p.add_argument("--test-clips", type=int, help="temporal clips averaged per video (default: the run's)")
    p.add_argument("--device", default="cpu")


def _overrides(args: argparse.Namespace) -> dict:
    return {"device": args.device, "dataset": args.dataset, "data_path": args.data, "layout": args.layout,
            "test_clips": args.test_clips}


def evaluate(args: argparse.Namespace) -> int:
    """Print top-1 / top-5 / mean class accuracy (%) per stream and of their weighted fusion."""
    cfg, result = evaluate_checkpoint(args.checkpoint, args.split, args.streams, _parse_weights(args.weights),
                                      **_overrides(args))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{cfg.dataset} {args.split}: {result['clips']} clips")
    rows = [(s, m) for s, m in result["streams"].items()] + ([("fused", result["fused"])] if "fused" in result else [])
    for name, m in rows:
        print(f"{name:<8} top-1 {m['top1']:6.2f} %   top-5 {m['top5']:6.2f} %   mean class {m['mean_class']:6.2f} %")
    return 0


def predict(args: argparse.Namespace) -> int:
    """Write each stream's softmax scores (N, K), the clip names and labels to an ``.npz`` file."""
    _, clips, scores = stream_scores(args.checkpoint, args.split, args.streams, **_overrides(args))
    np.savez_compressed(args.out, names=np.array(clips.names), labels=clips.labels.numpy(), **scores)
    print(f"wrote scores of {len(clips.names)} clips x {len(scores)} streams to {args.out}")
    return 0


def register(declared: Study, evaluate_commands: argparse._SubParsersAction,
             predict_commands: argparse._SubParsersAction) -> None:
    """Add ``skeleton`` to ``workbench evaluate`` and ``workbench predict``."""
    first, *others = declared.command_names
    ev = evaluate_commands.add_parser(first, aliases=others, help="skeleton action accuracy per stream and fused")
    _add_options(ev)
    ev.add_argument("--weights", help="fusion weights, e.g. j=2,b=2,jm=1 (default: the run's fusion_weights)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=evaluate)
    pr = predict_commands.add_parser(first, aliases=others, help="per-stream class scores (.npz)")
    _add_options(pr)
    pr.add_argument("--out", required=True, type=Path)
    pr.set_defaults(func=predict)
