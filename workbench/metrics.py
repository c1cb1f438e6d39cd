"""Evaluation metrics, one place for every study.

Pose-forecasting metrics take ``pred`` and ``target`` of shape
``(..., T, J * 3)`` (flattened xyz per frame, metres) and reduce over every
leading axis (people) and the frames.
"""

from __future__ import annotations

import torch

VIM_FRAMES: tuple[int, ...] = (1, 3, 7, 9, 13)
VIM_LABELS_MS: tuple[int, ...] = (100, 240, 500, 640, 900)


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.shape[-1] % 3:
        raise ValueError(f"last axis must hold xyz per joint, got {pred.shape[-1]} numbers")
    return pred, target


def _rms_joint_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per frame sqrt(sum_c (pred_c - target_c)^2 / J): shape (..., T)."""
    joints = pred.shape[-1] // 3
    return ((pred - target) ** 2).sum(-1).div(joints).sqrt()


def ade(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Average displacement error in metres.

    ADE = mean over people p and predicted frames t of
    sqrt( sum_{c=1..3J} (pred[p,t,c] - target[p,t,c])^2 / J ),
    i.e. the root-mean-square joint distance per frame, averaged.
    """
    pred, target = _check_pair(pred, target)
    return float(_rms_joint_error(pred, target).mean())


