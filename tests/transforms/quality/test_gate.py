"""The quality gate rejects on stored stats, with the first failing reason and all failures listed."""

import pytest

from tunescribe.schemas import Caption, Clip, Provenance
from tunescribe.transforms.quality.gate import QualityGate, QualityThresholds, check_clip
from tunescribe.transforms.stage import Rejected

CAP = Caption("A piano piece.", "template", "template", "p", "1")


def _clip(duration=10.0, silence=0.0, captions=(CAP,)):
    return Clip(key="k_00000", source_id="s", clip_index=0, start_s=0, end_s=duration, sample_rate=16000,
                channels=1, provenance=Provenance("m", "a", "v", "h"), captions=captions,
                stats={"duration_s": duration, "silence_ratio": silence})


def test_good_clip_passes():
    assert len(list(QualityGate().process(_clip()))) == 1
    assert check_clip(_clip(), QualityThresholds()) == []


@pytest.mark.parametrize("clip,reason", [
    (_clip(duration=1.0), "too_short"),
    (_clip(silence=0.95), "too_silent"),
    (_clip(captions=(Caption(" ", "template", "template", "p", "1"),)), "no_caption"),
    (_clip(captions=()), "no_caption"),
])
def test_failures(clip, reason):
    with pytest.raises(Rejected) as exc:
        list(QualityGate().process(clip))
    assert exc.value.reason == reason


def test_all_failures_are_listed_and_thresholds_apply():
    failures = check_clip(_clip(duration=1.0, silence=1.0, captions=()), QualityThresholds())
    assert [r for r, _ in failures] == ["too_short", "too_silent", "no_caption"]
    assert check_clip(_clip(duration=1.0), QualityThresholds(min_duration_s=0.5)) == []
    assert check_clip(_clip(captions=()), QualityThresholds(require_caption=False)) == []
