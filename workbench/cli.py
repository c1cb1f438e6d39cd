"""The ``workbench`` command: run studies, evaluate and predict, count parameters, log runs to MLflow."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from workbench.data.transforms import skeleton_convert
from workbench.errors import RunInterrupted, WorkbenchError
from workbench.studies import declared, get_study


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
    from workbench.engine.distributed import world
    from workbench.runner import find_resumable, launch_distributed, run_study
    from workbench.tracking import require_mlflow, tracking_uri

    uri = tracking_uri(args.mlflow)
    if uri is not None:
        require_mlflow()  # before training, not after it
    if (args.resume is not None or args.extend is not None) and args.study == "all":
        raise WorkbenchError("--resume and --extend continue one run: name its study, not 'all'")
    if args.nproc > 1 and args.extend is not None:
        raise WorkbenchError("--extend runs in one process; --nproc is for new and resumed runs")
    if args.nproc > 1:
        resume = None
        if args.resume is not None:
            resume = find_resumable(args.study, None if args.resume == "latest" else args.resume).resolve()
        return launch_distributed(args.nproc, _worker_args(args, resume))
    studies = list(declared()) if args.study == "all" else [args.study]
    untracked = 0
    for study in studies:
        params = _collect_params(args, study)
        folder = run_study(study, params, progress=not args.quiet, resume=args.resume, extend=args.extend)
        if world().is_main:
            _print_result(study, folder)
            if uri is not None:
                untracked += not _track(folder, uri)
    return 2 if untracked else 0


def _print_result(study: str, folder: Path) -> None:
    """The run's headline result (as in its report's summary) and its folder."""
    from workbench.summary import build_summary

    headline = build_summary(folder, study, "complete").headline
    if headline is not None:
        print(f"{study}: {headline.sentence()}")
    print(f"{study}: complete -> {folder}")


def _track(folder: Path, uri: str) -> bool:
    """Log a run folder to MLflow; on failure say so (the run itself is complete) and return False."""
    from workbench.errors import TrackingError
    from workbench.tracking import log_run

    try:
        logged = log_run(folder, uri)
    except TrackingError as exc:
        print(f"workbench: error: {exc}\nthe run is complete; log it later with: workbench track {folder} "
              f"--mlflow {uri}", file=sys.stderr)
        return False
    print(f"{folder.name}: logged to MLflow at {uri}, run {logged.run_id} {logged.url}".rstrip())
    return True


def cmd_track(args: argparse.Namespace) -> int:
    from workbench.tracking import require_mlflow, tracking_uri

    uri = tracking_uri(args.mlflow)
    if uri is None:
        raise WorkbenchError("no MLflow tracking store: pass --mlflow URI (or a folder) or set MLFLOW_TRACKING_URI")
    require_mlflow()
    return 0 if all([_track(Path(run), uri) for run in args.runs]) else 2


def _worker_args(args: argparse.Namespace, resume: Any) -> list[str]:
    """The ``workbench run`` arguments each torchrun process gets (files made absolute)."""
    out = [args.study]
    if args.preset:
        out += ["--preset", args.preset]
    for path in args.param_file or []:
        out += ["-f", str(Path(path).resolve())]
    for name, value in args.param or []:
        out += ["-p", name, value]
    if args.quiet:
        out.append("--quiet")
    if args.mlflow:
        out += ["--mlflow", args.mlflow]
    if resume is not None:
        out += ["--resume", str(resume)]
    return out


def cmd_params(args: argparse.Namespace) -> int:
    from workbench.models.registry import build_model, canonical_study, parameter_counts
    from workbench.runner import study_config

    study = canonical_study(args.study)
    params = _collect_params(args, study)
    params = study_config(study).canonical(params)
    name = params.pop("model", None) or get_study(study).default_model
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
    run.add_argument("--preset", help="a parameter set, parameters/<study>/<preset>.yaml (ci, quick, full, ...)")
    run.add_argument("--quiet", action="store_true", help="show no progress (no epoch lines, no cell bar)")
    run.add_argument("--mlflow", metavar="URI", help="log the run to MLflow: a tracking URI, or a folder for a local "
                     "SQLite store (default $MLFLOW_TRACKING_URI; needs the mlflow extra)")
    run.add_argument("--resume", nargs="?", const="latest", metavar="RUN",
                     help="continue an interrupted or killed run (default: the latest of the study; or a run folder)")
    run.add_argument("--extend", metavar="RUN",
                     help="train a complete run further in a new run folder, from its last epoch, with its parameters "
                          "updated by -p/-f (e.g. -p time_limit_min 90: until its summed epoch times reach 90 min)")
    run.add_argument("--nproc", type=int, default=1, metavar="N",
                     help="train with N processes under torchrun (DistributedDataParallel; gloo on CPU, nccl on GPU)")
    _add_params(run)
    run.set_defaults(func=cmd_run)
    evaluate = sub.add_parser("evaluate", help="evaluate a model of a study; prints metrics (or JSON)")
    predict = sub.add_parser("predict", help="write a model's predictions in the study's submission layout")
    evaluate_commands = evaluate.add_subparsers(dest="study", required=True)
    predict_commands = predict.add_subparsers(dest="study", required=True)
    for study in declared().values():
        if study.register_cli is not None:
            study.register_cli(study, evaluate_commands, predict_commands)
    pa = sub.add_parser("params", help="parameter count per top-level module")
    pa.add_argument("study")
    _add_params(pa)
    pa.add_argument("--json", action="store_true")
    pa.set_defaults(func=cmd_params)
    convert = sub.add_parser("convert", help="convert NTU .skeleton, Kinetics-Skeleton JSON or Penn Action labels "
                             "into one PYSKL .pkl for the skeleton study; CMU mocap (cmu) into SoMoF 3DPW JSON files")
    skeleton_convert.add_arguments(convert)
    convert.set_defaults(func=skeleton_convert.run)
    track = sub.add_parser("track", help="log completed run folders to MLflow (needs the mlflow extra)")
    track.add_argument("runs", nargs="+", metavar="RUN", help="run folders, outputs/<study>/<time>_<model>")
    track.add_argument("--mlflow", metavar="URI", help="tracking URI, or a folder for a local SQLite store "
                       "(default $MLFLOW_TRACKING_URI)")
    track.set_defaults(func=cmd_track)
    report = sub.add_parser("report", help="give a complete run made by papermill or JupyterLab its executed "
                            "notebook and HTML report")
    report.add_argument("run", metavar="RUN", help="a run folder, outputs/<study>/<time>_<model>")
    report.add_argument("--notebook", metavar="PATH", help="the executed notebook (default: the one the run's "
                        "status.json names, papermill's output path or the notebook JupyterLab ran)")
    report.set_defaults(func=cmd_report)
    lb = sub.add_parser("leaderboard", help="one table per study of every completed run in outputs/")
    lb.add_argument("--outputs", metavar="DIR", help="folder to scan (default: outputs/ or $WORKBENCH_OUTPUTS)")
    lb.add_argument("--study", help="only this study")
    lb.add_argument("--csv", metavar="DIR", help="write <DIR>/<study>.csv per study")
    lb.add_argument("--html", metavar="PATH", help="write one self-contained HTML page with sortable tables")
    lb.add_argument("--json", action="store_true", help="print the tables and skipped folders as JSON")
    lb.set_defaults(func=cmd_leaderboard)
    return parser


def cmd_report(args: argparse.Namespace) -> int:
    from workbench.report import report_run

    print(f"wrote {report_run(args.run, args.notebook)}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from workbench.leaderboard import scan

    board = scan(args.outputs, args.study)
    written = [*(board.to_csv(args.csv) if args.csv else []), *([board.to_html(args.html)] if args.html else [])]
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print(json.dumps(board.to_json(), indent=2) if args.json else board.to_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RunInterrupted as exc:
        print(f"workbench: stopped: {exc}", file=sys.stderr)
        return 130
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
