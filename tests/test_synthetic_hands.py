"""The generated hand clips: the object boxes announce the next reach target before the hand moves."""

from __future__ import annotations

import numpy as np

from workbench.data.generators import synthetic_hands


def _segments(present: np.ndarray) -> list[tuple[int, int]]:
    """(first, end) frame ranges where ``present`` (F,) is True."""
    edges = np.diff(np.concatenate([[0], present.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_a_piece_box_settles_on_the_table_before_a_hand_reaches_it() -> None:
    rng = np.random.default_rng(5)
    reached, settled, endings = 0, 0, []
    for _ in range(6):
        clip = synthetic_hands.simulate_clip(rng, 320)
        boxes = clip["bboxes"]
        wrists = np.stack([clip["left_landmarks"][:, 0, :2], clip["right_landmarks"][:, 0, :2]], axis=1)
        assert (boxes[:, 0, 2] > 0).all()  # slot 0: the assembly, always shown
        for slot in range(1, boxes.shape[1]):
            for first, end in _segments(boxes[:, slot, 2] > 0):
                centre = boxes[first:end, slot, :2]
                endings.append((centre[-1], boxes[end - 1, 0, :2], end == len(boxes)))
                still = np.flatnonzero(np.linalg.norm(centre[3:] - centre[:-3], axis=1) < 0.01)
                stop = first + int(still[0]) if len(still) else None
                if stop is None or stop + 100 > len(boxes):
                    continue
                settled += 1
                gap = np.linalg.norm(wrists[stop:stop + 100] - boxes[stop, slot, :2], axis=-1).min()
                reached += bool(gap < 0.05)
    assert settled >= 15
    assert reached >= 0.9 * settled
    # a piece box leaves the image at the assembly (placed) or at the top edge (taken back by the partner)
    for last, assembly, clip_ended in endings:
        assert clip_ended or np.linalg.norm(last - assembly) < 0.12 or last[1] < 0.1
