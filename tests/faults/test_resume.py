"""Resume and idempotency of `tunescribe build`, with real subprocesses killed by SIGKILL.

The reference is the session's uninterrupted build (`mtg_corpus`). A second output is built by a
series of runs, each SIGKILLed as soon as the build reaches a given point — while items are being
committed to the ledger, while shards are being written, after the run stats and dataset card but
before the manifest — and then finished by a plain rerun. Every file (the ledger included) must come out byte for
byte as in the uninterrupted build.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import types

import pyarrow.parquet as pq
import pytest
import soundfile as sf
import webdataset as wds
from mtg_corpus import RATE, build, build_command, tone, tree

from tunescribe.transforms import failpoints

LEDGER = ".tunescribe/ledger"


def ledger_runs(out: pathlib.Path) -> list[pathlib.Path]:
    return [p for p in out.glob(f"{LEDGER}/*/*.parquet") if not p.name.startswith("compact-")]


KILL_POINTS = {
    # name: the build's failpoint (transforms/failpoints.py) where it SIGKILLs itself
    "committing items": "ledger_flushed:2",
    "writing shards": "shard_written",
    "after the dataset card": "card_written",
}


def run_until(config: pathlib.Path, out: pathlib.Path, failpoint: str) -> bool:
    """Runs a build that SIGKILLs its process group at `failpoint`. Returns True if it was
    killed there, False if it finished without passing it."""
    log = open(out.parent / f"{out.name}.log", "a")
    env = {**os.environ, failpoints.ENV: failpoint}
    try:
        proc = subprocess.run(build_command(config, out), stdout=log, stderr=log, env=env, start_new_session=True,
                              timeout=1800)
    finally:
        log.close()
    if proc.returncode == -signal.SIGKILL:
        return True
    assert proc.returncode == 0, (out.parent / f"{out.name}.log").read_text()[-3000:]
    return False


@pytest.fixture(scope="module")
def resumed(mtg_corpus, tmp_path_factory):
    """The same config built into a new folder through a kill at every point, then a rerun."""
    out = tmp_path_factory.mktemp("resumed") / "corpus"
    killed = {name: run_until(mtg_corpus.config, out, point) for name, point in KILL_POINTS.items()}
    final = build(mtg_corpus.config, out)
    return out, killed, final.stderr


@pytest.mark.faults
def test_killed_builds_resume_to_the_same_bytes(mtg_corpus, resumed, fault_log):
    out, killed, _ = resumed
    want, have = tree(mtg_corpus.corpus), tree(out)
    differing = [name for name in want if have.get(name) != want[name]] + sorted(set(have) - set(want))
    books = json.loads((out / "stats.json").read_text())["sources"]
    for name in KILL_POINTS:  # the reliability suite's table (tests/support/fault_table.py)
        fault_log.add(f"SIGKILL {name}, then rerun", ("killed; " if killed[name] else "finished first; ")
                      + ("rerun byte-identical" if not differing else f"{len(differing)} file(s) differ"),
                      ingested=books["ingested"], accepted=books["accepted"], rejected=books["rejected"])
    for name in KILL_POINTS:
        assert killed[name], f"the build finished without passing the kill point '{name}'"
    assert sorted(have) == sorted(want)
    assert [name for name in want if have[name] != want[name]] == []
    assert books["ingested"] == books["accepted"] + books["rejected"]
    assert any(name.startswith(f"{LEDGER}/") for name in want)  # the compacted ledger is compared too


def test_the_rerun_restored_committed_items_instead_of_redoing_them(mtg_corpus, resumed):
    _, _, log = resumed
    restored = int(re.search(r"resumed: (\d+) source item", log).group(1))
    stats = (mtg_corpus.corpus / "stats.json").read_text()
    unique = int(re.search(r'"unique": (\d+)', stats).group(1))
    # Everything but the item whose audio is missing (retried on every run, as a network error
    # would be) was settled by the killed runs.
    assert restored == unique - 1


def test_a_complete_build_leaves_a_compact_ledger(mtg_corpus):
    files = sorted(p.name for p in (mtg_corpus.corpus / LEDGER).glob("*/*"))
    assert files and all(name.startswith("compact-") for name in files)
    shards = sum(p.stat().st_size for p in (mtg_corpus.corpus / "shards").glob("*.tar"))
    ledger = sum(p.stat().st_size for p in (mtg_corpus.corpus / LEDGER).glob("*/*"))
    assert ledger < shards / 4  # the audio lives in the shards only


def samples(corpus: pathlib.Path) -> dict[str, dict]:
    shards = sorted(str(p) for p in corpus.glob("shards/*.tar"))
    return {s["__key__"]: {k: v for k, v in s.items() if not k.startswith("__")}
            for s in wds.WebDataset(shards, shardshuffle=False)}


def test_rerun_retries_only_what_failed_per_sample(mtg_corpus, resumed):
    """A complete corpus; the missing file appears and every other audio file is gone. The rerun
    must take every finished sample from the ledger and shards (it could not decode them now) and
    process only the failed item, whose clips join shards next to restored samples. (The config's
    paths are part of its hash, so this works on the same inputs, put back afterwards.)"""
    out = resumed[0]
    rejects = pq.read_table(out / "rejects.parquet").to_pylist()
    missing = next(r for r in rejects if r["reason"] == "missing_file")
    audio = mtg_corpus.root / "audio"
    aside = mtg_corpus.root / "audio-aside"
    target = audio / missing["detail"].split("/audio/", 1)[1]
    audio.rename(aside)
    try:
        target.parent.mkdir(parents=True)
        sf.write(target, tone("a fresh recording"), RATE, format="FLAC")
        done = build(mtg_corpus.config, out)
    finally:
        shutil.rmtree(audio)
        aside.rename(audio)
    before, after = samples(mtg_corpus.corpus), samples(out)
    new = sorted(set(after) - set(before))
    assert len(new) == 2 and all(k.startswith(missing["key"]) for k in new)
    assert all(after[k] == before[k] for k in before)  # every earlier sample, byte for byte
    now = pq.read_table(out / "rejects.parquet").to_pylist()
    assert [r for r in now if r["reason"] == "missing_file"] == []
    assert len(now) == len(rejects) - 1
    unique = int(re.search(r'"unique": (\d+)', (out / "stats.json").read_text()).group(1))
    assert int(re.search(r"resumed: (\d+) source item", done.stderr).group(1)) == unique - 1
    # The shard that took the new clips also holds restored samples: the retry was per sample.
    rows = pq.read_table(out / "clips").to_pylist()
    shard = next(r["shard"] for r in rows if r["key"] == new[0])
    assert sum(r["shard"] == shard and r["key"] not in new for r in rows) > 0


# --- captions that failed for now: the endpoint killed mid-run, started again, then a rerun ---

CAPTION_CONFIG = """
name: outage
inputs: [{{type: manifest, path: items.jsonl, columns: {{id: id, path: path, tags: tags}}}}]
captions:
  models:
    - backend: openai
      name: api
      base_url: "{url}"
      model: "{model}"
      tasks: [writing, summary]
      generation: {{max_new_tokens: 8}}
      # One request at a time: the server answers each alone, so its answers do not depend on
      # which requests it batched, and the kill lands after exactly KILL_AFTER answers.
      concurrency: 1
      batch_size: 2
      max_retries: 1
      backoff_s: 0.01
      timeout_s: 120
