"""Where a local model comes from: a settings type without Beam, so the build config embeds it
(reading a config must not import Beam's ML stack, which imports torch); the handlers take it."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Literal, Optional

from pydantic import Field

from tunescribe.transforms.models.weights import file_sha256
from tunescribe.transforms.settings import Settings


class ModelSource(Settings):
    """Where a model comes from: a hub id (`org/name`) or a local folder, plus how to run it.

    A GGUF checkpoint is named either as the `.gguf` file itself or as a folder (or hub id) plus
    `gguf_file`; `checkpoint` reads the first form as the second. (When read, not validated: the
    config resolves a relative `model` against its own folder after validating.)"""

    model: str = Field(min_length=1)  # hub id, local folder or .gguf file
    revision: Optional[str] = None  # hub branch/tag/commit; ignored for local folders
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    local_files_only: bool = False  # never touch the network, even for hub ids
    trust_remote_code: bool = False
    # a GGUF checkpoint in `model` (transformers de-quantises it on load; needs the `gguf` package)
    gguf_file: Optional[str] = Field(None, pattern=r"\.gguf$")

    @property
    def checkpoint(self) -> tuple[str, Optional[str]]:
        """(what `from_pretrained` takes, the GGUF file in it if any)."""
        if self.gguf_file is None and self.model.endswith(".gguf"):
            return os.path.split(os.path.abspath(self.model))
        return self.model, self.gguf_file

    @property
    def pretrained(self) -> str:
        return self.checkpoint[0]

    @property
    def is_local(self) -> bool:
        return os.path.isdir(self.pretrained)

    @property
    def gguf_path(self) -> Optional[str]:
        """The local GGUF file, if the model is one."""
        folder, gguf = self.checkpoint
        return os.path.join(folder, gguf) if gguf and self.is_local else None

    def identity(self) -> tuple[str, str]:
        """(model id, revision) for provenance. A local folder has no hub revision, so its
        revision is a hash of its config files: a different model in the same folder shows.
        A local GGUF file is its own revision: its sha256."""
        folder, gguf = self.checkpoint
        if self.gguf_path:
            return gguf, gguf_sha256(self.gguf_path)
        if not self.is_local:
            return (f"{folder}/{gguf}" if gguf else folder), self.revision or "main"
        digest = hashlib.sha256()
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                with open(os.path.join(folder, name), "rb") as f:
                    digest.update(name.encode() + b"\0" + f.read())
        return os.path.basename(os.path.normpath(folder)), "local-" + digest.hexdigest()[:12]

    def from_pretrained_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.is_local or self.local_files_only:
            kwargs["local_files_only"] = True
        if self.revision and not self.is_local:
            kwargs["revision"] = self.revision
        if self.checkpoint[1]:
            kwargs["gguf_file"] = self.checkpoint[1]
        return kwargs


_GGUF_SHA256: dict[tuple, str] = {}


def gguf_sha256(path: str) -> str:
    """The file's sha256, hashed once per process and file version: identity() is asked for
    per worker and per stage, and a GGUF is tens to thousands of MB."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _GGUF_SHA256:
        _GGUF_SHA256[key] = file_sha256(path)
    return _GGUF_SHA256[key]
