"""The user's cache directory and the key that seals what sc-audit keeps there.

Kept apart from cache.py so that the whole-report cache (answers.py) can find its key before
anything heavy is imported: this module needs only `os` and `stat`.
"""

from __future__ import annotations

import os
import stat

KEY_BYTES = 32


def cache_base() -> str | None:
    """$XDG_CACHE_HOME, else ~/.cache; None when there is no home to keep it in."""
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(home, ".cache") if home != "~" else None)
    return base or None


def read_regular_file(path: os.PathLike | str, max_bytes: int) -> bytes | None:
    """The bytes of a regular file of at most `max_bytes`, not through a symbolic link: a link
    planted to /dev/zero or a FIFO must not hang the run. None for anything else."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        try:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                return None
            return stream.read(max_bytes + 1)
        except OSError:
            return None


def machine_key() -> bytes | None:
    """This user's cache key (made on first use, mode 0600, never in an audited tree); None when
    there is no user cache directory to keep it in."""
    base = cache_base()
    if base is None:
        return None
    path = os.path.join(base, "sc-audit", "key")
    key = read_regular_file(path, KEY_BYTES)
    if key is not None and len(key) == KEY_BYTES:
        return key
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(handle, "wb") as stream:
            stream.write(os.urandom(KEY_BYTES))
    except FileExistsError:
        pass  # another run made it at the same moment (or it is damaged): read what is there
    except OSError:
        return None
    key = read_regular_file(path, KEY_BYTES)
    return key if key is not None and len(key) == KEY_BYTES else None
