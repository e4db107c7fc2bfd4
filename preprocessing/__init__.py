"""FBI-CLIP preprocessing: entry scripts plus the `fbi_prep` library."""
