"""What both `training` and `preprocessing` use: paths, logging, errors, the CLI wrapper, atomic writes.

Neither package imports the other's internals; anything they share lives here.
"""
