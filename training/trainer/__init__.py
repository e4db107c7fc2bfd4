"""Training loop, evaluation, checkpoints, LR schedules and distributed helpers."""
