"""Fault injection: 10-hour files through a real `tunescribe build` subprocess, in bounded memory.

Three 10-hour FLACs (8 kHz, a constant level, so each is about a megabyte on disk): one whose
header says 10 hours, one whose header lies (claims 10 s), one of unknown length (a streamed
encode writes no sample count). Built at 48 kHz, decoding any of them whole would hold
36000 s x 48000 x 4 B = 6.9 GB of samples. The first is refused from its header, the other two
while decoding, once `audio.max_source_s` (here 600 s) is passed; a manifest row asking for the
last 10 s of the 10-hour file seeks there and lands. The peak RSS of the build process (VmHWM of
its own address space, which it reports as it exits) must stay far below a whole decode.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from fault_files import build_config, corpus_outcomes, flac_with_total, ledger
from mtg_corpus import build_command

pytestmark = pytest.mark.faults

HOURS_10 = 36000
LONG_RATE = 8000
OUT_RATE = 48000
WHOLE_DECODE_BYTES = HOURS_10 * OUT_RATE * 4  # 6.9 GB
RSS_LIMIT = 2 * 2**30  # a build with torch, Beam and pyarrow loaded stays well under; a whole decode cannot
# `tunescribe build`, then the peak RSS of this process's own address space. Not getrusage's
# ru_maxrss (of the child, or of itself): Linux carries the pre-exec peak over an exec, so a child
# forked from a large pytest process would report pytest's size.
BUILD_AND_REPORT_PEAK = (
    "import sys\n"
    "from tunescribe.pipelines.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "peak = next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
    "print('PEAK_RSS_KIB', peak)\n"
    "sys.exit(rc)\n")


def write_ten_hours(path) -> None:
    block = np.full(LONG_RATE * 600, 0.25, np.float32)  # a constant: FLAC stores it in a few bytes a frame
    with sf.SoundFile(path, "w", samplerate=LONG_RATE, channels=1, subtype="PCM_16", format="FLAC") as f:
        for _ in range(HOURS_10 // 600):
            f.write(block)


@pytest.fixture(scope="module")
def long_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("long_faults")
    audio = root / "audio"
    audio.mkdir()
    write_ten_hours(audio / "declared.flac")
    for name, total in (("lie.flac", 10 * LONG_RATE), ("unknown.flac", 0)):
        shutil.copyfile(audio / "declared.flac", audio / name)
        flac_with_total(audio / name, total)
    (root / "long.csv").write_text(
        "id,path,start,end,tags\n"
        "declared,audio/declared.flac,,,drone\n"
        "lie,audio/lie.flac,,,drone\n"
        "unknown,audio/unknown.flac,,,drone\n"
        f"last_10s,audio/declared.flac,{HOURS_10 - 10},{HOURS_10},drone\n")
    config = build_config(root, [{"type": "manifest", "path": "long.csv", "columns": {
        "path": "path", "id": "id", "start": "start", "end": "end", "tags": ["tags"]}}],
        audio={"sample_rate": OUT_RATE, "max_source_s": 600.0},
        quality={"min_duration_s": 0.5, "max_silence_ratio": 1.0, "require_caption": False,
                 "dedup": {"exact_audio": False, "max_ber": None}})
    argv = build_command(config)[3:]  # after `python -m tunescribe.pipelines.cli`
    done = subprocess.run([sys.executable, "-c", BUILD_AND_REPORT_PEAK, *argv], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    peak_kib = int(done.stdout.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])
    corpus = root / "corpus"
    accepted, rejected = corpus_outcomes(corpus)
    return {"corpus": corpus, "accepted": accepted, "rejected": rejected, "peak_rss": peak_kib * 1024}


CASES = {
    "declared": ("10-hour file (length in its header)", ("decode", "too_long")),
    "lie": ("10-hour file whose header claims 10 s", ("decode", "too_long")),
    "unknown": ("10-hour file of unknown length", ("decode", "too_long")),
    "last_10s": ("last 10 s of a 10-hour file (time range)", "lands"),
}


@pytest.mark.parametrize("source_id", sorted(CASES))
def test_ten_hour_file(long_build, fault_log, source_id):
    kind, expected = CASES[source_id]
    got = long_build["rejected"].get(source_id, set())
    landed = source_id in long_build["accepted"]
    fault_log.add(kind, "lands" if landed and not got else ", ".join(f"reject {s}/{r}" for s, r in sorted(got)),
                  ingested=1, accepted=int(landed), rejected=int(bool(got) and not landed))
    if expected == "lands":
        assert landed and not got, got
    else:
        assert not landed and got == {expected}, got


def test_memory_stays_bounded(long_build, fault_log):
    peak = long_build["peak_rss"]
    sources = ledger(long_build["corpus"])
    fault_log.add("10-hour files: peak RSS of the build", f"{peak / 2**20:.0f} MiB (a whole decode: "
                  f"{WHOLE_DECODE_BYTES / 2**30:.1f} GiB)", ingested=sources["ingested"],
                  accepted=sources["accepted"], rejected=sources["rejected"])
    assert peak < RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"
