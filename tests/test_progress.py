"""Training progress: the engine's events in the runner's progress file, and the lines ``workbench run`` prints
from them (one per epoch, with losses, the monitored metric, elapsed and remaining time)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from workbench import terminal
from workbench.engine import progress
from workbench.engine.progress import PROGRESS_FILE_ENV, BarProgress, FileProgress, open_progress, task_progress
from workbench.engine.trainer import TrainConfig, Trainer
from workbench.terminal import ProgressMonitor, clock


def _data() -> TensorDataset:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(48, 3, generator=g)
    return TensorDataset(x, x.sum(1, keepdim=True))


def _loss(model: nn.Module, batch: tuple) -> tuple[torch.Tensor, dict]:
    x, y = batch
    return torch.mean((model(x) - y) ** 2), {"abs": float(torch.mean(torch.abs(model(x) - y)).detach())}


def _val(model: nn.Module) -> dict:
    x, y = _data().tensors
    return {"val_loss": float(torch.mean((model(x) - y) ** 2))}


def _fit(tmp_path: Path, progress: bool, epochs: int = 3, **options) -> list[dict]:
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=epochs, batch_size=16, lr=0.05, scheduler="none", seed=0, progress=progress, **options)
    return Trainer(nn.Linear(3, 1), cfg, _loss, _val).fit(_data())


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fit_reports_to_the_progress_file_and_prints_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture) -> None:
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(path))
    history = _fit(tmp_path, progress=True)
    events = _events(path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "fit" and kinds[-1] == "end" and kinds.count("epoch") == 3
    assert "batch" in kinds  # the first batch is always reported
    fit = events[0]
    assert (fit["label"], fit["epochs"], fit["start_epoch"], fit["monitor"]) == ("Linear", 3, 0, "val_loss")
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["row"] for e in epochs] == history
    best = min(range(3), key=lambda i: history[i]["val_loss"])
    assert epochs[-1]["best"] == pytest.approx(history[best]["val_loss"]) and epochs[-1]["best_epoch"] == best + 1
    assert all(e["label"] == "Linear" for e in events)
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing for the notebook to keep


def test_progress_label_and_progress_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(path))
    _fit(tmp_path, progress=False)
    assert not path.exists()
    _fit(tmp_path, progress=True, epochs=1, progress_label="ablation hands")
    assert {e["label"] for e in _events(path)} == {"ablation hands"}
    path.unlink()
    _fit(tmp_path, progress=True, epochs=1, checkpoint_path=str(tmp_path / "train_j.pt"))
    assert _events(path)[0]["label"] == "Linear (train_j.pt)"


def test_bars_outside_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROGRESS_FILE_ENV, raising=False)
    assert isinstance(open_progress(True), BarProgress)
    assert type(open_progress(False)).__name__ == "Progress"
    monkeypatch.setenv(PROGRESS_FILE_ENV, "/tmp/somewhere.jsonl")
    assert isinstance(open_progress(True), FileProgress)


def _write(path: Path, *events: dict) -> None:
    with path.open("a") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")


FIT = {"event": "fit", "label": "DeRPoF", "epochs": 3, "start_epoch": 0, "monitor": "val_loss", "time": 1000.0}


def _lines(stream: io.StringIO) -> list[str]:
    """The monitor's lines without its once-per-fit speed estimate (tested on its own below)."""
    return [line for line in stream.getvalue().splitlines() if "for the whole fit" not in line]


def _epoch(epoch: int, when: float, val: float) -> dict:
    row = {"epoch": epoch, "lr": 0.001, "train_loss": 0.5 / epoch, "train_kl": 14.5, "val_loss": val,
           "val_ade": 2.0, "epoch_time_s": 9.5}
    return {"event": "epoch", "label": "DeRPoF", "row": row, "best": min(val, 0.3), "best_epoch": 1, "time": when}


