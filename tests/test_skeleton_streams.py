"""Stream transforms, normalisation and augmentations on hand-computed skeletons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.data.layouts.skeleton_layouts import NTU25, PENN13, Layout
from workbench.data.transforms import skeleton_augment as aug
from workbench.data.transforms.skeleton_streams import (
    make_stream,
    motion,
    normalise,
    random_sample_indices,
    sample_indices,
)

# a chain 0 <- 1 <- 2 <- 3 plus 4 attached to 1: depth 3
CHAIN = Layout("chain", ("root", "a", "b", "c", "L-x"), (-1, 0, 1, 2, 1), (), ((1,), (2,), (3,), (4,)), (0,))


def _points() -> torch.Tensor:
    # (N=1, M=1, T=2, V=5, C=2)
    x = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [4.0, 2.0], [0.0, 5.0]]])
    return torch.stack([x, x + 1.0], dim=1).unsqueeze(0)


def test_bones_are_joint_minus_parent_and_root_keeps_coordinates() -> None:
    x = _points()
    bones = make_stream(x, "b", CHAIN)
    expected = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [-1.0, 5.0]])
    torch.testing.assert_close(bones[0, 0, 0], expected)
    torch.testing.assert_close(make_stream(x, "k", CHAIN, bone_order=1), bones)


def test_second_order_bone_and_large_k() -> None:
    x = _points()
    second = make_stream(x, "k", CHAIN, bone_order=2)
    # joint minus grandparent; joints 0 and 1 have no grandparent and keep their coordinates
    expected = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0], [3.0, 2.0], [0.0, 5.0]])
    torch.testing.assert_close(second[0, 0, 0], expected)
    torch.testing.assert_close(make_stream(x, "k", CHAIN, bone_order=4), x)
    ntu = torch.randn(2, 2, 3, 25, 3)
    torch.testing.assert_close(make_stream(ntu, "k", NTU25, bone_order=NTU25.depth() + 1), ntu)
    torch.testing.assert_close(make_stream(ntu, "k", NTU25, bone_order=1), make_stream(ntu, "b", NTU25))


def test_motion_streams_are_frame_differences() -> None:
    x = _points()
    jm = make_stream(x, "jm", CHAIN)
    torch.testing.assert_close(jm[0, 0, 0], torch.ones(5, 2))
    assert jm[0, 0, 1].abs().sum() == 0
    torch.testing.assert_close(make_stream(x, "bm", CHAIN), motion(make_stream(x, "b", CHAIN)))
    # bones of a translated body do not move
    assert make_stream(x, "bm", CHAIN)[0, 0, 0, 1:].abs().sum() == 0


def test_sample_indices() -> None:
    assert sample_indices(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert sample_indices(10, 5, clip=0, num_clips=2).tolist() == [0, 2, 4, 6, 8]
    assert sample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]


def test_random_crops_take_one_frame_per_segment() -> None:
    rng = np.random.default_rng(0)
    crops = np.stack([random_sample_indices(100, 8, rng) for _ in range(200)])
    segment = np.arange(8) * 100 / 8
    assert (crops >= np.floor(segment)).all() and (crops < np.ceil(segment + 12.5)).all()
    assert (np.diff(crops, axis=1) >= 0).all()
    assert len({tuple(c) for c in crops}) > 150  # random, not the fixed middle of each segment
    assert abs(crops.mean(axis=0) - (segment + 6)).max() < 1.0  # uniform within each 12.5-frame segment
    again = random_sample_indices(100, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(again, crops[0])
    assert random_sample_indices(3, 6, rng).tolist() == [0, 0, 1, 1, 2, 2]


def test_pick_sampling_takes_one_whole_sampling_per_clip() -> None:
    x = torch.arange(4 * 3, dtype=torch.float32).view(4, 3, 1, 1, 1, 1).expand(4, 3, 2, 5, 3, 2).clone()
    picked = aug.pick_sampling(x, torch.Generator().manual_seed(1))
    assert picked.shape == (4, 2, 5, 3, 2)
    for n in range(4):
        values = picked[n].unique()
        assert len(values) == 1 and 3 * n <= values.item() < 3 * n + 3  # its own clip, one sampling
    choices = torch.stack([aug.pick_sampling(x, torch.Generator().manual_seed(s))[:, 0, 0, 0, 0] % 3
                           for s in range(30)])
    assert set(choices.flatten().tolist()) == {0, 1, 2}


def test_normalise_centres_scales_and_aligns() -> None:
    x = np.zeros((2, 2, 13, 2), np.float32)
    x[0] = np.arange(26, dtype=np.float32).reshape(13, 2) + 100
    out = normalise(x, PENN13, img_shape=(100, 200))
    centre = x[0, 0, [7, 8]].mean(axis=0)
    np.testing.assert_allclose(out[0, 0], (x[0, 0] - centre) / 100.0, rtol=1e-6)
    assert np.abs(out[1]).sum() == 0  # the absent person stays zero
    body = np.random.default_rng(0).normal(size=(1, 3, 25, 3)).astype(np.float32)
    aligned = normalise(body, NTU25, view_align=True)
    hips = aligned[0, 0, 12] - aligned[0, 0, 16]
    assert abs(hips[2]) < 1e-5 and hips[0] > 0
    np.testing.assert_allclose(aligned[0, 0, 0], 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(aligned, axis=-1), np.linalg.norm(body - body[0, 0, 0], axis=-1),
                               rtol=1e-4, atol=1e-5)


def test_flip_twice_is_identity_and_mirrors() -> None:
    x = torch.randn(4, 2, 3, 25, 3)
    once = aug.flip(x, NTU25, 1.0)
    torch.testing.assert_close(aug.flip(once, NTU25, 1.0), x)
    torch.testing.assert_close(once[..., 4, 0], -x[..., 8, 0])  # left shoulder <- mirrored right shoulder
    torch.testing.assert_close(once[..., 0, 1:], x[..., 0, 1:])
    torch.testing.assert_close(aug.flip(x, NTU25, 0.0), x)


def test_part_drop_zeros_exactly_one_limb() -> None:
    x = torch.ones(8, 1, 4, 13, 2)
    dropped = aug.part_drop(x, PENN13, 1.0, torch.Generator().manual_seed(0))
    for clip in dropped:
        zero = (clip.abs().sum(dim=(0, 1, 3)) == 0).nonzero().flatten().tolist()
        assert tuple(zero) in PENN13.limbs


@pytest.mark.parametrize("mode", ["blend", "swap"])
def test_mixed_labels_sum_to_one_and_match_the_mixture(mode: str) -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1, 1).expand(6, 1, 8, 25, 3).clone()
    y = torch.nn.functional.one_hot(torch.arange(6), 6).float()
    if mode == "blend":
        mixed, soft = aug.mixup(x, y, alpha=1.0, prob=1.0, gen=gen)
        # x was the class index: the mixed value equals the label-weighted class index
        torch.testing.assert_close(mixed[:, 0, 0, 0, 0], soft @ torch.arange(6.0))
    else:
        mixed, soft = aug.segment_swap(x, y, NTU25, prob=1.0, gen=gen)
        torch.testing.assert_close(mixed.mean(dim=(1, 2, 3, 4)), soft @ torch.arange(6.0))
        assert ((soft > 0).sum(1) <= 2).all()
    torch.testing.assert_close(soft.sum(1), torch.ones(6))
    assert (soft >= 0).all()
