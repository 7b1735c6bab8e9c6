"""CPU cost of each per-clip stage of the build, run back to back in one process, against the floor.

  python benchmarks/stage_costs.py [FILES...] [--repeat 3]

Per source file: decode + resample to the config's rate and channels (decode.decode_audio, after the
container checks DecodeAudio makes), cut into windows (segment.window_bounds, SegmentClips' slicing),
then per clip the code each stage's DoFn calls, with the DoFn's arguments and a default BuildConfig:
    stats          stats.audio_stats (ComputeAudioStats; Silero VAD when stats.speech)
    attributes     extract.mono_at + LibrosaExtractor.extract (ExtractAttributes; skipped for clips
                   below the silence gate, as the DoFn skips them)
    identity       fingerprint.pcm_hash + fingerprint.fingerprint (ComputeAudioIdentity)
    encode         encode.encode_pcm (EncodeAudio)
    captions       offline.write_captions + the Caption records (OfflineCaptioner)
    caption_stats  caption_stats.with_caption_stats (ComputeCaptionStats)
Objects a DoFn builds in setup() (ONNX session, extractor filters, style model) are built once,
outside the timed per-clip work, and reported as `setup_s`.

The floor is what no build can avoid: PyAV decode (mixed to mono by ffmpeg), one soxr resample to
the output rate, and a FLAC encode (soundfile) of each window. `floor_over_total` is floor CPU /
path CPU (1.0 would be a path that costs nothing beyond the floor).

Two settings: "lean" (stats.speech off, no attribute extractors) and "default" (BuildConfig's
defaults: Silero VAD and librosa attributes). Timing is CPU time of this process
(time.process_time; everything runs single-threaded, BLAS limited to one thread as the stages set
it), so other jobs on the machine disturb it little. With --repeat N the passes are interleaved and
each stage keeps its smallest time over the N passes (a setting's total is the sum of those).

Default input: the Ogg files of ../shared/data/audio-dev plus MP3 copies of them made with PyAV
(libmp3lame, 192 kb/s) in a temporary folder. Clips get MusicCaps-style tags (aspect lists of
MusicCaps' train split, one per file, when ../shared/data/musiccaps is there) so the offline
captioner and the caption stats have text to work on, as they would for a tagged manifest.

`measure(files)` returns a dict; `report(result)` formats it; benchmarks/audio_path.py can call both.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import pathlib
import tempfile
import time
from typing import Iterable, Optional, Sequence

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
AUDIO_DEV = SHARED / "audio-dev"
MUSICCAPS = SHARED / "musiccaps" / "musiccaps-public.csv"
clock = time.process_time

STAGES = ("decode", "segment", "stats", "attributes", "identity", "encode", "captions", "caption_stats")
SETTINGS = {
    "lean": ("no VAD, no attributes", {"stats": {"speech": False}, "attributes": {"extractors": []}}),
    "default": ("default (VAD + librosa attributes)", {}),
}
FALLBACK_TAGS = [
    ["classical", "piano", "slow tempo", "calm", "instrumental", "no voice"],
    ["rock", "electric guitar", "drums", "male vocal", "energetic", "fast tempo", "low quality"],
    ["video game music", "synthesizer", "upbeat", "catchy", "medium tempo"],
]


# ---------------------------------------------------------------- inputs


def mp3_copy(src: pathlib.Path, dst: pathlib.Path, bitrate: int = 192_000) -> pathlib.Path:
    """`src` re-encoded as MP3 with PyAV (libmp3lame), same rate and channel layout."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp3") as out:
        ins = inp.streams.audio[0]
        layout = "stereo" if ins.channels >= 2 else "mono"
        outs = out.add_stream("libmp3lame", rate=ins.sample_rate, layout=layout)
        outs.bit_rate = bitrate
        resampler = av.AudioResampler(format=outs.codec_context.format.name, layout=layout, rate=ins.sample_rate)
        for frame in inp.decode(ins):
            frame.pts = None
            for converted in resampler.resample(frame):
                out.mux(outs.encode(converted))
        for converted in resampler.resample(None):
            out.mux(outs.encode(converted))
        out.mux(outs.encode(None))
    return dst


