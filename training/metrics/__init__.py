"""Deepfake-detection metrics (docs/DESIGN.md §5): computation, predictions/metrics files and summary tables."""

from training.metrics.core import VIDEO_AGGS, aggregate_videos, calibrate_threshold, compute_metrics
from training.metrics.io import (
    PREDICTION_COLUMNS,
    format_metric,
    format_metrics_table,
    format_summary_table,
    read_predictions_csv,
    write_metrics_json,
    write_predictions_csv,
)

__all__ = [
    "PREDICTION_COLUMNS",
    "VIDEO_AGGS",
    "aggregate_videos",
    "calibrate_threshold",
    "compute_metrics",
    "format_metric",
    "format_metrics_table",
    "format_summary_table",
    "read_predictions_csv",
    "write_metrics_json",
    "write_predictions_csv",
]
