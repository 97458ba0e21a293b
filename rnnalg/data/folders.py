"""The data folders a named dataset is looked up in, and the one `rnnalg data fetch` fills.

A named dataset is taken from the first of these that has it:

    1. the package itself          the four music sets (registry.py), always, offline
    2. --data-dir DIR              a folder laid out as below
    3. $RNNALG_DATA                the same
    4. the cache                   $XDG_CACHE_HOME/rnnalg, else ~/.cache/rnnalg
                                   (macOS ~/Library/Caches/rnnalg, Windows %LOCALAPPDATA%/rnnalg)

A data folder holds `music/*.json`, `ptb/ptb.{split}.txt`, `ptb_char/ptb.char.{split}.txt`
(`dataset.NAMED` lists the files); a folder counts for a dataset only if it holds all of
its files.  `rnnalg data fetch` writes to --data-dir, else $RNNALG_DATA, else the cache.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

ENV = "RNNALG_DATA"
APP = "rnnalg"


@dataclass(frozen=True)
class Folder:
    """A candidate data folder and where it came from ('--data-dir', 'RNNALG_DATA', 'cache')."""

    origin: str
    path: Path

    def has(self, rel_paths) -> bool:
        return all((self.path / p).is_file() for p in rel_paths)

    def __str__(self) -> str:
        return f"{self.path} ({self.origin})"


def cache_dir() -> Path:
    """The per-user cache folder of rnnalg (XDG_CACHE_HOME is honoured on every platform)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / APP
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / APP / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    return Path.home() / ".cache" / APP


def search_path(data_dir: str | None = None) -> list[Folder]:
    """The folders to look in, in order (the package is not a folder: see registry.py).

    An explicit --data-dir that is not a directory is an error; an unset or empty
    RNNALG_DATA is skipped.
    """
    folders = []
    if data_dir:
        path = Path(data_dir).expanduser()
        if not path.is_dir():
            raise DataError(str(path), "data folder (from --data-dir) is not a directory; it should "
                            "hold music/, ptb/, ptb_char/")
        folders.append(Folder("--data-dir", path))
    if os.environ.get(ENV):
        folders.append(Folder(ENV, Path(os.environ[ENV]).expanduser()))
    folders.append(Folder("cache", cache_dir()))
    return folders


def store_folder(data_dir: str | None = None) -> Folder:
    """Where `rnnalg data fetch` writes: --data-dir, else $RNNALG_DATA, else the cache."""
    if data_dir:
        return Folder("--data-dir", Path(data_dir).expanduser())
    if os.environ.get(ENV):
        return Folder(ENV, Path(os.environ[ENV]).expanduser())
    return Folder("cache", cache_dir())


def locate(rel_paths, data_dir: str | None = None) -> Folder | None:
    """The first folder of `search_path` holding every file of `rel_paths`, or None."""
    return next((f for f in search_path(data_dir) if f.has(rel_paths)), None)


def find(name: str, rel_paths, data_dir: str | None, fetch_command: str | None) -> Folder:
    """`locate`, or a DataError that lists where it looked and says how to get the dataset."""
    found = locate(rel_paths, data_dir)
    if found is not None:
        return found
    folders = search_path(data_dir)
    looked = "; ".join(f"{f}{'' if f.path.is_dir() else ': no such folder'}" for f in folders)
    get = (f"run `{fetch_command}` to download it" if fetch_command else
           "put its files there")
    raise DataError(name, f"dataset '{name}' is not on this machine: {get} (or pass --data-dir DIR / "
                    f"set {ENV}=DIR to a folder holding {', '.join(rel_paths)}); looked in: {looked}")
