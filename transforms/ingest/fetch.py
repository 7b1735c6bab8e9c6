"""The fetch stage: brings remote audio to a local temp file the decoder reads.

Which way an item's audio is fetched follows from its URI:
- a local path (or file://): nothing to fetch, the decoder opens it;
- http(s):// of a site yt-dlp has an extractor for (YouTube, Vimeo, SoundCloud...): yt-dlp,
  as a section when the item has a time range (youtube.py);
- any other http(s)://: a streamed GET (remote.py); if the answer is a web page rather than
  media, yt-dlp's generic extractor looks for the <audio>/<video> in it;
- any other scheme (gs://, s3://, ...): fsspec (remote.py).

The item goes on with `fetched` (the temp file) and `fetched_offset_s` (where in the source the
file begins); its key, uri and provenance stay those of the source. The decoder removes the
file once read. This relies on fetch and decode running fused in one worker, which Beam runners
do for consecutive ParDos.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import uuid
from urllib.parse import urlsplit

import apache_beam as beam

from tunescribe.schemas import SourceItem
from tunescribe.transforms.ingest.remote import fetch_http, fetch_object, http_filesystem, with_retries
from tunescribe.transforms.ingest.roots import is_local
from tunescribe.transforms.ingest.settings import RemoteOptions, YoutubeOptions
from tunescribe.transforms.ingest.youtube import download_audio, site_extractor_for


class FetchAudio(beam.DoFn):
    """SourceItem -> the same SourceItem with a local copy of its remote audio (see module doc)."""

    def __init__(self, remote: RemoteOptions = RemoteOptions(), youtube: YoutubeOptions = YoutubeOptions()):
        self.remote = remote
        self.youtube = youtube

    def setup(self):
        if self.remote.temp_dir:
            os.makedirs(self.remote.temp_dir, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="tunescribe-fetch-", dir=self.remote.temp_dir)
        self.http = None
        self.cookies = None
        if self.youtube.cookies:
            # yt-dlp writes cookies back on exit; parallel workers must not rewrite the user's file.
            self.cookies = os.path.join(self.dir, "cookies.txt")
            shutil.copyfile(self.youtube.cookies, self.cookies)

    def teardown(self):
        shutil.rmtree(getattr(self, "dir", ""), ignore_errors=True)

    def process(self, item: SourceItem):
        uri = item.uri
        if is_local(uri):
            yield item
            return
        dest = self._new_path(item)
        if urlsplit(uri).scheme not in ("http", "https"):
            fetch_object(uri, dest, self.remote)
            yield dataclasses.replace(item, fetched=dest)
            return
        if site_extractor_for(uri) is None:
            if self.http is None:
                self.http = http_filesystem(self.remote)
            if fetch_http(uri, dest, self.http, self.remote) != "html":
                yield dataclasses.replace(item, fetched=dest)
                return
            # a web page (nothing was saved): yt-dlp's generic extractor looks for the media in it
        yield self._ytdlp(item)

    def _new_path(self, item: SourceItem, suffix: str = ".audio") -> str:
        """A fresh name (created only once there is something to write: a failure leaves nothing)."""
        return os.path.join(self.dir, f"{item.key}-{uuid.uuid4().hex}{suffix}")

    def _ytdlp(self, item: SourceItem) -> SourceItem:
        def attempt():
            out_dir = tempfile.mkdtemp(prefix=item.key + "-", dir=self.dir)
            try:
                path, offset = download_audio(item.uri, item.start_s, item.end_s, out_dir, self.youtube,
                                              self.remote, self.cookies)
                final = self._new_path(item, os.path.splitext(path)[1])
                os.replace(path, final)  # out of out_dir, which is removed below
                return final, offset
            finally:
                shutil.rmtree(out_dir, ignore_errors=True)

        path, offset = with_retries(attempt, self.remote, item.uri)
        return dataclasses.replace(item, fetched=path, fetched_offset_s=offset)
