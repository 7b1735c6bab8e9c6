"""The ingest path check (transforms/ingest/roots.py) on real files, links and folders."""

import os

import pytest

from tunescribe.schemas import SourceItem
from tunescribe.transforms.ingest.roots import KeepInsideRoots
from tunescribe.transforms.stage import Rejected

pytestmark = pytest.mark.faults


def check(roots, uri):
    dofn = KeepInsideRoots(roots)
    dofn.setup()
    return list(dofn.process(SourceItem(source_id="s", uri=str(uri), input_uri="m", order=(0, 1))))


@pytest.fixture
def tree(tmp_path):
    for folder in ("music", "music2", "other"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.wav").write_bytes(b"RIFF")
    return tmp_path


def test_inside_passes_and_prefix_lookalike_is_outside(tree):
    assert check([str(tree / "music")], tree / "music" / "a.wav")
    with pytest.raises(Rejected, match="path_outside_roots"):
        check([str(tree / "music")], tree / "music2" / "a.wav")  # a sibling that shares the prefix
    with pytest.raises(Rejected, match="path_outside_roots"):
        check([str(tree / "music")], f"{tree}/music/../other/a.wav")


def test_symlinks_count_where_they_point(tree):
    (tree / "music" / "out.wav").symlink_to(tree / "other" / "a.wav")
    with pytest.raises(Rejected, match="path_outside_roots"):
        check([str(tree / "music")], tree / "music" / "out.wav")
    (tree / "link_to_music").symlink_to(tree / "music")  # a root that is a link: its target is the root
    assert check([str(tree / "link_to_music")], tree / "music" / "a.wav")


def test_allowed_roots_widen_and_remote_uris_pass(tree):
    assert check([str(tree / "music"), str(tree / "other")], f"file://{tree}/other/a.wav")
    assert check(["/"], tree / "other" / "a.wav")
    assert check([], "https://example.org/a.wav")  # remote: the fetch stage's business
    with pytest.raises(Rejected, match="path_outside_roots"):
        check(["https://example.org/manifests"], tree / "music" / "a.wav")  # a remote input names a local file


def test_nul_folders_and_fifos_are_refused(tree):
    with pytest.raises(Rejected, match="bad_path"):
        check([str(tree)], f"{tree}/music/a.wav\x00.txt")
    with pytest.raises(Rejected, match="not_a_file"):
        check([str(tree)], tree / "music")
    os.mkfifo(tree / "music" / "pipe.wav")
    with pytest.raises(Rejected, match="not_a_file"):
        check([str(tree)], tree / "music" / "pipe.wav")
    assert check([str(tree)], tree / "music" / "missing.wav")  # the decoder reports it (missing_file)
