"""The training engine shared by every study: devices and seeding, atomic
checkpoints with full training state, and the fit loop."""
