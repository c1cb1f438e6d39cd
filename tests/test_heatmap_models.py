"""Pretraining models: parameter counts stated in their docstrings, shapes, loss masking, training steps."""

from __future__ import annotations

import re

import pytest
import torch
from tolerances import assert_same_maths

from workbench.models import heatmap_models as hm
from workbench.models.heatmap_reference import reference_of
from workbench.models.registry import build_model, parameter_counts
from workbench.studies import pretrain


def _stated_count(cls: type) -> int:
    """The last 'N' of 'Parameters: ... = N' or 'Parameters: N' in the class docstring."""
    text = " ".join(cls.__doc__.split())
    match = re.search(r"Parameters: (?:[^.]*?= )?([\d,]+) for", text) or re.search(r"Parameters: ([\d,]+)", text)
    return int(match.group(1).replace(",", ""))


@pytest.mark.parametrize("name, cls", [("3dconv", hm.Conv3dDenoiser), ("bi_convlstm_s", hm.BiConvLSTMSum),
                                       ("bi_convlstm_c", hm.BiConvLSTMConcat), ("deciwatch", hm.DeciWatch),
                                       ("identity", hm.Identity)])
def test_parameter_counts_match_the_docstrings(name: str, cls: type) -> None:
    model = build_model("pretrain", name)
    assert isinstance(model, cls)
    assert parameter_counts(model)["total"] == _stated_count(cls)


def test_convlstm_count_formula_and_shapes() -> None:
    cell = hm.PeepholeConvLSTM()
    stated = _stated_count(hm.PeepholeConvLSTM)
    assert parameter_counts(cell)["total"] == stated == 8 * 9 * 625 + 8 * 25 + 7 * 25 * 56 * 56
    assert cell.input_conv.bias.shape == cell.hidden_conv.bias.shape == (100,)
    assert cell.peephole.shape == (3, 25, 56, 56) and cell.bias.shape == (4, 25, 56, 56)
    assert cell.bias[1].eq(1).all() and cell.peephole.eq(0).all()


@pytest.mark.parametrize("name, published", [("bi_convlstm_s", 1_875_666), ("bi_convlstm_c", 1_872_313),
                                             ("3dconv", 78_150)])
def test_parameter_counts_match_the_thesis_implementation(name: str, published: int) -> None:
    assert parameter_counts(build_model("pretrain", name))["total"] == published


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every parameter drawn at random (biases and peepholes no longer 0)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
    return model


@pytest.mark.numerics
@pytest.mark.parametrize("name", ["bi_convlstm_s", "bi_convlstm_c"])
def test_fast_convlstm_models_equal_their_straightforward_reference(name: str) -> None:
    # float64: the two forms' maths must agree; in fp32 their rounding differs with the CPU's kernels
    model = _randomised(build_model("pretrain", name, channels=6)).double()
    reference = reference_of(model)
    assert parameter_counts(reference)["total"] == parameter_counts(model)["total"]
    x = torch.rand(2, 5, 25, 56, 56, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fast_out, ref_out = model(x), reference(x)
    assert fast_out.abs().max() > 0.1
    assert_same_maths(fast_out, ref_out)
    fast_out.square().sum().backward()
    ref_out.square().sum().backward()
    fast_grad = model.forward_lstm.input_conv.weight.grad[:25]  # the input gate's slice
    assert_same_maths(fast_grad, reference.forward_lstm.x["i"].weight.grad)
    kp = torch.rand(2, 5, 25, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64) * 55
    vis, ann = torch.ones(2, 5, 25, dtype=torch.bool), torch.ones(2, 25, dtype=torch.bool)
    with torch.no_grad():  # the benchmark trains both through the same objective
        fast_loss, _ = model.objective(x, kp, vis, ann)
        ref_loss, _ = reference.objective(x, kp, vis, ann)
    assert_same_maths(fast_loss, ref_loss)


@pytest.mark.numerics
@pytest.mark.parametrize("frames", [5, 3])
def test_3dconv_as_time_toeplitz_2d_conv_equals_conv3d(frames: int) -> None:
    model = _randomised(hm.Conv3dDenoiser()).double()
    x = torch.rand(2, frames, 25, 20, 24, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = model(x)
    assert out.shape == x.shape and out.abs().max() > 0.1
    assert_same_maths(out, model.reference_forward(x))


@pytest.mark.numerics
def test_backward_direction_runs_from_the_last_frame() -> None:
    torch.manual_seed(0)
    cell = hm.PeepholeConvLSTM(channels=2, size=6).double()
    x = torch.rand(1, 4, 2, 6, 6, dtype=torch.float64)
    forward = cell(x)
    backward = cell(x.flip(1), reverse=True).flip(1)
    assert_same_maths(backward, forward)
    changed = x.clone()
    changed[:, -1] += 1
    assert torch.equal(cell(changed)[:, :-1], forward[:, :-1])  # causal forwards
    assert not torch.equal(cell(changed, reverse=True)[:, 0], cell(x, reverse=True)[:, 0])


def test_deciwatch_samples_frames_0_and_4_and_interpolates() -> None:
    model = hm.DeciWatch(embed=16, heads=2, layers=1)
    assert model.samples.tolist() == [0, 4]
    expected = torch.tensor([[1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0, 1.0]])
    assert torch.allclose(model.interpolation(), expected)
    x = pretrain.heatmaps.render(torch.rand(2, 5, 25, 2) * 55, torch.ones(2, 5, 25, dtype=torch.bool))
    x[0, :, 3] = 0
    recovered, denoised, present = model.eval().forward_coords(x)
    assert recovered.shape == (2, 5, 25, 2) and denoised.shape == (2, 2, 25, 2) and not present[0, :, 3].any()
    out = model(x)
    assert out.shape == x.shape and out[0, :, 3].abs().sum() == 0


def test_loss_masks_never_annotated_keypoints() -> None:
    torch.manual_seed(0)
    pred = torch.rand(2, 5, 25, 8, 8, requires_grad=True)
    target = torch.rand(2, 5, 25, 8, 8)
    annotated = torch.ones(2, 25, dtype=torch.bool)
    annotated[:, 1:3] = False
    loss = hm.masked_heatmap_mse(pred, target, annotated)
    changed = target.clone()
    changed[:, :, 1:3] = 1000.0
    assert torch.equal(loss, hm.masked_heatmap_mse(pred, changed, annotated))
    expected = ((pred - target)[:, :, [0, *range(3, 25)]] ** 2).sum() / pred.numel()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert pred.grad[:, :, 1:3].abs().sum() == 0 and pred.grad[:, :, 0].abs().sum() > 0
    xy = torch.zeros(1, 2, 2, requires_grad=True)
    coord = hm.masked_coordinate_mse(xy, torch.ones(1, 2, 2), torch.tensor([[True, False]]))
    assert coord.item() == pytest.approx(0.5)


@pytest.mark.parametrize("name", pretrain.MODELS)
def test_each_model_takes_a_training_step(name: str) -> None:
    cfg = pretrain.Config(model=name, channels=4, embed=16, layers=1, seed=1)
    model = pretrain.make_model(cfg)
    kp = torch.rand(2, 5, 25, 2) * 55
    vis = torch.ones(2, 5, 25, dtype=torch.bool)
    ann = torch.ones(2, 25, dtype=torch.bool)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss, _ = model.objective(pretrain.noisy_input(kp, vis, cfg), kp, vis, ann)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    _, maps = model.eval().objective(pretrain.noisy_input(kp, vis, cfg), kp, vis, ann, want_maps=True)
    assert maps.shape == (2, 5, 25, 56, 56) and (maps >= 0).all()
