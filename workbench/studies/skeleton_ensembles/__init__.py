"""The skeleton action-recognition study with multi-stream ensembles (``notebooks/skeleton_ensembles.ipynb``).

One ST-GCN classifier per input stream (j, b, k, jm, bm, km; see
:mod:`workbench.data.transforms.skeleton_streams`), trained through the shared engine; their softmax scores on
the validation and test splits are fused (:mod:`workbench.studies.skeleton_ensembles.ensembles`) with
fixed weights and with weights searched on the validation split only. Data: the generated default
(NTU-25 synthetic actions), Penn Action label files, or any PYSKL ``.pkl``.

The study's API, by module: :mod:`.config` (options and constants), :mod:`.data` (loading, splits
and folds), :mod:`.training` (training and scoring streams), :mod:`.reuse` (streams of earlier runs
and fold runs), :mod:`.replicas` (a stream trained again from other seeds, for stochastic boosting),
:mod:`.tables` (result tables), :mod:`.results` (the run's files and checkpoint); :mod:`.cli` holds
the ``workbench evaluate`` / ``predict`` commands and :mod:`.benchmark` the tables across runs of
several splits and seeds.
"""

from workbench.studies.skeleton_ensembles.config import (
    CHECKPOINT_FORMAT,
    DATASETS,
    STREAM_NAMES,
    STUDY,
    Config,
    apply_threads,
)
from workbench.studies.skeleton_ensembles.data import ClipSet, SkeletonData, fold_holdout, load_data, viewer_clips
from workbench.studies.skeleton_ensembles.results import load_checkpoint, output_dir, save_results
from workbench.studies.skeleton_ensembles.reuse import (
    SAME_DATA_OPTIONS,
    load_fold_runs,
    load_stream_run,
    reused_streams,
)
from workbench.studies.skeleton_ensembles.tables import (
    correlation_summary,
    error_correlation_table,
    history_frame,
    largest_ensemble_scores,
    results_table,
)
from workbench.studies.skeleton_ensembles.training import (
    StreamResult,
    augment,
    cross_validate_stream,
    make_model,
    predict_scores,
    run_stream,
    soft_cross_entropy,
    train_stream,
)

__all__ = [
    "CHECKPOINT_FORMAT", "DATASETS", "SAME_DATA_OPTIONS", "STREAM_NAMES", "STUDY", "ClipSet", "Config", "SkeletonData",
    "StreamResult", "apply_threads", "augment", "correlation_summary", "cross_validate_stream",
    "error_correlation_table", "fold_holdout",
    "history_frame", "largest_ensemble_scores", "load_checkpoint", "load_data", "load_fold_runs", "load_stream_run",
    "make_model", "output_dir", "predict_scores", "results_table", "reused_streams", "run_stream", "save_results",
    "soft_cross_entropy", "train_stream", "viewer_clips",
]
