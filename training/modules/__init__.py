"""Reusable network blocks and feature-space operations shared by detectors."""
