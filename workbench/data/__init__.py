"""Data formats, loaders and procedural generators."""
