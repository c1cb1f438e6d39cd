"""Data, grouped by role: ``formats/`` (one reader per file format), ``layouts/`` (joint names and bone
trees), ``generators/`` (the procedural embedded default data), ``transforms/`` (windows, streams,
augmentation, heatmaps, conversions); ``many_files`` and ``number_checks`` are the helpers every reader
shares."""
