"""Script commands of the skeleton study: ``workbench evaluate skeleton`` and ``workbench predict skeleton``."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench import metrics
from workbench.engine.runtime import resolve_device
from workbench.errors import ConfigError
from workbench.studies import skeleton_ensembles as study
from workbench.studies.skeleton_ensembles import ensembles

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


def _scores(args: argparse.Namespace) -> tuple[study.Config, study.SkeletonData, dict[str, np.ndarray]]:
    cfg, models = study.load_checkpoint(args.checkpoint)
    overrides = {"device": args.device, "progress": False}
    for name, value in (("dataset", args.dataset), ("data_path", args.data), ("layout", args.layout),
                        ("test_clips", args.test_clips)):
        if value is not None:
            overrides[name] = value
    cfg = replace(cfg, **overrides)
    cfg.check()
    streams = args.streams or list(models)
    unknown = [s for s in streams if s not in models]
    if unknown:
        raise ConfigError(f"{args.checkpoint}: no model for stream(s) {', '.join(unknown)}; it has {', '.join(models)}")
    data = study.load_data(cfg)
    device = resolve_device(cfg.device)
    scores = {s: study.predict_scores(models[s].to(device), data.sets[args.split], s, data.layout, cfg.bone_order)
              for s in streams}
    return cfg, data, scores


def evaluate(args: argparse.Namespace) -> int:
    """Print top-1 / top-5 / mean class accuracy (%) per stream and of their weighted fusion."""
    cfg, data, scores = _scores(args)
    labels = data.sets[args.split].labels
    weights = {**{s: float(cfg.fusion_weights.get(s, 1.0)) for s in scores}, **_parse_weights(args.weights)}
    result = {"split": args.split, "clips": int(len(labels)), "scores": "softmax probabilities",
              "streams": {s: metrics.classification_metrics(v, labels) for s, v in scores.items()}}
    if len(scores) > 1:
        fused = ensembles.fuse(scores, weights, list(scores))
        result["fused"] = {"weights": {s: weights[s] for s in scores}, **metrics.classification_metrics(fused, labels)}
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
    _, data, scores = _scores(args)
    clips = data.sets[args.split]
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
