"""FBI-CLIP training framework: config, data, detectors, trainer and metrics."""
