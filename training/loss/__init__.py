"""Loss functions, plain functions imported by the detectors that use them (weights in `model.loss_weights`)."""
