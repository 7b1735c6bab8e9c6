"""Security: hostile ids, paths and text in ONE real build — nothing escapes the output folder.

The manifest's ids try path traversal (`../../etc/x`, `/abs`, `a/../../b`, Windows `..\\`), NUL,
very long and unicode ids and shell metacharacters; its paths try to read files outside the
input's roots (`..`, absolute paths, file://, /etc/passwd, a symlink out of the folder); its text
carries markup. The build must: keep the ids as data (they land), write nothing outside its
output folder, run no shell, write shard members that are flat, relative, normalised names,
reject every path outside the roots (`path_outside_roots`) unless the config's `allowed_roots`
lets it in, and escape every piece of input text in report.html and the dataset card.
"""

from __future__ import annotations

import ast
import html.parser
import json
import os
import pathlib
import posixpath
import re
import tarfile

import pytest
from fault_files import build_config, corpus_outcomes, ledger, write_tone
from media_server import serving

from tunescribe.pipelines.commands.build import run_build
from tunescribe.pipelines.config import ConfigError, load_config

pytestmark = pytest.mark.faults

REPO = pathlib.Path(__file__).resolve().parents[2]
XSS = "<script>alert('x')</script>"
PWNED = "PWNED_BY_TUNESCRIBE_INPUT"
HOSTILE_IDS = {  # id -> fault kind; each has its own audio and must land, id kept verbatim
    "../../etc/x": "id with ../ traversal",
    "/abs/id": "absolute id",
    "a/../../b": "id with a/../../b",
    "nul\x00id": "NUL in id",
    "..\\..\\windows\\x": "Windows ..\\ in id",
    "L" * 4000: "very long id (4000 chars)",
    "曲 ♪ ünï cödé": "unicode id",
    "...": "dots-only id",
    "a/b/c": "slashes in id",
    f"$(touch {PWNED})": "shell $() in id",
    f"`touch {PWNED}`; touch {PWNED}": "shell backticks and ; in id",
    f"<img src=x onerror=alert(1)>{XSS}": "markup in id",
}
REJECT_ID = f"{XSS} outside"  # markup in the id of a rejected row: it reaches the report's reject examples


