"""The error-ratio guard's settings (guard.py), embedded by the build config as its `errors`
section, with the stages it judges. Kept apart from the guard, which imports Beam: reading a
config must not."""

from __future__ import annotations

from pydantic import Field, field_validator

from tunescribe.transforms.settings import Settings

# stage -> how to read the number of elements that entered it from the run stats. "+self": the
# stage's output count plus its own failures (nothing counts what entered it directly).
ENTERING = {
    "ingest": ("sources", "ingested"),
    "fetch": ("stages", "unique"),
    "decode": ("stages", "fetched"),
    "segment": ("stages", "decoded"),
    "stats": ("stages", "clips"),
    "attributes": ("stages", "clips"),
    "tagging": ("stages", "clips"),
    "captions": ("stages", "measured"),
    "encode": ("stages", "encoded", "+self"),
}
JUDGED_STAGES = tuple(ENTERING)


class ErrorRatioGuard(Settings):
    """The config's `errors` section: a stage that fails on more than this share of the items (or
    clips) entering it stops the run before the corpus is finished, with a report. It decides
    whether a corpus is finished, not what is in it, so it is not in the config hash: a rerun with
    a raised ratio reuses the stopped run's work."""

    max_error_ratio: float = Field(0.5, gt=0, le=1)  # 1: off
    min_items: int = Field(20, ge=1)  # stages that saw fewer are not judged (one bad file in a tiny run)
    per_stage: dict[str, float] = {}  # stage -> its own ratio, e.g. {captions: 0.9}

    @field_validator("per_stage")
    @classmethod
    def _stages(cls, v):
        bad = sorted(set(v) - set(JUDGED_STAGES))
        if bad:
            raise ValueError(f"unknown stage(s) {bad}; judged stages: {', '.join(JUDGED_STAGES)}")
        if any(not 0 < r <= 1 for r in v.values()):
            raise ValueError("each ratio must be > 0 and <= 1 (1: off for that stage)")
        return v

    def limit(self, stage: str) -> float:
        return self.per_stage.get(stage, self.max_error_ratio)
