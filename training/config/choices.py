"""The fixed choice sets of config keys: one list each, read by the schema and by the code using them.

`schema.ENUMS` checks a config against these; the trainer, the dataset, the index, the metrics,
the optimiser/AMP builders and the scheduler import the same names, so a new choice is added here and
implemented there — `tests/test_choices.py` checks every choice is accepted by its code.
"""

from __future__ import annotations

OPTIMIZERS = ("adam", "adamw", "sgd")  # optimizer.type
LR_SCHEDULERS = (None, "cosine", "step")  # lr_scheduler (null: constant after warm-up)
AMP_MODES = ("auto", "bf16", "fp16", "off")  # amp
SELECT_ON = ("val", "test")  # select_on: the split checkpoints are selected on
VIDEO_AGGS = ("mean", "max", "median")  # video_agg: frame probabilities → one per video
BAD_FRAME_POLICIES = ("error", "drop")  # bad_frame_policy
IDENTITY_RULES = ("target", "source", "video")  # identity_rule
AUGMENT_ON = ("workers", "device")  # augment_on: where data_aug runs (training.dataset.loaders)
SAMPLERS = ("random", "balanced", "paired")  # sampler (training/dataset/samplers.py)
IDENTITY_ATTACH = ("cls", "z", "both")  # fbi_clip model.identity.attach: where the GRL identity head reads
GRL_RAMPS = ("dann", "linear", "constant")  # fbi_clip model.identity.ramp: λ(progress) schedule of the GRL
# metric_scoring → (metrics.json key, higher is better): what checkpoint selection compares.
METRIC_SCORING: dict[str, tuple[str, bool]] = {
    "auc": ("frame_auc", True),
    "eer": ("frame_eer", False),
    "ap": ("frame_ap", True),
    "acc": ("frame_acc", True),
    "video_auc": ("video_auc", True),
}
