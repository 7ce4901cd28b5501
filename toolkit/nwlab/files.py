"""Atomic file writes: a crash, a full disk or an interrupt leaves the old file or the new one,
never half of one. Cassettes, reports, snapshots and saved batches are written through here.

The text goes to a temporary file in the same folder (so the rename cannot cross file systems),
is flushed and fsynced, and only then renamed over the target (os.replace is atomic on POSIX and
Windows). The temporary file is removed if anything fails on the way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, encoding: str = "utf-8",
                  newline: str | None = "\n") -> Iterator[TextIO]:
    """A text handle whose content replaces `path` when the block ends without an exception.

    Missing parent folders are created. The new file gets the old file's permissions, or the
    usual ones for a new file (the process umask applies), not a temporary file's 0600.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _temporary(target)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(target.parent)


def write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; returns the path."""
    with atomic_writer(path, encoding=encoding) as handle:
        handle.write(text)
    return Path(path)


def _temporary(target: Path) -> tuple[str, int]:
    """A new hidden file beside the target (created, not guessed at: O_EXCL)."""
    for _ in range(100):
        name = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return str(name), os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: could not create a temporary file beside {target.name}")


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
