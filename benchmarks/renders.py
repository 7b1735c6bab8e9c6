"""A cache of real-sounding music for the scale benchmarks: scores from music21's bundled corpus,
rendered with FluidSynth and a General MIDI soundfont, encoded as Ogg Vorbis and MP3, 44.1 kHz stereo.

Setup (once):

    sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg    # FluidR3_GM.sf2, libvorbis, libmp3lame
    pip install -e '.[bench]'                                        # music21, lhotse, psutil

Use:

    python benchmarks/renders.py --hours 22 [--jobs 2]     # render (or reuse) >= 22 h, print the cache
    from renders import renders; files = renders(2.0)      # list[Path], >= 2 h of audio

What a render is. The corpus's works (15k: folk tunes, chorales, Renaissance polyphony, string
quartets, ...) are put in one fixed order: each collection (top folder: bach, essenFolksong,
palestrina, ...) shuffled with a fixed seed, then the collections interleaved round robin, so that
any prefix mixes styles. Each work gets, from a hash of its name, a General MIDI instrument per part
(one ensemble palette: keys, strings, winds, plucked, voices/synths, or mixed) and a tempo (60-150
quarter notes a minute); its score's own instruments and tempo marks are removed. Works that
music21 cannot parse or convert within 5 minutes are skipped.
Consecutive works are joined into tracks of at least --track-s seconds (default 240: a medley, 1 s of
silence between works; each work rendered by FluidSynth up to the end of its MIDI plus a 3 s release
tail, since some patches sustain for ever), and tracks alternate Ogg Vorbis (q5) / MP3 (192 kb/s) by
index. Every render is thus distinct music, and the list of tracks is a fixed sequence: `renders(h)`
returns its shortest prefix of at least h hours, so a larger request extends a smaller one and
reuses it. `write_manifest(tracks, path)` writes a tunescribe CSV manifest of them (path, id,
artist, tags, duration_s); `link_into(files, folder)` makes a folder input of them.

The cache ($TUNESCRIBE_BENCH_CACHE, default ~/.cache/tunescribe-bench; renders under renders/):
works/<key>.mid|.json (one converted work, or why it failed), tracks/<index>-<key>.ogg|.mp3 + .json.
Keys hash everything that makes the bytes (work, seed, palettes, music21 version, soundfont, synth
and encoder versions and settings), so a second run reuses every file and a changed setting renders
anew (bump RENDER_VERSION when changing the code's logic). Work runs in a bounded pool of
processes (--jobs, default min(4, cpus)).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

RENDER_VERSION = 2
SEED = 20240601
BPM = (60, 150)
RATE = 44100
GAIN = 0.5
TRACK_S = 240.0
TAIL_S = 3.0  # release tail after a work's last MIDI event
GAP_S = 1.0  # silence between the works of a track
WORK_TIMEOUT_S = 300
SOUNDFONTS = ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2"]
ENCODINGS = {
    "ogg": ["-c:a", "libvorbis", "-q:a", "5"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
}
FORMATS = ["ogg", "mp3"]  # track i is FORMATS[i % 2]

# General MIDI programs (0-based) by ensemble. A work draws one palette; "mixed" draws from all.
PALETTES = {
    "keys": [0, 1, 2, 4, 5, 6, 7, 8, 11, 12, 16, 19, 21],
    "strings": [40, 41, 42, 43, 44, 45, 46, 48, 49],
    "winds": [56, 57, 58, 60, 61, 64, 65, 66, 68, 69, 70, 71, 72, 73, 74],
    "plucked": [24, 25, 26, 27, 32, 33, 104, 105, 107],
    "voices_synths": [52, 53, 54, 80, 81, 82, 87, 88, 89, 90, 91, 92, 95],
}


def cache_root() -> pathlib.Path:
    root = os.environ.get("TUNESCRIBE_BENCH_CACHE")
    return pathlib.Path(root).expanduser() if root else pathlib.Path.home() / ".cache" / "tunescribe-bench"


def render_dir() -> pathlib.Path:
    return cache_root() / "renders"


def soundfont() -> pathlib.Path:
    for path in SOUNDFONTS:
        if os.path.exists(path):
            return pathlib.Path(path).resolve()
    raise SystemExit("no General MIDI soundfont: sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg")


def check_tools() -> None:
    missing = [tool for tool in ("fluidsynth", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: sudo apt-get install -y fluidsynth fluid-soundfont-gm ffmpeg")
    soundfont()
    try:
        import music21  # noqa: F401
    except ImportError:
        raise SystemExit("music21 is missing: pip install -e '.[bench]'") from None


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def music21_version() -> str:
    import music21

    return ".".join(music21.__version__.split(".")[:2])


def tool_identity() -> dict:
    """What the rendered bytes depend on besides the works: soundfont, synth and encoder versions."""
    sf2 = soundfont()
    synth = subprocess.run(["fluidsynth", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"sf2": sf2.name, "sf2_bytes": sf2.stat().st_size, "fluidsynth": synth.strip(),
            "ffmpeg": " ".join(ffmpeg.split()[:3]), "rate": RATE, "gain": GAIN, "tail": TAIL_S, "gap": GAP_S,
            "enc": ENCODINGS, "v": RENDER_VERSION}


# ------------------------------------------------------------------------------------------ works


def work_list() -> list[dict]:
    """Every work of music21's core corpus, in the benchmark's fixed order (cached: listing the
    metadata bundle takes ~40 s)."""
    path = render_dir() / f"works-m21-{music21_version()}-seed{SEED}.json"
    if path.exists():
        return json.loads(path.read_text())
    from music21 import corpus

    print("[renders] listing music21's corpus (once)...", flush=True)
    entries = []
    for entry in corpus.corpora.CoreCorpus().metadataBundle:
        source = str(entry.sourcePath)
        entries.append((source, entry.number))
    groups: dict[str, list] = {}
    for source, number in sorted(set(entries), key=lambda e: (e[0], str(e[1]))):
        groups.setdefault(source.split("/", 1)[0], []).append({"path": source, "number": number})
    for name, works in groups.items():
        random.Random(f"{SEED}:{name}").shuffle(works)
    order, queues = [], [deque(groups[name]) for name in sorted(groups)]
    while queues:  # round robin over the collections
        for q in queues:
            order.append(q.popleft())
        queues = [q for q in queues if q]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(order))
    os.replace(tmp, path)
    return order


def work_key(work: dict, m21: str) -> str:
    return digest("work", RENDER_VERSION, SEED, m21, PALETTES, BPM, work["path"], work["number"])


def _timeout(signum, frame):
    raise TimeoutError(f"over {WORK_TIMEOUT_S} s")


def convert_work(work: dict, key: str, folder: str) -> dict:
    """Parses one work, sets its seeded instruments and tempo, writes folder/<key>.mid; returns its
    description (duration_s, programs, ...) or {"failed": reason}. Both are cached as <key>.json."""
    meta_path = pathlib.Path(folder) / f"{key}.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    meta = {"key": key, **work}
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(WORK_TIMEOUT_S)
    try:
        meta.update(_convert(work, pathlib.Path(folder) / f"{key}.mid", key))
    except Exception as exc:  # noqa: BLE001 - any failure skips the work, cached (a timeout too: music21
        # hangs on a few scores, and every later plan would wait for it again)
        meta["failed"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)
    return meta


def _convert(work: dict, midi_path: pathlib.Path, key: str) -> dict:
    import warnings

    from music21 import corpus, instrument, stream, tempo

    warnings.filterwarnings("ignore")
    score = corpus.parse(work["path"], number=work["number"])
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    rng = random.Random(f"{SEED}:{key}")
    for el in list(score.recurse().getElementsByClass((instrument.Instrument, tempo.TempoIndication))):
        if el.activeSite is not None:
            el.activeSite.remove(el)
    parts = list(score.parts) or [score]
    palette = rng.choice([*PALETTES, "mixed"])
    choices = sorted({p for ps in PALETTES.values() for p in ps}) if palette == "mixed" else PALETTES[palette]
    bpm = rng.randint(*BPM)
    programs = []
    for part in parts:
        program = rng.choice(choices)
        inst = instrument.Instrument()
        inst.midiProgram = program
        try:
            inst = instrument.instrumentFromMidiProgram(program)
        except Exception:  # noqa: BLE001 - unnamed programs keep the generic instrument
            pass
        part.insert(0, inst)
        part.insert(0, tempo.MetronomeMark(number=bpm))
        programs.append(program)
    tmp = midi_path.with_suffix(".mid.tmp")
    score.write("midi", fp=str(tmp))
    seconds = midi_seconds(tmp, bpm)
    if not seconds > 0:
        raise ValueError("empty score")
    os.replace(tmp, midi_path)
    composer = getattr(score.metadata, "composer", None) if score.metadata else None
    title = getattr(score.metadata, "title", None) if score.metadata else None
    return {"duration_s": seconds, "bpm": bpm, "palette": palette, "programs": programs,
            "parts": len(parts), "composer": composer, "title": title}


def midi_seconds(path: pathlib.Path, bpm: float) -> float:
    """Length of a MIDI file with one tempo: its last track's end (repeats are expanded in the file,
    so the score's own length may be shorter)."""
    from music21 import midi

    mf = midi.MidiFile()
    mf.open(str(path))
    try:
        mf.read()
    finally:
        mf.close()
    end = max(sum(e.time for e in track.events if e.isDeltaTime()) for track in mf.tracks)
    return end / mf.ticksPerQuarterNote * 60.0 / bpm


