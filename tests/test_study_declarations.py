"""Studies declare themselves once; the runner, CLI, registry and leaderboard read that list."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import workbench.studies
from workbench import leaderboard, runner
from workbench.cli import build_parser
from workbench.errors import ConfigError
from workbench.models.registry import build_model, canonical_study
from workbench.studies import declared, get_study

TOY_INIT = '''
from dataclasses import dataclass
from workbench.studies.base import StudyConfig

@dataclass
class Config(StudyConfig):
    model: str = "const"
    epochs: int = 1
'''
TOY_DECLARATION = '''
from torch import nn
from workbench.studies.declaration import LeaderboardColumns, Study
from workbench.studies.toy_study import Config

def register(study, evaluate_commands, predict_commands):
    evaluate_commands.add_parser(study.command_names[0], aliases=list(study.command_names[1:]), help="toy scores")

STUDY = Study(name="toy_study", title="Toy", options=Config, aliases=("toy",),
              models={"const": lambda **_: nn.Linear(2, 1)}, default_model="const", register_cli=register,
              leaderboard=LeaderboardColumns(lambda config, metrics, path: {"score": metrics["score"]},
                                             "score", higher_is_better=True))
'''


def test_every_study_is_complete() -> None:
    studies = declared()
    assert list(studies) == sorted(studies) == list(runner.STUDIES) == list(leaderboard.STUDIES)
    for study in studies.values():
        assert study.notebook.is_file() and {"ci", "quick", "full"} <= set(study.presets())
        assert study.default_model in study.models and study.options.study_name() == study.name
        assert get_study(study.name) is study and all(get_study(a) is study for a in study.aliases)
    assert canonical_study("3dpw") == "decoupled_3dpw"
    with pytest.raises(ConfigError, match="unknown study 'nope'"):
        get_study("nope")


def test_a_new_study_package_is_found_everywhere_without_other_edits(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "toy_study"
    package.mkdir()
    (package / "__init__.py").write_text(TOY_INIT)
    (package / "declaration.py").write_text(TOY_DECLARATION)
    monkeypatch.setattr(workbench.studies, "__path__", [*workbench.studies.__path__, str(tmp_path)])
    declared.cache_clear()
    try:
        assert "toy_study" in declared() and get_study("toy").name == "toy_study"
        assert build_model("toy", "const").in_features == 2
        assert leaderboard.STUDIES["toy_study"].headline == "score"
        assert runner.study_config("toy_study").option_names()[-2:] == ["model", "epochs"]
        help_text = build_parser().format_help() + build_parser()._subparsers._group_actions[0].choices[
            "evaluate"].format_help()
        assert "toy (toy_study)" in help_text
        with pytest.raises(ConfigError, match="no notebook for study 'toy_study'"):
            runner.notebook_path("toy_study")
    finally:
        declared.cache_clear()
        for name in [m for m in sys.modules if m.startswith("workbench.studies.toy_study")]:
            del sys.modules[name]