segment: {{window_s: 3.0, min_tail_s: 0.5}}
resources: {{workers: 1}}
quality: {{min_duration_s: 0.5}}
audio: {{sample_rate: 16000}}
stats: {{speech: false}}
attributes: {{extractors: []}}
"""
OUTAGE_ITEMS = 4  # one clip each, two prompts per clip
KILL_AFTER = 3  # requests answered before `transformers serve` is killed


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """One corpus built through an endpoint outage and a rerun, and one built without an outage,
    from the same config. The endpoint is `transformers serve` with the tiny LM, behind a proxy
    of ours (FaultServer) that counts the requests and SIGKILLs the server as the request after
    the KILL_AFTER-th arrives. -> namespace of the corpora, request counts and rejects per run."""
    from audio_files import write_audio
    from fault_helpers import build_under_watchdog
    from openai_servers import FaultServer, start_transformers_serve
    from tiny_models import build_causal_lm

    root = tmp_path_factory.mktemp("outage")
    model = build_causal_lm(root / "tiny-lm")
    rows = []
    for n in range(OUTAGE_ITEMS):
        write_audio(root / "audio" / f"t{n}.wav", seconds=2.0, freq=220.0 + 55 * n)
        rows.append({"id": f"t{n}", "path": f"audio/t{n}.wav", "tags": ["rock,guitar", "jazz,piano", "ambient,synth",
                                                                         "folk,violin"][n]})
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = str(root / "serve.log")
    serve, url = start_transformers_serve(str(model), log)
    state = {"serve": serve, "kill": False}

    def on_request(number: int) -> None:
        if state["kill"] and number == KILL_AFTER + 1:
            os.kill(state["serve"].pid, signal.SIGKILL)
            state["serve"].wait()

    out = types.SimpleNamespace()
    try:
        with FaultServer(upstream=url, on_request=on_request) as proxy:
            def run(output: str) -> int:
                """The config built into `output` (not part of its hash); -> requests the endpoint got."""
                config = root / "config.yaml"
                config.write_text(CAPTION_CONFIG.format(url=proxy.base_url, model=model) + f"output: {output}\n")
                before = len(proxy.log)
                build_under_watchdog(config)
                return len(proxy.log) - before

            state["kill"] = True
            out.first_requests = run("resumed")
            state["kill"] = False
            out.first_rejects = pq.read_table(root / "resumed" / "rejects.parquet").to_pylist()
            assert state["serve"].poll() is not None, "the server was not killed mid-run"
            state["serve"], proxy.upstream = start_transformers_serve(str(model), log)
            # The rerun must take every clip from the ledger: no decode, so no audio needed.
            (root / "audio").rename(root / "audio-aside")
            try:
                out.rerun_requests = run("resumed")
            finally:
                (root / "audio-aside").rename(root / "audio")
            out.after_rerun = tree(root / "resumed")
            out.third_requests = run("resumed")
            out.third = tree(root / "resumed")
            out.reference_requests = run("reference")
            out.reference = tree(root / "reference")
            out.resumed_rejects = pq.read_table(root / "resumed" / "rejects.parquet").to_pylist()
    finally:
        if state["serve"].poll() is None:
            state["serve"].terminate()
            state["serve"].wait(15)
    return out


def test_captions_lost_to_an_endpoint_outage_are_filled_in_by_a_rerun(outage):
    failed = [r for r in outage.first_rejects if r["stage"] == "captions" and r["transient"]]
    # The kill landed mid-run: some requests were answered, the rest failed for now, each named.
    assert 0 < len(failed) <= 2 * OUTAGE_ITEMS - KILL_AFTER
    assert {r["reason"] for r in failed} == {"endpoint_unreachable"}
    assert {r["part"] for r in failed} <= {"api/lpmc-writing@1", "api/lpmc-summary@1"}
    # The rerun asked for exactly the failed captions, once each (the server is up again) ...
    assert outage.rerun_requests == len(failed)
    # ... and the corpus is byte for byte the one an uninterrupted build makes.
    assert outage.reference_requests == 2 * OUTAGE_ITEMS
    differing = sorted(n for n in set(outage.reference) | set(outage.after_rerun)
                       if outage.reference.get(n) != outage.after_rerun.get(n))
    assert differing == []
    assert [r for r in outage.resumed_rejects if r["transient"]] == []


def test_a_rerun_with_nothing_failed_asks_the_model_nothing(outage):
    assert outage.third_requests == 0
    assert outage.third == outage.after_rerun
