"""What both `training` and `preprocessing` use: paths, logging, errors, the CLI wrapper and console
scripts, atomic writes, the registry class, dataset and media facts, frame selection, video decoding
and the face path (detect → choose → landmarks → align → crop).

Neither package imports the other's internals; anything they share lives here.
"""
