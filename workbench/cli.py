"""The ``workbench`` command: run studies, evaluate and predict, count parameters."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ConfigError, WorkbenchError


def parse_value(text: str) -> Any:
    """A parameter value from the command line: int, float, then YAML (bool, list, dict), else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _collect_params(args: argparse.Namespace, study: str) -> dict[str, Any]:
    from workbench.runner import preset_path, read_parameter_file

    params: dict[str, Any] = {}
    if getattr(args, "preset", None):
        params.update(read_parameter_file(preset_path(study, args.preset)))
    for path in getattr(args, "param_file", None) or []:
        params.update(read_parameter_file(path))
    for name, value in getattr(args, "param", None) or []:
        params[name] = parse_value(value)
    return params


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.runner import STUDIES, run_study

    studies = list(STUDIES) if args.study == "all" else [args.study]
    for study in studies:
        params = _collect_params(args, study)
        folder = run_study(study, params, progress=not args.quiet)
        print(f"{study}: complete -> {folder}")
    return 0


def _3dpw_config(args: argparse.Namespace):
    from workbench.studies import decoupled_3dpw as study

    if args.checkpoint and (args.checkpoint_g or args.checkpoint_l):
        raise ConfigError("give either --checkpoint or --checkpoint-g/--checkpoint-l, not both")
    return study, study.Config(
        model=args.model, data_dir=args.data, epochs=0, device=args.device, seed=args.seed,
        pretrained_g=args.checkpoint_g or "", pretrained_l=args.checkpoint_l or "", checkpoint=args.checkpoint or "",
        deterministic_eval=args.deterministic, progress=False,
    )


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from workbench.data import somof

    study, cfg = _3dpw_config(args)
    torch.manual_seed(args.seed)
    model = study.make_model(cfg).to(study.resolve_device(cfg.device))
    result = study.evaluate(model, somof.load_split(args.data, args.split), cfg.deterministic_eval)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.model} on {args.split} ({result['n_people']} people)")
        horizons = zip(study.metrics.VIM_LABELS_MS, result["vim_cm"], strict=True)
        print("VIM (cm) at " + ", ".join(f"{ms} ms: {v:.2f}" for ms, v in horizons))
        print(f"ADE {result['ade']:.4f} m   FDE {result['fde']:.4f} m   MPJPE {result['mpjpe_mm']:.1f} mm")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from workbench.data import somof

    study, cfg = _3dpw_config(args)
    torch.manual_seed(args.seed)
    model = study.make_model(cfg).to(study.resolve_device(cfg.device))
    split = somof.load_split(args.data, args.split)
    observed, _ = study.people(split)
    pred = study.predict(model, observed, cfg.deterministic_eval).numpy()
    somof.write_predictions(args.out, pred.reshape(split.inputs.shape[0], split.inputs.shape[1], *pred.shape[1:]))
    print(f"wrote {split.num_scenes} scenes x {split.inputs.shape[1]} people x 14 frames to {args.out}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from workbench.models.registry import DEFAULT_MODEL, build_model, canonical_study, parameter_counts

    study = canonical_study(args.study)
    params = _collect_params(args, study)
    model = build_model(study, str(params.pop("model", DEFAULT_MODEL[study])), **params)
    counts = parameter_counts(model)
    if args.json:
        print(json.dumps(counts))
    else:
        for name, n in counts["modules"].items():
            print(f"{name:<24}{n:>12,}")
        print(f"{'total':<24}{counts['total']:>12,}")
    return 0


def _add_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help="notebook parameter")
    p.add_argument("-f", "--param-file", action="append", metavar="YAML", help="YAML file of parameters")


def _add_3dpw_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", choices=["3dpw", "decoupled_3dpw"])
    p.add_argument("--data", required=True, help="folder in the SoMoF 3DPW layout")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--model", default="derpof", choices=["derpof", "zero_velocity", "constant_velocity"])
    p.add_argument("--checkpoint-g", help="published DeRPoF global state dict (.pkl)")
    p.add_argument("--checkpoint-l", help="published DeRPoF local state dict (.pkl)")
    p.add_argument("--checkpoint", help="a workbench checkpoint.pt")
    p.add_argument("--deterministic", action="store_true", help="use z = mean instead of sampling the VAE latent")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a study notebook (or 'all') into outputs/<study>/<time>_<model>/")
    run.add_argument("study", help="decoupled_3dpw, or 'all'")
    run.add_argument("--preset", choices=["ci", "quick", "full"], help="parameters/<study>/<preset>.yaml")
    run.add_argument("--quiet", action="store_true", help="no cell progress bar")
    _add_params(run)
    run.set_defaults(func=cmd_run)
    ev = sub.add_parser("evaluate", help="evaluate a model on a split with ground truth")
    _add_3dpw_model(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=cmd_evaluate)
    pr = sub.add_parser("predict", help="write predictions in the SoMoF submission layout")
    _add_3dpw_model(pr)
    pr.add_argument("--out", required=True, type=Path)
    pr.set_defaults(func=cmd_predict, split="test")
    pa = sub.add_parser("params", help="parameter count per top-level module")
    pa.add_argument("study")
    _add_params(pa)
    pa.add_argument("--json", action="store_true")
    pa.set_defaults(func=cmd_params)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