def write_inputs(root: pathlib.Path) -> tuple[pathlib.Path, dict]:
    data, outside, allowed, folder = (root / n for n in ("data", "outside", "allowed", "folder"))
    secret = write_tone(outside / "secret.wav", "secret")
    write_tone(allowed / "extra.wav", "extra")
    rows, cases = [], {}

    def row(id_, path, kind, expected, **extra):
        rows.append({"id": id_, "file": path, "tags": ["piano", XSS], "licence": f"CC-BY-4.0 {XSS}",
                     "caption": f"<img src=x onerror=alert(2)> a calm piano {XSS}", **extra})
        cases[id_] = (kind, expected)

    for n, (id_, kind) in enumerate(HOSTILE_IDS.items()):
        write_tone(data / "audio" / f"id_{n}.wav", f"id_{n}")
        row(id_, f"audio/id_{n}.wav", kind, "lands", artist=f"<b>{id_}</b>")
    write_tone(data / "audio" / "ünï 曲 ♪.wav", "unicode")
    row("unicode_path", "audio/ünï 曲 ♪.wav", "unicode path", "lands")
    write_tone(data / "audio" / "dots.wav", "dots")
    row("dotdot_inside", "audio/../audio/./dots.wav", "path with .. staying inside", "lands")
    write_tone(data / "audio" / f"$(touch {PWNED}).wav", "shell_path")
    row("shell_path", f"audio/$(touch {PWNED}).wav", "shell $() in path", "lands")
    row("allowed_root", str(allowed / "extra.wav"), "absolute path inside allowed_roots", "lands")
    outside_paths = {
        "dotdot_out": ("../outside/secret.wav", "path ../ out of the manifest folder"),
        "abs_out": (str(secret), "absolute path outside the roots"),
        "file_url_out": (f"file://{secret}", "file:// URL outside the roots"),
        "etc_passwd": ("/etc/passwd", "/etc/passwd"),
        "symlink_out": ("audio/escape_link.wav", "symlink out of the manifest folder"),
        REJECT_ID: ("audio/../../outside/secret.wav", "audio/../../ out (markup in its id)"),
    }
    (data / "audio" / "escape_link.wav").symlink_to(secret)
    for id_, (path, kind) in outside_paths.items():
        row(id_, path, kind, ("ingest", "path_outside_roots"))
    row("nul_path", "audio/id_0.wav\x00.txt", "NUL in path", ("ingest", "bad_path"))
    # Markup in a path that is not there: it reaches the report as a reject detail.
    row("markup_path", f"audio/{XSS}.wav", "markup in a missing path (reject detail)", ("decode", "missing_file"))
    row("windows_path", "..\\outside\\secret.wav", "Windows ..\\ path (a file name on POSIX)", ("decode", "missing_file"))
    (data / "hostile.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    served = root / "served"
    write_tone(served / "remote_ok.wav", "remote_ok")
    (served / "remote.csv").write_text(f"id,path,tags\nremote_abs,{secret},piano\nremote_file_url,file://{secret},piano\n"
                                       "remote_ok,{url}/audio/remote_ok.wav,piano\n")
    cases["remote_abs"] = ("remote manifest naming a local absolute path", ("ingest", "path_outside_roots"))
    cases["remote_file_url"] = ("remote manifest naming a local file:// URL", ("ingest", "path_outside_roots"))
    cases["remote_ok"] = ("remote manifest naming remote audio", "lands")
    write_tone(folder / "inside.wav", "folder_inside")
    (folder / "link.wav").symlink_to(secret)
    cases["inside.wav"] = ("folder input: a file", "lands")
    cases["link.wav"] = ("folder input: symlink out of the folder", ("ingest", "path_outside_roots"))
    config = build_config(root, [
        {"type": "manifest", "path": "data/hostile.jsonl", "allowed_roots": ["allowed"], "columns": {
            "path": "file", "id": "id", "tags": ["tags"], "licence": "licence", "captions": ["caption"],
            "artist": "artist"}},
        {"type": "folder", "path": "folder", "licence": "CC0-1.0"},
        {"type": "manifest", "path": "{url}/manifest/remote.csv", "columns": {"path": "path", "id": "id", "tags": ["tags"]}},
    ], quality={"min_duration_s": 0.5, "require_caption": False, "captions": {"min_words": 1}})
    return config, cases


def files_under(root: pathlib.Path, skip: pathlib.Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if skip not in p.parents and p != skip}


@pytest.fixture(scope="module")
def secure_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    config, cases = write_inputs(root)
    corpus = root / "corpus"
    with serving(root / "served") as server:  # a real HTTP server for the remote manifest
        for path in (config, root / "served" / "remote.csv"):
            path.write_text(path.read_text().replace("{url}", server.url))
        before = files_under(root, corpus)
        cwd_before = set(os.listdir(os.getcwd()))
        stats = run_build(load_config(str(config)), [])
    accepted, rejected = corpus_outcomes(corpus)
    return {"root": root, "corpus": corpus, "stats": stats, "cases": cases, "accepted": accepted,
            "rejected": rejected, "new_outside": files_under(root, corpus) - before,
            "new_in_cwd": set(os.listdir(os.getcwd())) - cwd_before}


CASE_IDS = [*HOSTILE_IDS, "unicode_path", "dotdot_inside", "shell_path", "allowed_root", "dotdot_out", "abs_out",
            "file_url_out", "etc_passwd", "symlink_out", REJECT_ID, "nul_path", "markup_path", "windows_path", "inside.wav", "link.wav", "remote_abs",
            "remote_file_url", "remote_ok"]


@pytest.mark.parametrize("source_id", CASE_IDS, ids=range(len(CASE_IDS)))
def test_hostile_item(secure_build, fault_log, source_id):
    kind, expected = secure_build["cases"][source_id]
    got = secure_build["rejected"].get(source_id, set())
    landed = source_id in secure_build["accepted"]
    outcome = "lands" if landed and not got else ", ".join(f"reject {s}/{r}" for s, r in sorted(got)) or "LOST"
    fault_log.add(kind, outcome, ingested=1, accepted=int(landed), rejected=int(bool(got) and not landed))
    if expected == "lands":
        assert landed and not got, got
    else:
        assert not landed and got == {expected}, got


def test_every_item_accounted_and_nothing_written_outside_the_output(secure_build, fault_log):
    sources = ledger(secure_build["corpus"])
    assert sources["ingested"] == len(secure_build["cases"])
    assert secure_build["new_outside"] == set(), "the build wrote outside its output folder"
    assert secure_build["new_in_cwd"] == set()
    # `touch` run by a shell would create the file in the build's working folder (or a temp one).
    made = [p for where in (pathlib.Path.cwd(), pathlib.Path("/tmp"), pathlib.Path.home())
            for p in where.glob(f"*{PWNED}*")]
    made += [p for p in secure_build["root"].rglob(f"*{PWNED}*") if p.name != f"$(touch {PWNED}).wav"]
    assert made == [], "a shell ran input text"
    fault_log.add("security build (all hostile items)", "ran to the end; nothing outside the output",
                  ingested=sources["ingested"], accepted=sources["accepted"], rejected=sources["rejected"])


def test_ids_are_kept_verbatim_as_data(secure_build):
    rows = [json.loads(data) for shard in (secure_build["corpus"] / "shards").glob("*.tar")
            for data in _member_data(shard, ".json")]
    assert set(HOSTILE_IDS) <= {r["source_id"] for r in rows}


def _member_data(shard: pathlib.Path, suffix: str):
    with tarfile.open(shard) as tar:
        for m in tar.getmembers():
            if m.name.endswith(suffix):
                yield tar.extractfile(m).read()


def test_shard_members_are_flat_relative_normalised(secure_build, fault_log):
    shards = sorted((secure_build["corpus"] / "shards").glob("*.tar"))
    assert shards
    names = []
    for shard in shards:
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                names.append(m.name)
                assert m.isfile(), (shard.name, m.name, m.type)
                assert not posixpath.isabs(m.name) and posixpath.normpath(m.name) == m.name, m.name
                assert ".." not in m.name.split("/") and "\\" not in m.name and "\x00" not in m.name, m.name
                assert re.fullmatch(r"[0-9a-f]{16}_\d{5}\.(flac|json|txt)", m.name), m.name
    fault_log.add("tar members from hostile ids", f"{len(names)} members, all <hex>_<n>.<ext>")


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.bad_attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("src", "href") and value and not value.startswith(("data:", "#")):
                self.bad_attrs.append((tag, name, value))


def test_report_escapes_every_input_text(secure_build, fault_log):
    text = (secure_build["corpus"] / "report.html").read_text()
    parser = _Tags()
    parser.feed(text)
    assert "script" not in parser.tags and "b" not in parser.tags
    assert parser.bad_attrs == []
    assert "<script" not in text.lower() and "onerror=" not in text.replace("onerror=alert", "")
    assert "&lt;script&gt;alert(" in text  # the markup is there, as text (captions, tags, ids, rejects)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; outside" in text  # a rejected id
    assert "no file at" in text and "audio/&lt;script&gt;alert(" in text  # a reject detail
    fault_log.add("markup in ids/tags/captions/licences/rejects -> report.html", "escaped; no script, no on* attribute")


def test_validate_accepts_the_hostile_corpus(secure_build, capsys):
    from tunescribe.pipelines.cli import main

    assert main(["validate", str(secure_build["corpus"])]) == 0, capsys.readouterr()


def test_dataset_card_escapes_input_text(secure_build, fault_log):
    card = (secure_build["corpus"] / "README.md").read_text()
    body = card.split("\n---\n", 1)[1]
    assert "<script" not in body and "<img" not in body and "&lt;script&gt;" in body
    fault_log.add("markup in licences -> dataset card", "escaped in the card body")


def test_no_shell_is_ever_built():
    """No module runs a shell or builds a command line: no os.system/os.popen, no shell=True, and
    every subprocess call (none today) would get an argument list. yt-dlp is driven through its
    Python API (YoutubeDL), never its command line."""
    offences = []
    for path in [*REPO.glob("pipelines/**/*.py"), *REPO.glob("transforms/**/*.py"), *REPO.glob("schemas/**/*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func in ("os.system", "os.popen", "os.execl", "os.execlp", "os.spawnl", "commands.getoutput"):
                offences.append(f"{path}:{node.lineno} {func}")
            if any(k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                   for k in node.keywords):
                offences.append(f"{path}:{node.lineno} shell=")
            if func.startswith(("subprocess.", "asyncio.create_subprocess")) and node.args and \
                    not isinstance(node.args[0], (ast.List, ast.Tuple, ast.Name)):
                offences.append(f"{path}:{node.lineno} {func} with a command string")
    assert offences == []
    youtube = (REPO / "transforms/ingest/youtube.py").read_text()
    assert "YoutubeDL(" in youtube and "yt_dlp.main" not in youtube and "subprocess" not in youtube


def test_allowed_roots_are_checked_before_any_work(tmp_path):
    config = build_config(tmp_path, [{"type": "manifest", "path": "m.csv", "allowed_roots": ["no/such/folder"]}])
    (tmp_path / "m.csv").write_text("path\nx.wav\n")
    with pytest.raises(ConfigError, match=r"inputs\[0\].allowed_roots: .*no/such/folder is not a local folder"):
        run_build(load_config(str(config)), [])
    assert not (tmp_path / "corpus").exists()
