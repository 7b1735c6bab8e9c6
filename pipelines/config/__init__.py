"""The build config: a YAML file validated with pydantic before any work starts.

Unknown keys and bad values are errors with the path of the offending key. Relative paths are
read relative to the config file's folder, so a config and its data can move together.
One module per group of sections: inputs, stages (audio, attributes, captions), quality,
output (split, shards, resources, errors); load.py holds the whole config and reads it.
"""

from tunescribe.pipelines.config.base import (
    ConfigError, Section, parse_size, resolve_path,
)
from tunescribe.pipelines.config.inputs import (
    Columns, FolderInput, Input, ManifestInput, RemoteConfig, YoutubeConfig,
)
from tunescribe.pipelines.config.stages import (
    AttributesConfig, AudioConfig, CaptionsConfig, OfflineTask, SegmentConfig, StatsConfig, TaggingConfig,
    TemplateCaptionsConfig,
)
from tunescribe.pipelines.config.quality import (
    CaptionRulesConfig, ClapConfig, DedupConfig, EvalSetConfig, QualityConfig,
)
from tunescribe.pipelines.config.output import (
    ErrorsConfig, ResourcesConfig, ShardsConfig, SplitConfig,
)
from tunescribe.pipelines.config.load import (
    BuildConfig, check_inputs, load_config,
)

__all__ = [
    "ConfigError",
    "Section",
    "parse_size",
    "resolve_path",
    "Columns",
    "FolderInput",
    "Input",
    "ManifestInput",
    "RemoteConfig",
    "YoutubeConfig",
    "AttributesConfig",
    "AudioConfig",
    "CaptionsConfig",
    "OfflineTask",
    "SegmentConfig",
    "StatsConfig",
    "TaggingConfig",
    "TemplateCaptionsConfig",
    "CaptionRulesConfig",
    "ClapConfig",
    "DedupConfig",
    "EvalSetConfig",
    "QualityConfig",
    "ErrorsConfig",
    "ResourcesConfig",
    "ShardsConfig",
    "SplitConfig",
    "BuildConfig",
    "check_inputs",
    "load_config",
]
