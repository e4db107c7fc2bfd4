"""Planning and running experiment series (ablations, the reproduction recipes) from the command line."""
