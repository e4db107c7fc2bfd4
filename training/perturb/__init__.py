"""Robustness protocols (DeeperForensics-1.0 and the image-level sweep): perturbations, readers, runs, reports."""
