"""Lists the audio files of a folder (local or any Beam filesystem) as source items."""

from __future__ import annotations

import posixpath
from typing import Optional

import apache_beam as beam
from apache_beam.io import fileio

from tunescribe.schemas import SourceItem

AUDIO_EXTENSIONS = (".aac", ".aif", ".aiff", ".flac", ".m4a", ".mp3", ".mp4", ".oga", ".ogg",
                    ".opus", ".wav", ".webm", ".wma")


def relative_id(path: str, root: str) -> str:
    root = root.rstrip("/") + "/"
    return path[len(root):] if path.startswith(root) else path


class ListAudioFolder(beam.PTransform):
    """All files under `root` (recursively) whose extension is an audio one -> SourceItem.

    Files with other extensions are not ingested (a folder of music often holds cover art and
    playlists); list them in a manifest to have them tried.
    """

    def __init__(self, root: str, input_index: int, licence: Optional[str] = None,
                 extensions: tuple[str, ...] = AUDIO_EXTENSIONS):
        super().__init__()
        self.root = root.rstrip("/")
        self.input_index = input_index
        self.licence = licence
        self.extensions = tuple(e.lower() for e in extensions)

    def expand(self, pbegin):
        root, index, licence, exts = self.root, self.input_index, self.licence, self.extensions
        return (
            pbegin
            | "Match" >> fileio.MatchFiles(root + "/**")
            | "AudioOnly" >> beam.Filter(lambda m: posixpath.splitext(m.path.lower())[1] in exts)
            | "ToItem" >> beam.Map(
                lambda m: SourceItem(
                    source_id=relative_id(m.path, root),
                    uri=m.path,
                    input_uri=root,
                    order=(index, relative_id(m.path, root)),
                    licence=licence,
                )
            )
        )
