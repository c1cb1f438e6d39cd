"""The procedural generators behind every study's embedded default data."""
