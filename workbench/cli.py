"""The ``workbench`` command: run studies, evaluate and predict, count parameters."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from workbench.errors import WorkbenchError
from workbench.studies import decoupled_3dpw_cli, hand_forecasting_cli, pretrain_cli, skeleton_ensembles_cli

STUDY_COMMANDS = [decoupled_3dpw_cli.register, hand_forecasting_cli.register, pretrain_cli.register,
                  skeleton_ensembles_cli.register]
"""Each study's ``register(evaluate_commands, predict_commands)`` adds its script commands."""


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


def cmd_params(args: argparse.Namespace) -> int:
    from workbench.models.registry import DEFAULT_MODEL, build_model, canonical_study, parameter_counts

    study = canonical_study(args.study)
    params = _collect_params(args, study)
    name = params.pop("model", None) or params.pop("arch", None) or DEFAULT_MODEL[study]
    model = build_model(study, str(name), **params)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a study notebook (or 'all') into outputs/<study>/<time>_<model>/")
    run.add_argument("study", help="a study (see notebooks/), or 'all'")
    run.add_argument("--preset", choices=["ci", "quick", "full"], help="parameters/<study>/<preset>.yaml")
    run.add_argument("--quiet", action="store_true", help="no cell progress bar")
    _add_params(run)
    run.set_defaults(func=cmd_run)
    evaluate = sub.add_parser("evaluate", help="evaluate a model of a study; prints metrics (or JSON)")
    predict = sub.add_parser("predict", help="write a model's predictions in the study's submission layout")
    evaluate_commands = evaluate.add_subparsers(dest="study", required=True)
    predict_commands = predict.add_subparsers(dest="study", required=True)
    for register in STUDY_COMMANDS:
        register(evaluate_commands, predict_commands)
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
