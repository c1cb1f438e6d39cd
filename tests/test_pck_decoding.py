"""Sub-pixel keypoint decoding (argmax, quarter, DARK), PCK at fixed pixel thresholds and the identity
baseline against its noise model, on hand-made maps and the study's own pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from workbench import metrics
from workbench.data.layouts.keypoints25 import GROUPS
from workbench.data.transforms import heatmaps
from workbench.errors import ConfigError
from workbench.studies import pretrain


def _gaussian(x: float, y: float, sigma: float, size: int = 56) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")
    return 255.0 * torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_each_decoder_finds_a_sub_pixel_peak_to_its_precision(sigma: float) -> None:
    maps = _gaussian(20.3, 31.7, sigma)
    assert heatmaps.decode_coords(maps, "argmax").tolist() == [20.0, 32.0]
    quarter = heatmaps.decode_coords(maps, "quarter")
    assert quarter.tolist() == [20.25, 31.75]  # towards the higher neighbour on both axes
    dark = heatmaps.decode_coords(maps, "dark", sigma=1.0)
    assert (dark - torch.tensor([20.3, 31.7])).abs().max() < 0.05


def test_decoders_keep_whole_pixel_peaks_and_do_not_move_on_the_border() -> None:
    centred = torch.stack([_gaussian(12.0, 40.0, 1.0), _gaussian(0.0, 30.4, 2.0), torch.zeros(56, 56)])
    for method in heatmaps.DECODERS:
        decoded = heatmaps.decode_coords(centred, method)
        assert decoded[0].tolist() == pytest.approx([12.0, 40.0], abs=1e-4), method
        assert decoded[1, 0] == 0.0 and decoded[2].tolist() == [0.0, 0.0], method
    with pytest.raises(ConfigError, match="unknown decode 'soft'"):
        heatmaps.decode_coords(centred, "soft")


def test_dark_refines_the_higher_of_two_peaks_and_leaves_a_flat_map() -> None:
    two = _gaussian(20.4, 20.0, 1.0) + 0.9 * _gaussian(30.0, 20.0, 1.0)
    assert heatmaps.decode_coords(two, "dark").tolist() == pytest.approx([20.4, 20.0], abs=0.05)
    # close peaks merge under the smoothing: DARK reads the merged peak between them
    close = _gaussian(20.0, 20.0, 1.0) + _gaussian(22.0, 20.0, 1.0)
    assert heatmaps.decode_coords(close, "dark").tolist() == pytest.approx([21.0, 20.0], abs=0.05)
    assert heatmaps.decode_coords(torch.full((56, 56), 3.0), "dark").tolist() == [0.0, 0.0]


def test_pck_at_fixed_pixel_thresholds_by_hand() -> None:
    target = torch.zeros(1, 5, 2)
    pred = torch.tensor([[[1.0, 0.0], [1.5, 0.0], [0.0, 2.5], [3.0, 4.0], [1.0, 0.0]]])  # 1, 1.5, 2.5, 5, 1 px
    scored = torch.tensor([[True, True, True, True, False]])  # the last keypoint is not scored
    assert metrics.pck_px(pred, target, scored) == pytest.approx({"1.11": 25.0, "2.23": 50.0, "4.46": 75.0})
    assert metrics.pck_px(pred, target, scored, (5.0,)) == {"5": 100.0}
    hits, count = metrics.pck_px_counts(pred, target, scored, 2.0)
    assert hits.tolist() == [1, 1, 0, 0, 0] and count.tolist() == [1, 1, 1, 1, 0]


def test_noise_model_matches_a_direct_simulation_of_it() -> None:
    generator = torch.Generator().manual_seed(0)
    n = 400_000
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 40 + 8
    shifted = (u + 3.0 * torch.randn(n, 2, generator=generator, dtype=torch.float64)).round()
    distance = (shifted - u.round()).norm(dim=-1)
    model = heatmaps.identity_pck_model((1.11, 2.23, 4.46), 3.0)
    for t, value in model.items():
        assert value == pytest.approx(100.0 * float((distance <= float(t)).double().mean()), abs=0.3)
    assert heatmaps.identity_pck_model((1.0,), 0.0) == {"1": 100.0}


@pytest.fixture(scope="module")
def identity_outputs() -> tuple[pretrain.Config, dict]:
    cfg = pretrain.Config(model=pretrain.BASELINE, epochs=0, progress=False, synthetic_sequences=120)
    data = pretrain.load_data(cfg)
    net = pretrain.make_model(cfg)
    return cfg, data, net


@pytest.mark.parametrize("shift_scalar", [1.0, 2.0])
def test_the_identity_row_follows_the_noise_model(identity_outputs: tuple, shift_scalar: float) -> None:
    cfg, data, net = identity_outputs
    cfg = replace(cfg, shift_scalar=shift_scalar)
    result = pretrain.evaluate(net, data.splits["test"], cfg, "test")
    expected = pretrain.identity_noise_model(cfg)
    assert result["n_keypoints"] > 5000
    for t, value in expected.items():  # binomial noise of ~0.6 points at n > 5000; clipping at the crop edge
        assert result["pck_px"][t] == pytest.approx(value, abs=2.0), t


def test_decoding_applies_to_the_identity_alike(identity_outputs: tuple) -> None:
    cfg, data, net = identity_outputs
    windows = data.splits["test"].subset(range(40))
    argmax = pretrain.predict(net, windows, cfg, "test", progress=False)
    dark = pretrain.predict(net, windows, replace(cfg, decode="dark"), "test", progress=False)
    quarter = pretrain.predict(net, windows, replace(cfg, decode="quarter"), "test", progress=False)
    # the noisy maps are Gaussians at whole pixels: DARK finds their centres, the quarter shift moves off them.
    # Within 13 px of the border (the widest blur's 4-sigma reach) the renderer's reflection folds mass back
    # into the map and makes it lopsided, which DARK reads as a sub-pixel offset.
    inner = ((argmax["pred"] >= 13) & (argmax["pred"] <= 42)).all(-1)
    scored = argmax["scored"]
    assert (scored & inner).sum() > 1000
    assert (dark["pred"] - argmax["pred"])[scored & inner].abs().max() < 1e-3
    offsets = (quarter["pred"] - argmax["pred"])[scored].abs()
    assert set(offsets.unique().tolist()) <= {0.0, 0.25} and (offsets == 0.25).any()
    assert torch.equal(dark["truth"], argmax["truth"])


def test_tables_and_metrics_carry_both_pck_kinds(identity_outputs: tuple, tmp_path: Path) -> None:
    cfg, data, net = identity_outputs
    windows = data.splits["test"].subset(range(30))
    outputs = {"identity": pretrain.predict(net, windows, cfg, "test", progress=False)}
    results = {name: pretrain.summarize(o, (1.11, 2.23)) for name, o in outputs.items()}
    table = pretrain.results_table(results, {"1.11": 8.3, "2.23": 20.1})
    assert list(table.columns) == ["PCK@0.05 (%)", "PCK@0.1 (%)", "PCK@0.2 (%)", "PCK@1.11 px (%)",
                                   "PCK@2.23 px (%)"]
    assert table.loc[pretrain.THRESHOLD_ROW, "PCK@2.23 px (%)"] == 2.23
    assert table.loc["identity", "PCK@1.11 px (%)"] == results["identity"]["pck_px"]["1.11"]
    assert table.loc[pretrain.NOISE_MODEL_ROW, "PCK@2.23 px (%)"] == 20.1
    per_keypoint = pretrain.per_keypoint_table(outputs, threshold_px=2.23)
    assert per_keypoint.index.name == "PCK@2.23 px"
    hits, count = metrics.pck_px_counts(outputs["identity"]["pred"], outputs["identity"]["truth"],
                                        outputs["identity"]["scored"], 2.23)
    grouped = [i for members in GROUPS.values() for i in members]  # the total row covers the grouped keypoints
    assert per_keypoint.loc["total", "identity total (%)"] == pytest.approx(
        100.0 * float(hits[grouped].sum()) / float(count[grouped].sum()))
    payload = pretrain.save_results(tmp_path, cfg, data, results, [], net, None, None, per_keypoint)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test"]["identity"]["pck_px"] == payload["test"]["identity"]["pck_px"]
    assert saved["decode"] == "argmax" and "per_keypoint_pck_2.23px" in saved
    long = pretrain.fuse_runs([str(tmp_path)])
    fused = pretrain.sweep_tables(long)[1.0]
    assert fused.loc["identity", ("experiment 1", "PCK@2.23 px (%)")] == results["identity"]["pck_px"]["2.23"]
    assert fused.loc[pretrain.THRESHOLD_ROW, ("experiment 1", "PCK@1.11 px (%)")] == pytest.approx(1.11)


@pytest.mark.parametrize("values", [{"decode": "soft"}, {"pck_px": []}, {"pck_px": [1.0, -2.0]}, {"pck_px": "1"}])
def test_bad_decode_or_thresholds_are_config_errors(values: dict) -> None:
    with pytest.raises(ConfigError, match="decode|pck_px"):
        pretrain.Config(**values)


def test_the_dark_smoothing_is_the_renderers_gaussian() -> None:
    delta = torch.zeros(2, 56, 56, dtype=torch.float64)
    delta[0, 30, 12] = delta[1, 0, 55] = 1.0  # one inside, one in a corner (reflected mass)
    keypoints = torch.tensor([[12.0, 30.0], [55.0, 0.0]], dtype=torch.float64)
    rendered = heatmaps.render(keypoints, torch.ones(2, dtype=torch.bool), sigma=2.0, peak=1.0)
    torch.testing.assert_close(heatmaps.gaussian_blur(delta, 2.0), rendered, rtol=0, atol=1e-12)


def test_one_test_pass_reads_every_decoder_as_separate_passes_would(identity_outputs: tuple, tmp_path: Path) -> None:
    cfg, data, net = identity_outputs
    cfg = replace(cfg, compare_decode=["dark", "quarter", "argmax"])
    windows = data.splits["test"].subset(range(24))
    torch.manual_seed(0)
    model = pretrain.make_model(replace(cfg, model="3dconv"), "3dconv")
    outputs = {name: pretrain.predict(m, windows, cfg, "test", progress=False, compare=True)
               for name, m in (("identity", net), ("3dconv", model))}
    assert list(outputs["3dconv"]["by_decode"]) == ["argmax", "dark", "quarter"]  # the run's decode first, once
    assert list(pretrain.predict(model, windows, cfg, "test", progress=False)["by_decode"]) == ["argmax"]
    by_decoder = pretrain.decoder_results(outputs, (1.11, 2.23))
    for decoder in ("dark", "quarter"):
        alone = pretrain.predict(model, windows, replace(cfg, decode=decoder, compare_decode=[]), "test",
                                 progress=False)
        assert torch.equal(outputs["3dconv"]["by_decode"][decoder]["pred"], alone["pred"])
        assert by_decoder[decoder]["3dconv"]["pck_px"] == pretrain.summarize(alone, (1.11, 2.23))["pck_px"]
    table = pretrain.decoder_table(by_decoder)
    assert list(table.index) == [(m, d) for m in ("identity", "3dconv") for d in ("argmax", "dark", "quarter")]
    dark, argmax = by_decoder["dark"]["3dconv"]["pck_px"]["2.23"], by_decoder["argmax"]["3dconv"]["pck_px"]["2.23"]
    assert table.loc[("3dconv", "dark"), "PCK@2.23 px change (points)"] == pytest.approx(dark - argmax)
    assert (table.xs("argmax", level="decode").filter(like="change") == 0).all().all()
    results = {name: by_decoder["argmax"][name] for name in outputs}
    pretrain.save_results(tmp_path, cfg, data, results, [], model, by_decoder=by_decoder)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["test_by_decode"]["dark"]["3dconv"]["pck_px"] == pytest.approx(by_decoder["dark"]["3dconv"]["pck_px"])
    fused = pretrain.fused_decoders([str(tmp_path)])
    assert fused.loc[(1.0, 1, "3dconv", "quarter"), "PCK@1.11 px (%)"] == pytest.approx(
        by_decoder["quarter"]["3dconv"]["pck_px"]["1.11"])
    assert list(fused.index.get_level_values("model"))[:3] == ["identity"] * 3


def test_compare_decode_names_known_decoders() -> None:
    with pytest.raises(ConfigError, match="compare_decode"):
        pretrain.Config(compare_decode=["soft"])
    with pytest.raises(ConfigError, match="compare_decode"):
        pretrain.Config(compare_decode="dark")
