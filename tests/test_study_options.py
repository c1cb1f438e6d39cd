"""Options declared once: each notebook's parameters cell agrees with its study's options class, the
engine's options come from them by name, and unknown names stop a run before anything runs."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from workbench import runner
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.settings import notebooks_dir
from workbench.studies import declared
from workbench.studies.base import StudyConfig

STUDIES = tuple(declared())


def _parameters_cell(study: str) -> dict[str, object]:
    notebook = json.loads((notebooks_dir() / f"{study}.ipynb").read_text())
    cell = next(c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)}


@pytest.mark.parametrize("study", STUDIES)
def test_parameters_cell_and_options_class_agree(study: str) -> None:
    cell = _parameters_cell(study)
    config = runner.study_config(study)
    assert list(cell) == [n for n in cell if n in config.option_names()]  # nothing extra in the cell
    assert set(cell) == set(config.option_names())
    defaults = dataclasses.asdict(config.from_mapping({}))
    differing = {name: (value, defaults[name]) for name, value in cell.items() if value != defaults[name]}
    assert differing == {}


def test_unknown_notebook_parameters_are_refused_with_the_closest_name() -> None:
    config = runner.study_config("decoupled_3dpw")
    with pytest.raises(ConfigError, match="unknown notebook parameter 'epochz'.*did you mean 'epochs'"):
        config.from_notebook({"epochs": 2, "epochz": 3})
    cfg = config.from_notebook({"epochs": 2, "json": json, "Path": Path, "_private": 1, "In": [], "display": print})
    assert cfg.epochs == 2
    with pytest.raises(ConfigError, match="unknown parameter 'qwerty' for the pretrain study$"):
        runner.study_config("pretrain").check_names(["qwerty"])


def test_unknown_run_parameter_fails_before_anything_runs(outputs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "decoupled_3dpw", "--preset", "ci", "-p", "epochz", "3"]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err
    assert not (outputs / "decoupled_3dpw").exists() or not any((outputs / "decoupled_3dpw").iterdir())


@dataclasses.dataclass
class _Options(StudyConfig):
    model: str = "a"
    epochs: int = 7
    lr: float = 0.5
    ALIASES = {"arch": "model"}


def test_engine_options_come_from_the_study_options_by_name() -> None:
    cfg = _Options(epochs=3, precision="bf16", seed=9)
    train = cfg.engine_options(lr=0.1, scheduler="cosine")
    assert (train.epochs, train.precision, train.seed, train.lr, train.scheduler) == (3, "bf16", 9, 0.1, "cosine")
    assert _Options.from_mapping({"arch": "b"}).model == "b"
    with pytest.raises(ConfigError, match="another name for 'model'"):
        _Options.from_mapping({"arch": "b", "model": "c"})