def default_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """audio-dev's Ogg files, and an MP3 copy of each written under `folder`."""
    oggs = sorted(AUDIO_DEV.glob("*.ogg"))
    if not oggs:
        raise SystemExit(f"no audio files at {AUDIO_DEV}; pass FILES")
    folder.mkdir(parents=True, exist_ok=True)
    return oggs + [mp3_copy(p, folder / (p.stem + ".mp3")) for p in oggs]


def tag_sets(n: int) -> list[list[str]]:
    """`n` raw tag lists: MusicCaps train-split aspect lists (the first n), else a few fixed ones."""
    from tunescribe.transforms.ingest.tags import split_tag_field

    found = []
    if MUSICCAPS.is_file():
        with open(MUSICCAPS, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["is_audioset_eval"] == "False":
                    found.append(split_tag_field(row["aspect_list"]))
                    if len(found) == n:
                        break
    found = found or FALLBACK_TAGS
    return [found[i % len(found)] for i in range(n)]


# ---------------------------------------------------------------- the stages


def config(setting: str):
    """A default BuildConfig with the setting's overrides."""
    from tunescribe.pipelines.config import BuildConfig

    overrides = SETTINGS[setting][1]
    return BuildConfig(name="bench", output=tempfile.gettempdir(), inputs=[{"type": "folder", "path": "."}],
                       **overrides)


@dataclasses.dataclass
class StageObjects:
    """What the DoFns build in setup(), built once per setting."""

    cfg: object
    detector: object = None
    extractors: tuple = ()
    caption_model: Optional[dict] = None
    caption_revision: str = ""
    setup_s: float = 0.0

    @classmethod
    def build(cls, cfg) -> "StageObjects":
        from tunescribe.transforms.captions import style_model
        from tunescribe.transforms.captions.offline import model_revision

        t = clock()
        objects = cls(cfg)
        if cfg.stats.speech:
            from tunescribe.transforms.audio.vad import SpeechDetector

            objects.detector = SpeechDetector()
        if cfg.attributes.extractors:
            from tunescribe.transforms.attributes.extract import make_extractor

            objects.extractors = tuple(make_extractor(n, cfg.attributes.key_profile) for n in cfg.attributes.extractors)
            for extractor in objects.extractors:
                extractor.setup()
        if cfg.captions.offline():
            objects.caption_model, objects.caption_revision = style_model.load(), model_revision()
        objects.setup_s = clock() - t
        return objects


def source_item(path: pathlib.Path, index: int, raw_tags: Sequence[str]):
    from tunescribe.schemas import SourceItem
    from tunescribe.transforms.ingest.tags import normalise_tags

    return SourceItem(source_id=path.name, uri=str(path), input_uri=str(path), order=(0, index),
                      track_id=path.stem, artist_id=f"artist {index % 7}", album_id=None,
                      tags=normalise_tags(raw_tags))


def run_item(item, objects: StageObjects, times: dict) -> int:
    """Every per-clip stage on one source item, each timed into `times`; returns the clip count."""
    from tunescribe.schemas import Caption, Clip, Provenance
    from tunescribe.schemas.layout import clip_key
    from tunescribe.transforms.attributes.extract import SILENT_LUFS, mono_at
    from tunescribe.transforms.audio.decode import decode_audio, lost_its_end
    from tunescribe.transforms.audio.encode import encode_pcm, file_extension
    from tunescribe.transforms.audio.segment import window_bounds
    from tunescribe.transforms.audio.stats import audio_stats
    from tunescribe.transforms.captions.offline import (
        BACKEND,
        PROMPT_PREFIX,
        PROMPT_VERSION,
        TASKS,
        OfflineCaptioner,
        write_captions,
    )
    from tunescribe.transforms.quality.caption_stats import with_caption_stats
    from tunescribe.transforms.quality.fingerprint import fingerprint, pcm_hash

    cfg = objects.cfg
    a, seg, st = cfg.audio, cfg.segment, cfg.stats
    offline = cfg.captions.offline()

    t = clock()
    with open(item.uri, "rb") as f:  # DecodeAudio._decode: container checks, then decode + resample
        if lost_its_end(f):
            raise RuntimeError(f"{item.uri}: truncated")
        samples = decode_audio(f, a.sample_rate, a.channels, item.start_s, item.end_s, a.max_source_s)
    times["decode"] += clock() - t

    t = clock()
    rate, n = a.sample_rate, samples.shape[1]
    provenance = Provenance(input_uri=item.input_uri, source_uri=item.uri, tool_version="bench", config_hash="bench")
    clips = []
    for index, (lo, hi) in enumerate(window_bounds(n, rate, seg.window_s, seg.hop_s or seg.window_s, seg.tail,
                                                   seg.min_tail_s)):
        pcm = samples[:, lo:hi]
        if hi > n:
            pcm = np.pad(pcm, ((0, 0), (0, hi - n)))
        clips.append(Clip(key=clip_key(item.key, index), source_id=item.source_id, clip_index=index,
                          start_s=lo / rate, end_s=hi / rate, sample_rate=rate, channels=samples.shape[0],
                          provenance=provenance, track_id=item.track_id, artist_id=item.artist_id,
                          album_id=item.album_id, licence=item.licence, tags=item.tags, captions=item.captions,
                          samples=np.ascontiguousarray(pcm)))
    times["segment"] += clock() - t

    for clip in clips:
        t = clock()  # ComputeAudioStats.process
        stats = audio_stats(clip.samples, clip.sample_rate, st.silence_dbfs, st.frame_s, st.clip_level,
                            objects.detector, st.speech_threshold)
        clip = dataclasses.replace(clip, stats={**clip.stats, **stats})
        times["stats"] += clock() - t

        if objects.extractors:
            t = clock()  # ExtractAttributes.process
            if clip.stats.get("loudness_lufs", 0.0) > SILENT_LUFS:
                resampled, found = {}, []
                for extractor in objects.extractors:
                    if extractor.rate not in resampled:
                        resampled[extractor.rate] = mono_at(clip, extractor.rate)
                    found.extend(extractor.extract(resampled[extractor.rate]))
                clip = dataclasses.replace(clip, attributes=clip.attributes + tuple(found))
            times["attributes"] += clock() - t

        t = clock()  # ComputeAudioIdentity.process
        clip = dataclasses.replace(clip, audio_hash=pcm_hash(clip.samples),
                                   fingerprint=fingerprint(clip.samples, clip.sample_rate))
        times["identity"] += clock() - t

        t = clock()  # EncodeAudio.process (after the quality gate in the build; the PCM goes)
        audio = encode_pcm(clip.samples, clip.sample_rate, a.format)
        clip = dataclasses.replace(clip, audio=audio, audio_format=file_extension(a.format), samples=None)
        times["encode"] += clock() - t

        if offline:
            t = clock()  # OfflineCaptioner.process
            texts = write_captions(clip.tags, clip.attributes, key=clip.key, seed=offline.seed, tasks=offline.tasks,
                                   min_confidence=offline.min_confidence, model=objects.caption_model)
            captions = tuple(
                Caption(text=texts[task], task=task, backend=BACKEND,
                        prompt_id=PROMPT_PREFIX + (task if task in TASKS else "writing"),
                        prompt_version=PROMPT_VERSION, model_id=OfflineCaptioner.MODEL_ID,
                        model_revision=objects.caption_revision, seed=offline.seed)
                for task in offline.tasks if task in texts)
            if captions:
                clip = dataclasses.replace(clip, captions=clip.captions + captions)
            times["captions"] += clock() - t

        t = clock()  # ComputeCaptionStats.process
        clip = with_caption_stats(clip)
        times["caption_stats"] += clock() - t
    return len(clips)


def floor_item(path: pathlib.Path, rate: int, window_s: float) -> int:
    """The floor for one file: PyAV decode to mono float, one soxr resample, FLAC per window."""
    import av
    import soundfile as sf
    import soxr

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        in_rate = stream.sample_rate
        to_float = av.AudioResampler(format="fltp", layout="mono")
        chunks = [f.to_ndarray()[0] for frame in container.decode(stream) for f in to_float.resample(frame)]
    pcm = np.concatenate(chunks)
    if in_rate != rate:
        pcm = soxr.resample(pcm, in_rate, rate)
    win = int(round(window_s * rate))
    for lo in range(0, max(1, pcm.shape[0]), win):
        buf = io.BytesIO()
        sf.write(buf, pcm[lo:lo + win], rate, format="FLAC", subtype="PCM_16")
    return -(-pcm.shape[0] // win)


# ---------------------------------------------------------------- measuring


def measure(files: Optional[Iterable[os.PathLike]] = None, repeat: int = 3,
            settings: Sequence[str] = tuple(SETTINGS)) -> dict:
    """CPU seconds per stage for each setting, and the floor, over `files` (default: audio-dev's
    Ogg files and MP3 copies of them). Passes are interleaved `repeat` times; each figure is the
    smallest over the passes, a total the sum of its stages."""
    if files is None:
        with tempfile.TemporaryDirectory() as tmp:
            return measure(default_files(pathlib.Path(tmp)), repeat, settings)
    from threadpoolctl import threadpool_limits

    files = [pathlib.Path(p) for p in files]
    items = [source_item(p, i, tags) for i, (p, tags) in enumerate(zip(files, tag_sets(len(files))))]
    with threadpool_limits(limits=1, user_api="blas"):  # as ComputeAudioStats.setup sets it
        objects = {s: StageObjects.build(config(s)) for s in settings}
        window_s = objects[settings[0]].cfg.segment.window_s
        rate = objects[settings[0]].cfg.audio.sample_rate
        for s in settings:  # warm-up: first calls load codecs, numba/ONNX kernels, langid's model
            run_item(items[0], objects[s], dict.fromkeys(STAGES, 0.0))
        floor_item(files[0], rate, window_s)

        best = {s: dict.fromkeys(STAGES, float("inf")) for s in settings}
        floors, clips = [], 0
        for _ in range(max(1, repeat)):
            t = clock()
            for path in files:
                floor_item(path, rate, window_s)
            floors.append(clock() - t)
            for s in settings:
                times = dict.fromkeys(STAGES, 0.0)
                clips = sum(run_item(item, objects[s], times) for item in items)
                best[s] = {k: min(best[s][k], times[k]) for k in STAGES}

    floor = min(floors)
    out = {"files": len(files), "clips": clips, "repeat": max(1, repeat), "floor_s": floor,
           "audio_s": sum(_duration(p) for p in files), "settings": {}}
    for s in settings:
        total = sum(best[s].values())
        out["settings"][s] = {
            "label": SETTINGS[s][0],
            "stages": dict(best[s]),
            "share": {k: (v / total if total else 0.0) for k, v in best[s].items()},
            "total_s": total,
            "floor_over_total": floor / total if total else float("nan"),
            "setup_s": objects[s].setup_s,
        }
    return out


def _duration(path: pathlib.Path) -> float:
    import av

    with av.open(str(path)) as container:
        return (container.duration or 0) / av.time_base


def report(result: dict) -> str:
    """The result of `measure` as a table: CPU seconds and share per stage, per setting."""
    names = list(result["settings"])
    lines = [f"{result['files']} files, {result['audio_s']:.0f} s of audio, {result['clips']} clips; "
             f"best of {result['repeat']} interleaved passes; CPU seconds (time.process_time)",
             f"  {'stage':14s}" + "".join(f"  {n:>18s}" for n in names)]
    for stage in STAGES:
        cells = []
        for n in names:
            r = result["settings"][n]
            cells.append(f"{r['stages'][stage]:7.3f} s {100 * r['share'][stage]:5.1f} %")
        lines.append(f"  {stage:14s}" + "".join(f"  {c:>18s}" for c in cells))
    lines.append(f"  {'total':14s}" + "".join(f"  {result['settings'][n]['total_s']:7.3f} s {'':7s}" for n in names))
    lines.append(f"  {'setup (once)':14s}" + "".join(f"  {result['settings'][n]['setup_s']:7.3f} s {'':7s}"
                                                      for n in names))
    lines.append(f"  floor (decode + resample + FLAC): {result['floor_s']:.3f} s CPU")
    for n in names:
        r = result["settings"][n]
        lines.append(f"  floor/total, {r['label']}: {r['floor_over_total']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", help="audio files (default: audio-dev's Ogg files + MP3 copies)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args(argv)
    load = os.getloadavg()
    result = measure(args.files or None, args.repeat, args.settings)
    print(report(result))
    print(f"  ({os.cpu_count()} cpus, load average at start {load[0]:.2f})")


if __name__ == "__main__":
    main()
