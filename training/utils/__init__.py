"""Training-only utilities (seeding); what training and preprocessing share lives in `fbi_common`."""
