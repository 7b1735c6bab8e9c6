"""Named points where a build can be made to die on purpose, so crash tests kill it exactly there.

With `TUNESCRIBE_FAILPOINT=NAME` (or `NAME:N`) in the environment, the N-th time (default the
first) a process passes `reached(NAME)`, it SIGKILLs its process group: the build and its worker
processes die at once, as with `kill -9` or the OOM killer, with nothing flushed or cleaned up.
Without the variable `reached` does nothing. Crash tests start the build in a session of its own,
so the group is the build. The points, in build order:

  ledger_flushed  a batch of ledger records is on disk (the items they settle are restorable)
  shard_written   a shard's tar is in place, its commit marker not yet
  card_written    the dataset card is written, the manifest (the corpus is complete) not yet
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "TUNESCRIBE_FAILPOINT"

_passes: dict[str, int] = {}
_lock = threading.Lock()


def reached(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _passes[name] = _passes.get(name, 0) + 1
        if _passes[name] >= int(nth or 1):
            os.killpg(os.getpgrp(), signal.SIGKILL)