def test_monitor_prints_one_line_per_epoch(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monitor = ProgressMonitor(path, stream, prefix="decoupled_3dpw: ")
    monitor.poll()  # no file yet: nothing
    _write(path, FIT, _epoch(1, 1010.0, 0.3), _epoch(2, 1020.0, 0.4))
    monitor.poll()
    _write(path, _epoch(3, 1030.0, 0.25), {"event": "end", "label": "DeRPoF", "stopped_early": False, "time": 1030.0})
    monitor.poll()
    lines = _lines(stream)
    assert lines[0] == "decoupled_3dpw: training DeRPoF: 3 epochs, monitoring val_loss"
    assert len(lines) == 4
    first, second, last = lines[1:]
    assert first.startswith("decoupled_3dpw: DeRPoF epoch 1/3  train_loss 0.5  val_loss 0.3 (best 0.3 @ 1)  val_ade 2")
    assert "train_kl" not in first  # other training logs stay in history.csv
    assert first.endswith("lr 0.001  9.5 s/epoch  elapsed 0:10  left ~0:20")
    assert second.endswith("elapsed 0:20  left ~0:10")
    assert "epoch 3/3" in last and last.endswith("elapsed 0:30  done")


def test_monitor_estimates_the_time_left_from_a_training_time_limit(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monitor = ProgressMonitor(path, stream, prefix="pretrain: ")
    fit = {**FIT, "epochs": 50, "time_limit_s": 30.0, "trained_s": 5.0}  # 5 s trained before a resume
    _write(path, fit, _epoch(1, 1010.0, 0.3), _epoch(2, 1020.0, 0.3), _epoch(3, 1030.0, 0.3))
    monitor.poll()
    start, first, second, third = _lines(stream)
    assert start == "pretrain: training DeRPoF: 50 epochs or 0:30 of training, monitoring val_loss"
    # 5 + 9.5 = 14.5 s trained, 15.5 s of budget left: two more epochs (9.5 s of training, 10 s of wall each)
    # pass it; after the second, 6 s left: one more
    assert first.endswith("elapsed 0:10  left ~0:20 (time limit)")
    assert second.endswith("elapsed 0:20  left ~0:10 (time limit)")
    assert third.endswith("elapsed 0:30  done")  # 33.5 s trained: the limit is passed


def test_monitor_joins_lines_written_in_pieces_and_reports_stops(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monitor = ProgressMonitor(path, stream)
    text = json.dumps({**FIT, "start_epoch": 1}) + "\n" + json.dumps(_epoch(2, 1010.0, 0.3))
    path.write_text(text[:-20])
    monitor.poll()
    with path.open("a") as handle:
        handle.write(text[-20:] + "\n")
    monitor.poll()
    _write(path, {"event": "end", "label": "DeRPoF", "stopped_early": True, "time": 1010.0})
    monitor.poll()
    assert _lines(stream) == [
        "training DeRPoF: 3 epochs, resumed after epoch 1, monitoring val_loss",
        "DeRPoF epoch 2/3  train_loss 0.25  val_loss 0.3 (best 0.3 @ 1)  val_ade 2  lr 0.001  9.5 s/epoch  "
        "elapsed 0:10  left ~0:10",
        "DeRPoF: stopped early after 2 of 3 epochs",
    ]


def test_monitor_estimates_speed_and_run_time_once_from_the_first_epoch(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monitor = ProgressMonitor(path, stream, prefix="decoupled_3dpw: ", hint="--preset quick")
    fit = {**FIT, "batch_size": 30, "unit": "people", "machine": "cpu: Test CPU, AVX2; 2 threads; fp32"}
    _write(path, fit, {"event": "batch", "label": "DeRPoF", "epoch": 1, "batch": 1, "batches": 19, "time": 1000.5},
           _epoch(1, 1010.0, 0.3), _epoch(2, 1020.0, 0.3))
    monitor.poll()
    estimates = [line for line in stream.getvalue().splitlines() if "for the whole fit" in line]
    # 9.5 s for 19 batches of 30 people: 60 people/s; 3 epochs of 9.5 s
    assert estimates == ["decoupled_3dpw: DeRPoF: 60 people/s, ~0:10 per epoch, ~0:28 for the whole fit (3 epochs) "
                         "on cpu: Test CPU, AVX2; 2 threads; fp32"]
    assert "note:" not in stream.getvalue()  # under an hour: no advice
    assert stream.getvalue().splitlines()[1] == estimates[0]  # before the first epoch line


def test_monitor_estimates_a_long_fit_from_its_batches_and_names_faster_settings(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monitor = ProgressMonitor(path, stream, prefix="pretrain: ", hint=terminal.faster_hint("pretrain"))
    fit = {**FIT, "label": "BiConvLSTMConcat", "epochs": 50, "batch_size": 16, "unit": "windows"}
    batch = {"event": "batch", "label": "BiConvLSTMConcat", "epoch": 1, "batches": 63}
    _write(path, fit, {**batch, "batch": 1, "time": 1000.0}, {**batch, "batch": 3, "time": 1010.0})
    monitor.poll()
    assert len(stream.getvalue().splitlines()) == 1  # 10 s measured: too soon to say
    _write(path, {**batch, "batch": 6, "time": 1025.0}, {**batch, "batch": 9, "time": 1040.0})
    monitor.poll()
    start, estimate, note = stream.getvalue().splitlines()
    # 5 s per batch of 16 windows: 3.2 windows/s; 63 batches: 5:15 per epoch; 50 epochs: 4:22:30
    assert estimate == ("pretrain: BiConvLSTMConcat: 3.2 windows/s, ~5:15 per epoch of training steps, "
                        "~4:22:30 for the whole fit (50 epochs)")
    assert note.startswith("pretrain: note: this fit takes about 4.4 h here; for a run of minutes use "
                           "workbench run pretrain --preset quick")
    assert "Training goes on" in note


def test_the_estimate_of_a_time_limited_fit_is_capped_by_the_limit(tmp_path: Path) -> None:
    stream = io.StringIO()
    monitor = ProgressMonitor(tmp_path / "none.jsonl", stream, hint="--preset quick")
    monitor.show({**FIT, "epochs": 500, "time_limit_s": 600.0, "trained_s": 100.0})
    monitor.show(_epoch(1, 1010.0, 0.3))
    estimate = next(line for line in stream.getvalue().splitlines() if "for the whole fit" in line)
    # 500 s of the limit left: 53 epochs of 9.5 s pass it (52 do not)
    assert "~8:24 for the whole fit (about 53 of 500 epochs: the time limit)" in estimate
    assert "note:" not in stream.getvalue()


def test_faster_hint_speaks_the_executors_language() -> None:
    assert "-f parameters/pretrain/quick.yaml" in terminal.faster_hint("pretrain", "papermill")
    assert "workbench run hand_forecasting --preset quick" in terminal.faster_hint("hand_forecasting")


def test_monitor_in_a_log_says_how_far_a_long_epoch_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    monkeypatch.setattr(terminal, "LOG_BATCH_INTERVAL_S", 0.0)
    _write(path, FIT, {"event": "batch", "label": "DeRPoF", "epoch": 1, "batch": 120, "batches": 400, "time": 1.0})
    ProgressMonitor(path, stream).poll()
    assert stream.getvalue().splitlines()[-1] == "DeRPoF epoch 1/3: batch 120/400"


def test_monitor_on_a_terminal_draws_a_batch_bar_and_keeps_the_epoch_lines(tmp_path: Path) -> None:
    path, stream = tmp_path / "progress.jsonl", io.StringIO()
    _write(path, FIT, {"event": "batch", "label": "DeRPoF", "epoch": 1, "batch": 3, "batches": 8, "time": 1.0},
           _epoch(1, 1010.0, 0.3))
    with ProgressMonitor(path, stream, live=True):
        pass  # leaving reads what is left in the file
    text = stream.getvalue()
    assert "DeRPoF epoch 1/3: " in text and "3/8" in text  # the bar
    assert "DeRPoF epoch 1/3  train_loss 0.5" in text


def test_clock() -> None:
    assert [clock(9.6), clock(75), clock(3725), clock(float("nan"))] == ["0:10", "1:15", "1:02:05", "?"]


def test_a_long_pass_reports_task_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(path))
    monkeypatch.setattr(progress, "BATCH_EVENT_INTERVAL_S", 0.0)
    with task_progress("Model on test", 10, "windows") as task:
        for _ in range(5):
            task.advance(2)
    events = _events(path)
    assert [(e["done"], e["finished"]) for e in events] == [(0, False), (2, False), (4, False), (6, False),
                                                            (8, False), (10, False), (10, True)]
    described = {(e["event"], e["label"], e["total"], e["unit"]) for e in events}
    assert described == {("task", "Model on test", 10, "windows")}
    monkeypatch.setattr(progress, "BATCH_EVENT_INTERVAL_S", 3600.0)
    with task_progress("Model on test", 10, "windows") as task:
        task.advance(10)
    assert [(e["done"], e["finished"]) for e in _events(path)[7:]] == [(0, False), (10, True)]  # throttled
    with task_progress("Model on test", 10, "windows", enabled=False) as task:
        task.advance(10)
    assert len(_events(path)) == 9


def test_monitor_in_a_log_prints_one_line_per_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monitor = ProgressMonitor(tmp_path / "progress.jsonl", stream, prefix="pretrain: ", live=False)
    short = {"event": "task", "label": "Identity on test", "total": 96, "unit": "windows"}
    for start in (100.0, 200.0):  # two short passes (under a second: only their first and last events)
        monitor.show({**short, "done": 0, "finished": False, "time": start})
        monitor.show({**short, "done": 96, "finished": True, "time": start + 0.4})
    assert stream.getvalue().splitlines() == ["pretrain: Identity on test: 96 windows in 0:00"] * 2
    stream.seek(0)
    stream.truncate()
    monkeypatch.setattr(terminal, "LOG_BATCH_INTERVAL_S", 0.0)  # a long pass: progress lines between
    long = {"event": "task", "label": "BiConvLSTMConcat on test", "total": 6353, "unit": "windows"}
    monitor.show({**long, "done": 0, "finished": False, "time": 100.0})
    monitor.show({**long, "done": 2000, "finished": False, "time": 400.0})
    monitor.show({**long, "done": 6353, "finished": True, "time": 1053.0})
    assert stream.getvalue().splitlines() == [
        "pretrain: BiConvLSTMConcat on test: 2,000/6,353 windows  elapsed 5:00  left ~10:53",
        "pretrain: BiConvLSTMConcat on test: 6,353 windows in 15:53",
    ]


def test_pretraining_test_pass_reports_windows_but_validation_inside_a_fit_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.studies import pretrain

    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(PROGRESS_FILE_ENV, str(path))
    cfg = pretrain.Config(model="3dconv", dataset="synthetic", synthetic_sequences=8, synthetic_frames=30, epochs=1)
    data = pretrain.load_data(cfg)
    net = pretrain.make_model(cfg)
    pretrain.train(net, data, cfg)
    assert not [e for e in _events(path) if e["event"] == "task"]
    pretrain.evaluate(net, data.splits["test"], cfg, "test")
    tasks = [e for e in _events(path) if e["event"] == "task"]
    assert tasks[0]["label"] == "Conv3dDenoiser on test" and tasks[-1]["finished"]
    assert tasks[-1]["done"] == tasks[-1]["total"] == len(data.splits["test"].keypoints)
