"""Joint layouts: joint names, bone trees, left/right pairs and groups."""