# ----------------------------------------------------------------------------------------- tracks


def track_key(works: list[dict], fmt: str, tools: dict) -> str:
    return digest("track", tools, fmt, [w["key"] for w in works])


def track_path(index: int, key: str, fmt: str) -> pathlib.Path:
    return render_dir() / "tracks" / f"t{index:05d}-{key}.{fmt}"


def render_track(index: int, works: list[dict], key: str, fmt: str) -> dict:
    """Renders each work with FluidSynth (raw PCM on a pipe, cut at the end of its MIDI plus a release
    tail: a few General MIDI patches sustain for ever), joins them with a short gap, and streams the
    PCM into ffmpeg's encoder."""
    if (cached := cached_track(index, key, fmt)) is not None:
        return cached
    import numpy as np

    out = track_path(index, key, fmt)
    meta_path = out.with_suffix(".json")
    meta = {"index": index, "key": key, "format": fmt, "file": out.name,
            "works": [{k: w.get(k) for k in ("key", "path", "number", "composer", "title", "bpm", "palette",
                                              "programs", "duration_s")} for w in works]}
    composers = sorted({" ".join((w.get("composer") or w["path"].split("/")[0]).split()) for w in works})
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f"tmp-{os.getpid()}-") as tmp:
        enc = pathlib.Path(tmp) / f"track.{fmt}"
        log = open(pathlib.Path(tmp) / "ffmpeg.log", "w+")
        encoder = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "s16le", "-ar", str(RATE),
             "-ac", "2", "-i", "pipe:0", *ENCODINGS[fmt], "-metadata", f"title=tunescribe bench track {index}",
             "-metadata", f"artist={', '.join(composers)[:200]}", str(enc)],
            stdin=subprocess.PIPE, stderr=log)
        frames = 0
        try:
            for n, work in enumerate(works):
                pcm, capped = synthesize(render_dir() / "works" / f"{work['key']}.mid", work["duration_s"] + TAIL_S)
                if capped:  # fade the sustained tail out over its last second
                    fade = min(RATE, pcm.shape[0])
                    pcm[-fade:] = (pcm[-fade:] * np.linspace(1, 0, fade, dtype=np.float32)[:, None]).astype(np.int16)
                if n:
                    gap = np.zeros((int(GAP_S * RATE), 2), np.int16)
                    encoder.stdin.write(gap.tobytes())
                    frames += gap.shape[0]
                encoder.stdin.write(pcm.tobytes())
                frames += pcm.shape[0]
            encoder.stdin.close()
            rc = encoder.wait()
        except (OSError, RuntimeError) as exc:
            encoder.kill()
            encoder.wait()
            rc, meta["failed"] = -1, f"{type(exc).__name__}: {exc}"
        if rc != 0 and "failed" not in meta:
            log.seek(0)
            meta["failed"] = f"ffmpeg exit {rc}: {log.read()[-300:]}"
        log.close()
        if "failed" not in meta:
            meta["duration_s"] = frames / RATE
            meta["bytes"] = enc.stat().st_size
            os.replace(enc, out)
    if "failed" not in meta:  # a failed render is not cached: the next run tries again
        tmp_meta = meta_path.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, meta_path)
    return meta


