"""The K models of a K-fold cross-validation, used as one classifier."""

from __future__ import annotations

import math

import torch
from torch import nn


class FoldEnsemble(nn.Module):
    """Mean of the members' class probabilities, returned as log-probabilities.

    ``forward(x)`` = ``log((1/K) sum_k softmax(member_k(x)))`` (N, num_classes), so a softmax of the
    output gives the fold-mean probabilities and callers that apply a softmax to any classifier's
    logits get the cross-validated prediction unchanged. State-dict keys are ``members.<k>.<name>``.
    """

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a fold ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logs = torch.stack([torch.log_softmax(m(x), dim=-1) for m in self.members])
        return torch.logsumexp(logs, dim=0) - math.log(len(self.members))
