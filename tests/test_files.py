"""nwlab.files: the one home for atomic writes (cassettes, reports, snapshots, saved batches)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nwlab.files import atomic_writer, write_text


def test_a_new_file_is_whole_in_new_folders_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    assert write_text(target, "hello\n") == target
    assert target.read_bytes() == b"hello\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not a temporary file's 0600
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_replacing_keeps_the_old_files_permissions(tmp_path: Path) -> None:
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary_file(
        tmp_path: Path, failure: BaseException) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(type(failure)), atomic_writer(target) as handle:
        handle.write("half of the new")
        raise failure
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_lines_end_in_newline_whatever_the_platform(tmp_path: Path) -> None:
    with atomic_writer(tmp_path / "x.jsonl") as handle:
        handle.write("a\nb\n")
    assert (tmp_path / "x.jsonl").read_bytes() == b"a\nb\n"
