"""Optional extractor: Essentia's tempo and key algorithms. Off by default.

LICENCE: Essentia is AGPL-3.0. Enabling this backend (attributes.extractors: [essentia]) makes
the corpus build depend on AGPL software; install it yourself with `pip install essentia`.
tunescribe neither requires nor ships it.

- tempo: `RhythmExtractor2013` with the "degara" beat tracker, which gives no confidence: the
  tempo's confidence is the regularity of the beat intervals;
- key: `KeyExtractor` with the "edma" profile, confidence = its key strength.
"""

from __future__ import annotations

import numpy as np

from tunescribe.schemas import Attribute
from tunescribe.transforms.attributes.base import AttributeExtractor, key_name, parse_key


class EssentiaExtractor(AttributeExtractor):
    name = "essentia"
    licence = "AGPL-3.0 (Essentia)"
    rate = 44100  # Essentia's rhythm algorithms assume 44.1 kHz
    _es = None  # essentia.standard once set up

    def setup(self) -> None:
        try:
            import essentia
            import essentia.standard as es
        except ImportError:
            raise RuntimeError("the essentia extractor needs Essentia (AGPL-3.0): pip install essentia") from None
        essentia.log.infoActive = False
        essentia.log.warningActive = False
        self._es, self._version = es, essentia.__version__
        self._rhythm = es.RhythmExtractor2013(method="degara")
        self._key = es.KeyExtractor(profileType="edma", sampleRate=self.rate)

    def version(self) -> str:
        return getattr(self, "_version", "")

    def extract(self, mono: np.ndarray) -> list[Attribute]:
        if self._es is None:
            self.setup()
        y = np.ascontiguousarray(mono, dtype=np.float32)
        out = []
        if y.shape[0] >= 4 * self.rate and np.any(y):
            bpm, _, _, _, intervals = self._rhythm(y)
            if bpm > 0:  # regularity: 1 - coefficient of variation of the beat intervals
                confidence = 1.0 - float(np.std(intervals) / np.mean(intervals)) if len(intervals) > 1 else 0.0
                out.append(self.attribute("tempo", number=round(float(bpm), 2), confidence=confidence))
        if np.any(y):
            key, scale, strength = self._key(y)
            tonic, mode = parse_key(f"{key} {scale}")
            out.append(self.attribute("key", value=key_name(tonic, mode), confidence=float(strength)))
        return out
