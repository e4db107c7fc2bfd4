"""Small shared utilities: repo-relative paths, logging, seeding."""
