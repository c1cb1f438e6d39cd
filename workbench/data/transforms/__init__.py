"""From loaded data to model inputs: windows, skeleton streams, augmentation, heatmaps, format
conversions and mixes of training sources."""