def fde(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Final displacement error in metres: the ADE term at the last frame only,
    averaged over people."""
    pred, target = _check_pair(pred, target)
    return float(_rms_joint_error(pred[..., -1:, :], target[..., -1:, :]).mean())


def frame_distances(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SoMoF per-frame distances (..., T), float64, in the inputs' unit:
    ``sqrt( sum_c (pred[..., t, c] - target[..., t, c])^2 )`` over all coordinates of a pose."""
    pred, target = _check_pair(pred, target)
    return ((pred - target) ** 2).sum(-1).sqrt()


def vim(pred: torch.Tensor, target: torch.Tensor, frames: tuple[int, ...] = VIM_FRAMES) -> list[float]:
    """SoMoF Visibility-Ignored Metric in centimetres at the given frame indices.

    VIM[t] = mean over people p of 100 * sqrt( sum_c (pred[p,t,c] - target[p,t,c])^2 ),
    reported at frames 1, 3, 7, 9, 13 (100, 240, 500, 640, 900 ms ahead).
    """
    per_frame = frame_distances(pred, target).mul(100.0)
    if max(frames) >= per_frame.shape[-1]:
        raise ValueError(f"VIM frame {max(frames)} is beyond the {per_frame.shape[-1]} predicted frames")
    per_frame = per_frame.reshape(-1, per_frame.shape[-1]).mean(0)
    return [float(per_frame[t]) for t in frames]


def mpjpe_mm(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-joint position error in millimetres.

    MPJPE = 1000 * mean over people, frames and joints j of || pred_j - target_j ||_2.
    """
    pred, target = _check_pair(pred, target)
    diff = (pred - target).reshape(*pred.shape[:-1], -1, 3)
    return float(diff.norm(dim=-1).mean() * 1000.0)


def forecast_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float | list[float]]:
    """All pose-forecasting metrics: ``ade`` and ``fde`` (m), ``vim_cm`` (cm, 5 horizons),
    ``mpjpe_mm`` (mm) and ``n_people``."""
    pred, target = _check_pair(pred, target)
    return {
        "vim_cm": vim(pred, target),
        "ade": ade(pred, target),
        "fde": fde(pred, target),
        "mpjpe_mm": mpjpe_mm(pred, target),
        "n_people": int(pred.reshape(-1, *pred.shape[-2:]).shape[0]),
    }


# ---------------------------------------------------------------------------------------------
# Hand forecasting (QUB-PHEO layout, :mod:`workbench.studies.hand_forecasting`).
#
# ``pred`` and ``target`` have shape (..., T, 84): per frame the x, y of 21 left then 21 right hand
# landmarks in feature units (u: normalised image coordinates re-centred and divided by 0.5, so
# 1 u is half the image width in x and half its height in y). ``mask`` (..., T, 2) marks the
# detected hands (left, right); None counts every hand. Every leading axis is a window.
# ---------------------------------------------------------------------------------------------

HAND_LANDMARKS = 21


def _hand_inputs(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pred, target) as (..., T, 2, 21, 2) float64 and the mask as (..., T, 2) float64."""
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.shape[-1] != 4 * HAND_LANDMARKS:
        raise ValueError(f"last axis must hold 84 numbers (2 hands x 21 landmarks x xy), got {pred.shape[-1]}")
    shape = (*pred.shape[:-1], 2, HAND_LANDMARKS, 2)
    if mask is None:
        weights = torch.ones(pred.shape[:-1] + (2,), dtype=torch.float64)
    else:
        weights = torch.as_tensor(mask).to(torch.float64)
        if weights.shape != pred.shape[:-1] + (2,):
            raise ValueError(f"mask shape {tuple(weights.shape)} does not fit prediction shape {tuple(pred.shape)}")
    return pred.reshape(shape), target.reshape(shape), weights


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> float:
    """sum(values * weights) / sum(weights); NaN when nothing is weighted."""
    total = weights.sum()
    return float((values * weights).sum() / total) if total > 0 else float("nan")


def hand_mpjpe_qub(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """The published QUB-PHEO "MPJPE" (u): per frame the Euclidean norm of the whole error vector,
    averaged over frames and windows. It is not a per-joint error (it grows with sqrt(84)).

    mpjpe_qub = mean over (window, frame) with a visible hand of
    sqrt( sum over visible hands h, landmarks j, coordinates c of (pred - target)^2 );
    without a mask every hand is visible and this is the norm of the 84-vector.
    """
    pred, target, weights = _hand_inputs(pred, target, mask)
    squared = ((pred - target) ** 2).sum((-1, -2))
    per_frame = (squared * weights).sum(-1).sqrt()
    return _masked_mean(per_frame, (weights.sum(-1) > 0).to(torch.float64))


def hand_mpjpe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean per-joint 2D error (u): mean over windows, frames and landmarks of visible hands of
    || pred_j - target_j ||_2 (the x, y distance of one landmark)."""
    pred, target, weights = _hand_inputs(pred, target, mask)
    per_joint = (pred - target).norm(dim=-1)
    return _masked_mean(per_joint, weights[..., None].expand_as(per_joint))


def _centroid_errors(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per (window, frame) the distance (u) between the predicted and true centroid of the
    landmarks of the visible hands, and whether any hand is visible (float)."""
    pred, target, weights = _hand_inputs(pred, target, mask)
    count = weights.sum(-1, keepdim=True).clamp(min=1) * HAND_LANDMARKS
    w = weights[..., None, None]
    centre_pred = (pred * w).sum((-3, -2)) / count
    centre_true = (target * w).sum((-3, -2)) / count
    return (centre_pred - centre_true).norm(dim=-1), (weights.sum(-1) > 0).to(torch.float64)


def centroid_ade(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Average displacement error (u) of the hands' centroid: mean over windows and frames (with
    a visible hand) of || c_pred - c_true ||_2, c the mean x, y of the visible hands' landmarks."""
    errors, valid = _centroid_errors(pred, target, mask)
    return _masked_mean(errors, valid)


def centroid_fde(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Final displacement error (u) of the hands' centroid: the centroid error at the last predicted
    frame, averaged over windows whose last frame shows a hand."""
    errors, valid = _centroid_errors(pred, target, mask)
    return _masked_mean(errors[..., -1], valid[..., -1])


def hand_forecast_metrics(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
                          ) -> dict[str, float | int]:
    """Every hand-forecasting metric (u): ``mpjpe_qub``, ``mpjpe``, ``ade``, ``fde``, and ``n_windows``."""
    windows = int(torch.as_tensor(pred).reshape(-1, *torch.as_tensor(pred).shape[-2:]).shape[0])
    return {
        "mpjpe_qub": hand_mpjpe_qub(pred, target, mask),
        "mpjpe": hand_mpjpe(pred, target, mask),
        "ade": centroid_ade(pred, target, mask),
        "fde": centroid_fde(pred, target, mask),
        "n_windows": windows,
    }


# Keypoint-detection metrics (2D, heatmap pixels) ------------------------------------------------

PCK_ALPHAS: tuple[float, ...] = (0.05, 0.1, 0.2)


def torso_diameter(keypoints: torch.Tensor, visible: torch.Tensor, shoulders: tuple[int, int],
                   hips: tuple[int, int]) -> torch.Tensor:
    """Per frame torso diameter (px): the mean of |L-shoulder - L-hip| and |R-shoulder - R-hip|.

    ``keypoints`` (..., K, 2) px, ``visible`` (..., K) bool, ``shoulders``/``hips`` the (left, right)
    indices. Frames without both shoulder-hip pairs visible get NaN. Returns (...,) float64.
    """
    kp = torch.as_tensor(keypoints, dtype=torch.float64)
    vis = torch.as_tensor(visible, dtype=torch.bool)
    left = (kp[..., shoulders[0], :] - kp[..., hips[0], :]).norm(dim=-1)
    right = (kp[..., shoulders[1], :] - kp[..., hips[1], :]).norm(dim=-1)
    ok = vis[..., shoulders[0]] & vis[..., hips[0]] & vis[..., shoulders[1]] & vis[..., hips[1]]
    return torch.where(ok, (left + right) / 2, torch.nan)


def _keypoint_distances(pred: torch.Tensor, target: torch.Tensor,
                        scored: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(||pred - target|| (F, K) px, scored (F, K) bool, target (..., K, 2) float64) for ``pred``,
    ``target`` (..., K, 2) px and ``scored`` (..., K), the leading dimensions flattened to F frames;
    a ValueError for other shapes."""
    pred = torch.as_tensor(pred, dtype=torch.float64)
    target = torch.as_tensor(target, dtype=torch.float64)
    scored = torch.as_tensor(scored, dtype=torch.bool)
    if pred.shape != target.shape or pred.shape[:-1] != scored.shape or pred.shape[-1] != 2:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must be (..., K, 2) and "
                         f"scored {tuple(scored.shape)} (..., K)")
    keypoints = scored.shape[-1]
    return (pred - target).norm(dim=-1).reshape(-1, keypoints), scored.reshape(-1, keypoints), target


def pck_counts(pred: torch.Tensor, target: torch.Tensor, scored: torch.Tensor, shoulders: tuple[int, int],
               hips: tuple[int, int], alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per keypoint counts behind :func:`pck`: (hits (K,), scored (K,), torso diameters (F,) px of the
    F frames with at least one scored keypoint). Arguments as in :func:`pck`."""
    distance, flat, target = _keypoint_distances(pred, target, scored)
    diameter = torso_diameter(target, torch.as_tensor(scored, dtype=torch.bool), shoulders, hips).reshape(-1)
    flat = flat & torch.isfinite(diameter)[:, None]
    correct = flat & (distance <= alpha * diameter[:, None])
    return correct.sum(0), flat.sum(0), diameter[flat.any(-1)]


def pck(pred: torch.Tensor, target: torch.Tensor, scored: torch.Tensor, shoulders: tuple[int, int],
        hips: tuple[int, int], alphas: tuple[float, ...] = PCK_ALPHAS) -> dict:
    """Percentage of correct keypoints.

    ``pred`` and ``target`` (..., K, 2) px, ``scored`` (..., K) bool (the ground truth exists and
    is annotated). A scored keypoint of a frame with a torso diameter d (see
    :func:`torso_diameter`, computed on ``target``) is correct at alpha when
    ||pred - target|| <= alpha x d; frames without a torso diameter are skipped.
    Returns ``pck`` {str(alpha): % of scored keypoints correct}, ``threshold_px`` {str(alpha):
    alpha x mean d over the frames with a scored keypoint, px} and ``n_keypoints`` (scored keypoints).
    """
    result: dict = {"pck": {}, "threshold_px": {}, "n_keypoints": 0}
    for alpha in alphas:
        hits, count, diameters = pck_counts(pred, target, scored, shoulders, hips, alpha)
        total = int(count.sum())
        result["pck"][str(alpha)] = 100.0 * int(hits.sum()) / total if total else float("nan")
        result["threshold_px"][str(alpha)] = alpha * float(diameters.mean()) if len(diameters) else float("nan")
        result["n_keypoints"] = total
    return result


PCK_PX_THESIS: tuple[float, ...] = (1.11, 2.23, 4.46)
"""The thesis's mean torso-relative thresholds (px in the 56 x 56 crop, its BRACE + Penn Action mix) at
alpha 0.05 / 0.1 / 0.2, used as fixed pixel thresholds so that tables can be read against its own."""


def pck_px_counts(pred: torch.Tensor, target: torch.Tensor, scored: torch.Tensor,
                  threshold_px: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per keypoint (hits (K,), scored (K,)) at a fixed distance: a scored keypoint is correct when
    ||pred - target|| <= ``threshold_px``. ``pred``, ``target`` (..., K, 2) px, ``scored`` (..., K) bool."""
    distance, flat, _ = _keypoint_distances(pred, target, scored)
    return (flat & (distance <= threshold_px)).sum(0), flat.sum(0)


def pck_px(pred: torch.Tensor, target: torch.Tensor, scored: torch.Tensor,
           thresholds_px: tuple[float, ...] = PCK_PX_THESIS) -> dict[str, float]:
    """PCK at fixed pixel thresholds: {str(t): % of the scored keypoints with ||pred - target|| <= t px}
    (every scored keypoint counts, with or without a torso diameter); NaN when none is scored."""
    distance, flat, _ = _keypoint_distances(pred, target, scored)
    total = int(flat.sum())
    return {f"{float(t):g}": 100.0 * int((flat & (distance <= float(t))).sum()) / total if total else float("nan")
            for t in thresholds_px}


# ---------------------------------------------------------------------------------------------
# Action classification (skeleton study): ``scores`` (N, K) class scores (any monotone score:
# probabilities or logits), ``labels`` (N,) integer classes in [0, K).
# ---------------------------------------------------------------------------------------------


def _check_scores(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(scores, dtype=torch.float64)
    labels = torch.as_tensor(labels, dtype=torch.long)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f"scores {tuple(scores.shape)} must be (N, K) and labels {tuple(labels.shape)} (N,)")
    if len(labels) and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must lie in [0, {scores.shape[1]})")
    return scores, labels


def top_k_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Percentage (%) of samples whose label is among the ``k`` highest scores (ties broken by
    class index, lower first)."""
    scores, labels = _check_scores(scores, labels)
    if len(labels) == 0:
        return float("nan")
    top = scores.topk(min(k, scores.shape[1]), dim=1, sorted=True).indices
    return 100.0 * float((top == labels[:, None]).any(dim=1).double().mean())


def confusion_matrix(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Counts (K, K) int64: entry [true class, predicted class] with the prediction = argmax score."""
    scores, labels = _check_scores(scores, labels)
    k = scores.shape[1]
    index = labels * k + scores.argmax(dim=1)
    return torch.bincount(index, minlength=k * k).view(k, k)


def mean_class_accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of each class's top-1 accuracy (%)."""
    matrix = confusion_matrix(scores, labels).double()
    counts = matrix.sum(dim=1)
    present = counts > 0
    if not present.any():
        return float("nan")
    return 100.0 * float((matrix.diagonal()[present] / counts[present]).mean())


def classification_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """``top1`` and ``top5`` accuracy and ``mean_class`` accuracy (all %), and ``n`` samples."""
    return {"top1": top_k_accuracy(scores, labels, 1), "top5": top_k_accuracy(scores, labels, 5),
            "mean_class": mean_class_accuracy(scores, labels), "n": int(len(labels))}


def error_correlation(scores: list[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Pairwise Pearson correlation (S, S) of the classifiers' top-1 error indicators
    ``e_s = [argmax scores_s != label]`` over the N samples: ``corr(e_a, e_b) = cov(e_a, e_b) /
    (std(e_a) std(e_b))``, 1 on the diagonal; NaN for a pair where a classifier makes no error (or
    errs everywhere), whose indicator has no variance. Low correlation means the classifiers err on
    different samples, which is what an ensemble of them can fix."""
    checked = [_check_scores(s, labels) for s in scores]
    errors = torch.stack([(s.argmax(dim=1) != y).double() for s, y in checked])
    centred = errors - errors.mean(dim=1, keepdim=True)
    norm = centred.norm(dim=1)
    return (centred @ centred.T) / (norm[:, None] * norm[None, :])