def synthesize(midi: pathlib.Path, max_s: float):
    """(frames, 2) int16 PCM of one MIDI file at RATE, at most max_s long; and whether it was cut."""
    import numpy as np

    limit = int(max_s * RATE) * 4
    synth = subprocess.Popen(["fluidsynth", "-ni", "-q", "-g", str(GAIN), "-r", str(RATE), "-o", "synth.cpu-cores=1",
                              "-T", "raw", "-O", "s16", "-F", "-", str(soundfont()), str(midi)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks, got, capped = [], 0, True
    while got < limit:
        block = synth.stdout.read(min(1 << 20, limit - got))
        if not block:
            capped = False
            break
        chunks.append(block)
        got += len(block)
    if capped:  # still playing at the limit: a sustained note
        synth.kill()
    synth.stdout.close()
    rc = synth.wait()
    if not capped and rc != 0:
        raise RuntimeError(f"fluidsynth exit {rc} on {midi.name}")
    data = b"".join(chunks)
    data = data[: len(data) // 4 * 4]
    if not data:
        raise RuntimeError(f"fluidsynth wrote nothing for {midi.name}")
    return np.frombuffer(data, np.int16).reshape(-1, 2).copy(), capped


# ------------------------------------------------------------------------------------------- plan


def renders(hours: float, jobs: int | None = None, track_s: float = TRACK_S, verbose: bool = True) -> list[pathlib.Path]:
    """The shortest prefix of the benchmark's track sequence that holds >= `hours` of audio,
    rendering what the cache lacks. Returns the files in track order."""
    return [render_dir() / "tracks" / m["file"] for m in render_tracks(hours, jobs, track_s, verbose)]


def render_tracks(hours: float, jobs: int | None = None, track_s: float = TRACK_S,
                  verbose: bool = True, attempts: int = 3) -> list[dict]:
    """As renders(), returning each track's description (file, duration_s, works, ...). A pool whose
    worker was killed is started again (finished files are in the cache)."""
    from concurrent.futures.process import BrokenProcessPool

    for attempt in range(attempts):
        try:
            return _render_tracks(hours, jobs, track_s, verbose)
        except BrokenProcessPool as exc:
            if attempt == attempts - 1:
                raise
            print(f"[renders] a render process died ({exc}); starting again from the cache", flush=True)
    raise AssertionError("unreachable")


def _render_tracks(hours: float, jobs: int | None, track_s: float, verbose: bool) -> list[dict]:
    check_tools()
    say = (lambda *a: print("[renders]", *a, flush=True)) if verbose else (lambda *a: None)
    need = hours * 3600.0
    jobs = jobs or min(4, os.cpu_count() or 1)
    m21, tools = music21_version(), tool_identity()
    works_dir, tracks_dir = render_dir() / "works", render_dir() / "tracks"
    works_dir.mkdir(parents=True, exist_ok=True)
    tracks_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(tracks_dir)
    order = work_list()
    started = time.monotonic()
    counts = dict.fromkeys(["converted", "cached works", "skipped works", "rendered", "cached tracks",
                            "failed tracks"], 0)
    planned: dict[int, float] = {}  # track index -> expected seconds (MIDI length)
    results: dict[int, dict] = {}  # track index -> its description, once rendered (or cached)
    rendering: dict[Future, int] = {}
    ahead: deque[Future | dict] = deque()  # conversions of the next works, in order
    current: list[dict] = []
    next_work = 0

    def expected() -> float:
        """Seconds the plan holds: rendered tracks count their real length, failed ones nothing."""
        return sum(est if i not in results else results[i].get("duration_s", 0.0) if "failed" not in results[i]
                   else 0.0 for i, est in planned.items())

    def ready() -> float:
        return sum(m["duration_s"] for m in results.values() if "failed" not in m)

    def collect(block: bool) -> None:
        for fut in [f for f in rendering if block or f.done()]:
            meta = results[rendering.pop(fut)] = fut.result()
            if "failed" in meta:
                counts["failed tracks"] += 1
                say(f"track {meta['index']} failed: {meta['failed'][:160]}")
            else:
                counts["rendered"] += 1
                say(f"rendered t{meta['index']:05d} ({meta['format']}, {meta['duration_s'] / 60:4.1f} min, "
                    f"{len(meta['works'])} works); {ready() / 3600:6.2f} of {hours:.2f} h ready; "
                    f"{time.monotonic() - started:6.0f} s")

    with ProcessPoolExecutor(max_workers=jobs, max_tasks_per_child=50) as pool:
        while True:
            while expected() < need:
                while len(ahead) < 2 * jobs and next_work < len(order):
                    work = order[next_work]
                    key = work_key(work, m21)
                    meta_path = works_dir / f"{key}.json"
                    ahead.append(json.loads(meta_path.read_text()) if meta_path.exists()
                                 else pool.submit(convert_work, work, key, str(works_dir)))
                    next_work += 1
                if not ahead:
                    raise SystemExit(f"music21's corpus holds less than {hours} h at these settings")
                got = ahead.popleft()
                if isinstance(got, Future):
                    while not got.done():
                        collect(False)
                        time.sleep(0.05)
                    meta = got.result()
                    counts["skipped works" if "failed" in meta else "converted"] += 1
                else:
                    meta = got
                    counts["skipped works" if "failed" in meta else "cached works"] += 1
                if "failed" in meta or meta["duration_s"] < 1.0:
                    continue
                current.append(meta)
                if sum(w["duration_s"] for w in current) < track_s:
                    continue
                index = len(planned)
                fmt = FORMATS[index % len(FORMATS)]
                key = track_key(current, fmt, tools)
                planned[index] = sum(w["duration_s"] for w in current)
                cached = cached_track(index, key, fmt)
                if cached is not None:
                    results[index] = cached
                    counts["failed tracks" if "failed" in cached else "cached tracks"] += 1
                else:
                    rendering[pool.submit(render_track, index, current, key, fmt)] = index
                current = []
                collect(False)
            collect(True)
            if expected() >= need:  # else a render failed or came out shorter than its MIDI: plan more
                break
        for fut in ahead:  # conversions started ahead finish into the cache
            if isinstance(fut, Future):
                fut.result()
    chosen, total = [], 0.0  # the shortest prefix of good tracks that holds `need`
    for index in sorted(results):
        if total >= need:
            break
        if "failed" not in results[index]:
            chosen.append(results[index])
            total += results[index]["duration_s"]
    say(f"{len(chosen)} tracks, {total / 3600:.2f} h ({time.monotonic() - started:.0f} s): "
        + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return chosen


def remove_stale_temps(folder: pathlib.Path) -> None:
    """Temp folders of renders whose process is gone (killed runs)."""
    for tmp in folder.glob("tmp-*-*"):
        try:
            pid = int(tmp.name.split("-")[1])
        except ValueError:
            continue
        if not pid_alive(pid):
            shutil.rmtree(tmp, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cached_track(index: int, key: str, fmt: str) -> dict | None:
    out = track_path(index, key, fmt)
    meta_path = out.with_suffix(".json")
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    return meta if "failed" in meta or out.exists() else None


# ------------------------------------------------------------------------------------ manifests


def write_manifest(tracks: list[dict] | list[pathlib.Path], dest: pathlib.Path) -> pathlib.Path:
    """A tunescribe manifest (CSV: path, id, artist, tags, duration_s) of the given tracks (their
    descriptions from render_tracks, or paths into the cache). Paths are absolute: give the input
    `audio_root` / `allowed_roots` the cache's tracks folder (render_dir() / "tracks")."""
    names = {"ogg": "ogg vorbis", "mp3": "mp3"}
    rows = []
    for t in tracks:
        if isinstance(t, (str, pathlib.Path)):
            t = json.loads(pathlib.Path(t).with_suffix(".json").read_text())
        path = render_dir() / "tracks" / t["file"]
        composers = sorted({w.get("composer") or w["path"].split("/")[0] for w in t["works"]})
        palettes = sorted({w["palette"] for w in t["works"]})
        rows.append({"path": str(path), "id": pathlib.Path(t["file"]).stem, "artist": composers[0],
                     "tags": ";".join(["classical", *[p.replace("_", " ") for p in palettes], names[t["format"]]]),
                     "duration_s": f"{t['duration_s']:.3f}"})
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "id", "artist", "tags", "duration_s"])
        writer.writeheader()
        writer.writerows(rows)
    return dest


def link_into(files: list[pathlib.Path], folder: pathlib.Path) -> list[pathlib.Path]:
    """The files under `folder` (hard links, or copies across filesystems): a folder input whose
    files really are inside it (tunescribe rejects symlinks that leave an input's root)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in files:
        dst = folder / src.name
        if not dst.exists():
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        out.append(dst)
    return out


def durations(files: list[pathlib.Path]) -> dict[pathlib.Path, float]:
    """Seconds of each file: from the render's description when it is one, else from the file."""
    import soundfile as sf

    out = {}
    for path in files:
        meta = pathlib.Path(path).with_suffix(".json")
        if meta.exists() and "duration_s" in (m := json.loads(meta.read_text())):
            out[path] = float(m["duration_s"])
        else:
            try:
                out[path] = sf.info(str(path)).duration
            except Exception:  # noqa: BLE001 - formats libsndfile lacks
                import av

                with av.open(str(path)) as c:
                    out[path] = float(c.duration or 0) / 1e6
    return out


def cache_size() -> int:
    return sum(p.stat().st_size for p in render_dir().rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=22.0)
    parser.add_argument("--jobs", type=int, default=None, help="processes rendering at once (default min(4, cpus))")
    parser.add_argument("--track-s", type=float, default=TRACK_S, help="shortest track (a medley of works)")
    parser.add_argument("--manifest", type=pathlib.Path, help="also write a CSV manifest of the tracks here")
    parser.add_argument("--prune", action="store_true", help="remove cached tracks of older settings among the "
                        "indices these hours use")
    args = parser.parse_args()
    started = time.monotonic()
    tracks = render_tracks(args.hours, args.jobs, args.track_s)
    if args.prune:
        keep = {pathlib.Path(t["file"]).stem for t in tracks}
        last = max(t["index"] for t in tracks)
        stale = [f for f in (render_dir() / "tracks").glob("t[0-9][0-9][0-9][0-9][0-9]-*")
                 if f.is_file() and int(f.name[1:6]) <= last and f.name.split(".")[0] not in keep]
        for f in stale:
            f.unlink()
        print(f"pruned {len(stale)} files of older settings")
    formats = {f: sum(1 for t in tracks if t["format"] == f) for f in FORMATS}
    print(f"{len(tracks)} tracks ({', '.join(f'{n} {f}' for f, n in formats.items())}), "
          f"{sum(t['duration_s'] for t in tracks) / 3600:.2f} h, {time.monotonic() - started:.0f} s; "
          f"cache {render_dir()} holds {cache_size() / 2**30:.2f} GiB")
    if args.manifest:
        print(f"manifest: {write_manifest(tracks, args.manifest)}")


if __name__ == "__main__":
    sys.exit(main())
