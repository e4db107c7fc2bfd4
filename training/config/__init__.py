"""Run configuration: defaults.yaml (the schema), detector YAMLs, and the loader that merges them."""

from training.config.loader import DEFAULTS_PATH, config_to_yaml, load_config, save_config
from training.config.schema import ConfigError

__all__ = ["DEFAULTS_PATH", "ConfigError", "config_to_yaml", "load_config", "save_config"]
