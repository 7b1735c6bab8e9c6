"""The build config: a YAML file validated with pydantic before any work starts.

Unknown keys and bad values are errors with the path of the offending key. Relative paths are
read relative to the config file's folder, so a config and its data can move together.
One module per group of sections: inputs, stages (audio, attributes, captions), quality (CLAP),
output (split, shards, resources, errors); load.py holds the whole config and reads it. The
sections `quality`, `remote`, `youtube` and the manifests' `columns` are the stages' own settings
types (transforms/), embedded as they are: each setting is defined once, with its stage.
"""

from tunescribe.pipelines.config.base import ConfigError
from tunescribe.pipelines.config.inputs import FolderInput, ManifestInput
from tunescribe.pipelines.config.load import BuildConfig, check_inputs, load_config
from tunescribe.pipelines.config.output import ResourcesConfig

__all__ = ["BuildConfig", "ConfigError", "FolderInput", "ManifestInput", "ResourcesConfig", "check_inputs",
           "load_config"]
