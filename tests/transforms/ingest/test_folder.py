"""Folder listing: audio files under a root, recursively, with ids relative to the root."""

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from tunescribe.transforms.ingest.folder import ListAudioFolder


def test_lists_audio_files_recursively(tmp_path):
    for name in ("a.flac", "sub/b.OGG", "sub/deeper/c.wav", "cover.jpg", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    with beam.Pipeline() as p:
        items = p | ListAudioFolder(str(tmp_path), input_index=3, licence="CC-BY-4.0")
        assert_that(items | beam.Map(lambda i: (i.source_id, i.uri, i.order, i.licence, i.input_uri)), equal_to([
            (rel, f"{tmp_path}/{rel}", (3, rel), "CC-BY-4.0", str(tmp_path))
            for rel in ("a.flac", "sub/b.OGG", "sub/deeper/c.wav")
        ]))
