"""A compact ST-GCN-family action classifier.

Input ``x`` (N, M persons, T frames, V joints, C coordinates) -> class logits (N, K).
Each block: a spatial graph convolution over three normalised adjacency subsets (self, towards the
parent, towards the children; ``A_k`` column-normalised) plus a learnable refinement ``B_k``
(initialised to zero): ``y = BN(sum_k W_k x (A_k + B_k))``; then a multi-scale temporal
convolution (two dilated 5 x 1 branches with dilations 1 and 2, a 3 x 1 max-pool branch and a
1 x 1 branch, concatenated); residual connections around both. Features are averaged over time
and joints, then over persons, and a linear layer gives the logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from workbench.data.layouts.skeleton_layouts import Layout, get_layout


def adjacency_subsets(layout: Layout) -> torch.Tensor:
    """(3, V, V) float32: identity, child->parent and parent->child edges; each subset's columns
    are divided by their degree so that ``x @ A_k`` averages the neighbours it gathers."""
    v = layout.num_joints
    inward = torch.zeros(v, v)
    for child, parent in layout.edges:
        inward[child, parent] = 1.0
    outward = inward.t().clone()

    def column_normalise(a: torch.Tensor) -> torch.Tensor:
        return a / a.sum(0, keepdim=True).clamp(min=1.0)

    return torch.stack([torch.eye(v), column_normalise(inward), column_normalise(outward)])


class GraphConv(nn.Module):
    """Spatial graph convolution: (N, C_in, T, V) -> (N, C_out, T, V)."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.subsets = adjacency.shape[0]
        self.register_buffer("adjacency", adjacency.clone())
        self.refinement = nn.Parameter(torch.zeros_like(adjacency))
        self.conv = nn.Conv2d(c_in, c_out * self.subsets, 1)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.conv(x).view(n, self.subsets, -1, t, v)
        a = self.adjacency + self.refinement
        y = torch.einsum("nkctv,kvw->nctw", y, a)
        return self.bn(y)


class MultiScaleTemporal(nn.Module):
    """Multi-scale temporal convolution (N, C, T, V) -> (N, C_out, T / stride, V)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 5, dilations: tuple[int, ...] = (1, 2)):
        super().__init__()
        branches = len(dilations) + 2
        width = c_out // branches
        widths = [width] * (branches - 1) + [c_out - width * (branches - 1)]

        def entry(c: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]

        self.branches = nn.ModuleList()
        for c, d in zip(widths, dilations, strict=False):
            pad = (kernel + (kernel - 1) * (d - 1) - 1) // 2
            self.branches.append(nn.Sequential(*entry(c), nn.Conv2d(c, c, (kernel, 1), (stride, 1), (pad, 0), (d, 1)),
                                               nn.BatchNorm2d(c)))
        pool_c, point_c = widths[-2], widths[-1]
        self.branches.append(nn.Sequential(*entry(pool_c), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)),
                                           nn.BatchNorm2d(pool_c)))
        self.branches.append(nn.Sequential(nn.Conv2d(c_in, point_c, 1, (stride, 1)), nn.BatchNorm2d(point_c)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Block(nn.Module):
    """``relu(TCN(relu(GCN(x) + r1(x))) + r2(x))`` with 1 x 1 (strided) projections as residuals
    when the shape changes."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, stride: int = 1) -> None:
        super().__init__()
        self.gcn = GraphConv(c_in, c_out, adjacency)
        self.tcn = MultiScaleTemporal(c_out, c_out, stride)
        self.gcn_res = nn.Identity() if c_in == c_out else nn.Sequential(nn.Conv2d(c_in, c_out, 1),
                                                                           nn.BatchNorm2d(c_out))
        self.res = (nn.Identity() if c_in == c_out and stride == 1
                    else nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out)))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.gcn(x) + self.gcn_res(x))
        return self.relu(self.tcn(y) + self.res(x))


@dataclass
class StgcnConfig:
    """Sizes: ``base_channels`` doubles at each of ``stages`` (after the first), where time is
    halved; ``blocks_per_stage`` blocks per stage."""

    layout: str = "ntu25"
    in_channels: int = 3
    num_classes: int = 10
    base_channels: int = 32
    stages: int = 3
    blocks_per_stage: int = 2
    dropout: float = 0.0


class STGCN(nn.Module):
    """The classifier: (N, M, T, V, C) -> logits (N, K)."""

    def __init__(self, config: StgcnConfig) -> None:
        super().__init__()
        self.config = config
        layout = get_layout(config.layout)
        adjacency = adjacency_subsets(layout)
        v, c = layout.num_joints, config.in_channels
        self.data_bn = nn.BatchNorm1d(v * c)
        blocks, c_in = [], c
        for stage in range(config.stages):
            c_out = config.base_channels * 2**stage
            for i in range(config.blocks_per_stage):
                blocks.append(Block(c_in, c_out, adjacency, stride=2 if stage > 0 and i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(c_in, config.num_classes)

    def config_dict(self) -> dict:
        return asdict(self.config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m, t, v, c = x.shape
        x = self.data_bn(x.permute(0, 1, 3, 4, 2).reshape(n * m, v * c, t))
        x = x.view(n * m, v, c, t).permute(0, 2, 3, 1).contiguous()
        x = self.blocks(x)
        features = x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)
        return self.fc(self.dropout(features))
