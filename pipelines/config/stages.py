"""Config sections for the attribute, tagging and caption stages. (Decoding, cutting and the audio
stats are their stages' own settings types: transforms/audio/settings.py.)"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field

from tunescribe.pipelines.config.base import Section
from tunescribe.pipelines.config.caption_models import CaptionModels
from tunescribe.transforms.attributes.settings import TaggerSettings
from tunescribe.transforms.captions.prompts import LP_MUSICCAPS_TASKS
from tunescribe.transforms.captions.settings import FALLBACK_TASK, TemplateCaptions


class AttributesConfig(Section):
    """Tempo, key and meter measured from the audio; `extractors: []` switches them off."""

    # librosa: ISC, the default. essentia: AGPL-3.0, optional (`pip install essentia`), off by default.
    extractors: list[Literal["librosa", "essentia"]] = ["librosa"]
    key_profile: Literal["albrecht", "krumhansl", "temperley"] = "albrecht"  # librosa's key profiles


class TaggingConfig(TaggerSettings):
    """An audio tagger whose labels become scored tags; off unless `model` is set.

    `model: yamnet` (or a folder holding model.onnx + yamnet_class_map.csv, as `tunescribe models
    fetch yamnet` makes) runs YAMNet (transforms/attributes/yamnet_tags.py: pooled, ranked, drums
    from the signal; top_k, threshold and activation do not apply). Anything else is a Hugging Face
    audio-classification model (hub id or folder)."""

    model: Optional[str] = None  # "yamnet", hub id or local folder (relative to the config file)
    batch_size: int = Field(8, ge=1)


class CaptionsConfig(Section):
    template: Union[bool, TemplateCaptions] = True  # true: the offline captioner as below; false: off
    models: CaptionModels = []  # model captioners, run after the template; see config/caption_models.py

    def offline(self) -> Optional[TemplateCaptions]:
        """The offline captioner's settings with its tasks resolved; None when it writes nothing."""
        if self.template is False:
            return None
        settings = TemplateCaptions() if self.template is True else self.template
        if settings.tasks is None:  # a task a model writes is left to the model
            taken = {task for model in self.models for task in getattr(model, "tasks", ())}
            free = [t for t in LP_MUSICCAPS_TASKS if t not in taken]
            settings = settings.model_copy(update={"tasks": free or [FALLBACK_TASK]})
        return settings if settings.tasks else None
