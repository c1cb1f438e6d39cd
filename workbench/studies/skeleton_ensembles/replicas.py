"""Replicas of a stream for stochastic boosting: the same stream trained again from another seed.

``replicas`` maps a stream to its number of models, e.g. ``{"j": 2, "b": 2, "k": 2}``. The first model
is the stream itself (name ``j``, the run's ``seed``); model ``i`` = 2, 3, ... is named ``j#i`` and
differs from it only by its seed, :func:`replica_seed` (initialisation, batch order, augmentation and
dropout draws); the data (hold-out, folds, temporal crops) stay those of the run's seed. An ensemble of
replicas of one stream is *stochastic* boosting, an ensemble of different streams *complementary*
boosting (SkeletonAgent's terms); :func:`replica_ensembles` names the stochastic ensembles at the model
counts the complementary ones have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SEPARATOR = "#"
SEED_STRIDE = 1000
"""Replica ``i`` trains with seed ``seed + 1000 (i - 1)``: far from the seeds of other runs (0, 1, 2, ...)."""


def replica_name(stream: str, index: int) -> str:
    """The model name of model ``index`` (1-based) of ``stream``: the stream itself for 1, ``stream#index``
    after."""
    return stream if index == 1 else f"{stream}{SEPARATOR}{index}"


def base_stream(name: str) -> str:
    """The stream a model name trains on: ``"j#2"`` -> ``"j"``, ``"j"`` -> ``"j"``."""
    return name.split(SEPARATOR, 1)[0]


def replica_index(name: str) -> int:
    """1 for a stream, ``i`` for its replica ``stream#i``."""
    _, _, index = name.partition(SEPARATOR)
    return int(index) if index else 1


def replica_seed(seed: int, name: str) -> int:
    """The training seed of model ``name`` in a run seeded ``seed``: ``seed + 1000 (i - 1)``."""
    return seed + SEED_STRIDE * (replica_index(name) - 1)


def model_names(streams: Sequence[str], replicas: Mapping[str, int]) -> list[str]:
    """Every model a run trains: the streams in order, then each stream's replicas 2 .. n in stream order
    (``["j", "b", "j#2", "b#2"]`` for streams j, b and replicas ``{j: 2, b: 2}``)."""
    extra = [replica_name(s, i) for i in range(2, max(replicas.values(), default=1) + 1)
             for s in streams if replicas.get(s, 1) >= i]
    return [*streams, *extra]


def fixed_weight(weights: Mapping[str, float], name: str) -> float:
    """A model's fixed fusion weight: its stream's (replicas weigh as their stream), 1 when unset."""
    return float(weights.get(name, weights.get(base_stream(name), 1.0)))


def counts(names: Sequence[str]) -> dict[str, int]:
    """Models per stream among ``names``, in stream order of first appearance."""
    out: dict[str, int] = {}
    for name in names:
        out[base_stream(name)] = out.get(base_stream(name), 0) + 1
    return out


def replica_ensembles(names: Sequence[str], val_top1: Mapping[str, float],
                      sizes: Sequence[int] = (2, 4, 6)) -> dict[str, list[str]]:
    """Stochastic ensembles of the models ``names`` (streams and replicas), ordered by model count:

    - ``"<s> x <m>"``: the first ``m`` models of stream ``s``, for every stream with ``m`` or more;
    - ``"best x <m>"``: the same for the stream whose first model has the best *validation* top-1
      (``val_top1``, never test) among streams with ``m`` models, when there are several (one name
      whichever stream it is, so that runs average; the table's weights column names the models);
    - ``"{<s1>, <s2>, ...} x <r>"``: the first ``r`` models of each of the first ``g`` >= 2 streams that
      have ``r`` or more (same-modality replicas of several streams),

    for each ``m`` (and ``g r``) in ``sizes``."""
    per_stream = counts(names)
    models = {s: [replica_name(s, i) for i in range(1, n + 1)] for s, n in per_stream.items()}
    found: dict[int, dict[str, list[str]]] = {}
    for m in sizes:
        tall = [s for s, n in per_stream.items() if n >= m]
        for s in tall:
            found.setdefault(m, {})[f"{s} x {m}"] = models[s][:m]
        if len(tall) > 1:
            best = max(tall, key=lambda s: val_top1.get(s, float("-inf")))
            found.setdefault(m, {})[f"best x {m}"] = models[best][:m]
        for r in range(2, m // 2 + 1):
            group = [s for s, n in per_stream.items() if n >= r]
            if m % r == 0 and len(group) >= m // r >= 2:
                chosen = group[: m // r]
                found.setdefault(m, {})["{" + ", ".join(chosen) + f"}} x {r}"] = [x for s in chosen
                                                                                   for x in models[s][:r]]
    return {name: members for m in sorted(found) for name, members in found[m].items() if m > 1}


SEED_PAIR, STREAM_PAIR = "two seeds of one stream", "two different streams"


def pair_kind(a: str, b: str) -> str | None:
    """What a pair of models compares: :data:`SEED_PAIR` for two models of one stream (``j``, ``j#2``),
    :data:`STREAM_PAIR` for the first models of two streams (``j``, ``b``), None otherwise (a replica
    against another stream)."""
    if base_stream(a) == base_stream(b):
        return SEED_PAIR
    return STREAM_PAIR if replica_index(a) == replica_index(b) == 1 else None


def mean_by_pair_kind(names: Sequence[str], correlations: Sequence[Sequence[float]]) -> dict[str, tuple[float, int]]:
    """{pair kind: (mean, count)} of the upper triangle of a (len(names), len(names)) matrix by
    :func:`pair_kind`; NaN entries are skipped, the mean of no pair is NaN."""
    values: dict[str, list[float]] = {SEED_PAIR: [], STREAM_PAIR: []}
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            kind = pair_kind(a, names[j])
            value = float(correlations[i][j])
            if kind is not None and value == value:
                values[kind].append(value)
    return {k: (sum(v) / len(v) if v else float("nan"), len(v)) for k, v in values.items()}
