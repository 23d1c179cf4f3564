"""Remote example datasets: downloaded on first use, checked against a SHA-256, cached.

``ml.datasets.load("imm10")`` loads the multilevel lesson's data (Kreft & de Leeuw's 10-school
subset of NELS-88), which is not bundled: its licence is unclear, so `multilevel` ships only
its address and checksum. The first call downloads the file, checks its SHA-256 and keeps it in
the cache folder; later calls read the cached copy (offline too).

Where the files live (first that applies):

* ``$MULTILEVEL_DATA`` -- a folder of your own: a file with the dataset's name there (e.g.
  ``imm10.csv``, copied by hand) is used when its checksum matches, and downloads go there;
* ``$XDG_CACHE_HOME/multilevel/datasets``;
* the user cache folder: ``~/Library/Caches/multilevel/datasets`` (macOS),
  ``%LOCALAPPDATA%\\multilevel\\Cache\\datasets`` (Windows), ``~/.cache/multilevel/datasets``.

``load("imm10", path="imm10.csv")`` reads a local copy instead (checked too).
``MULTILEVEL_OFFLINE=1`` never downloads (a clear error says what to do instead).
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError, two_line

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RemoteDataset", "REGISTRY", "cache_dir", "fetch", "load_remote", "local_copy"]

_TIMEOUT = 20.0
_MAX_BYTES = 50 * 2**20


@dataclass(frozen=True)
class RemoteDataset:
    """One registered dataset: where it is, what it must hash to, what it is."""

    name: str
    filename: str
    url: str
    sha256: str
    nrow: int
    ncol: int
    description: str
    source: str


REGISTRY: dict[str, RemoteDataset] = {
    d.name: d
    for d in [
        # The URL pins a commit of a public GitHub repository holding the lesson's file. How it
        # was verified (2026-12-03): the repository's git snapshot at that commit was read and
        # the blob imm10.csv (git blob 065f6f56...) hashes to the SHA-256 below, the SHA-256 of
        # the lesson's ../shared/data/imm10.csv (15,682 bytes, 260 rows). Nothing is bundled:
        # the file carries no licence; the download happens on the user's machine.
        RemoteDataset(
            "imm10", "imm10.csv",
            "https://raw.githubusercontent.com/srk7774/data/"
            "269f61a072e370af8dfd5c9490e591a6e323edb5/imm10.csv",
            "6c7d58af919f820f867eaafc14b36b839546f6a31bea662c1355db7b09b8ddb2",
            260, 19,
            "Maths scores and homework of 260 eighth-graders in 10 US schools (the multilevel "
            "lesson's data; Kreft and de Leeuw's subset of NELS-88)",
            "Kreft & de Leeuw (1998), Introducing Multilevel Modeling; NELS-88",
        ),
    ]
}


def _user_cache() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "multilevel"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "multilevel" / "Cache"
    return Path.home() / ".cache" / "multilevel"


def cache_dir() -> Path:
    """The folder remote datasets are kept in (see the module docstring for the order).

    Examples
    --------
    >>> import os
    >>> before = os.environ.get("MULTILEVEL_DATA")
    >>> os.environ["MULTILEVEL_DATA"] = "/tmp/ml-data"
    >>> str(cache_dir())
    '/tmp/ml-data'
    >>> _ = os.environ.pop("MULTILEVEL_DATA") if before is None else os.environ.update(
    ...     MULTILEVEL_DATA=before)
    """
    if os.environ.get("MULTILEVEL_DATA"):
        return Path(os.environ["MULTILEVEL_DATA"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "multilevel" / "datasets"
    return _user_cache() / "datasets"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checked(ds: RemoteDataset, path: Path, label: str) -> Path:
    got = _sha256(path)
    if got != ds.sha256:
        raise DataError(two_line(
            f"{label} is not the {ds.name} dataset (checksum mismatch: SHA-256 {got[:12]}..., "
            f"expected {ds.sha256[:12]}...); it was refused",
            f"use an unchanged copy of {ds.url}"))
    return path


def local_copy(name: str) -> Path | None:
    """The verified local file of a registered dataset, if there is one (no download).

    Examples
    --------
    >>> local_copy("imm10") is None or local_copy("imm10").name == "imm10.csv"
    True
    """
    ds = REGISTRY[name]
    path = cache_dir() / ds.filename
    if path.is_file():
        try:
            return _checked(ds, path, f"the cached file {str(path)!r}")
        except DataError:
            return None
    return None


def _offline_fix(ds: RemoteDataset) -> str:
    return (f"download {ds.url} yourself and pass path= (ml.datasets.load({ds.name!r}, "
            f"path='{ds.filename}')), or put it in the folder $MULTILEVEL_DATA names")


def fetch(name: str, *, path: str | os.PathLike | None = None,
          timeout: float = _TIMEOUT) -> Path:
    """The local path of a registered dataset: ``path`` if given, else the cached file,
    else a fresh download (verified, then moved into the cache folder atomically).

    Raises
    ------
    DataError
        A checksum mismatch (the file is refused, and a bad download is deleted), or no
        network (``MULTILEVEL_OFFLINE=1`` too), with what to do instead.
    """
    ds = REGISTRY[name]
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(two_line(f"no file {str(p)!r}", f"give the path of {ds.filename}"))
        return _checked(ds, p, f"the file {str(p)!r}")
    cached = local_copy(name)
    if cached is not None:
        return cached
    if os.environ.get("MULTILEVEL_OFFLINE", "") not in ("", "0"):
        raise DataError(two_line(f"the {ds.name} dataset is not cached and MULTILEVEL_OFFLINE "
                                 "is set", _offline_fix(ds)))
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(two_line(f"cannot create the data folder {str(folder)!r}: {e}",
                                 "set MULTILEVEL_DATA to a folder you can write")) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{ds.filename}.", dir=folder)
    try:
        try:
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(ds.url, timeout=timeout) as resp:  # noqa: S310
                total = 0
                for block in iter(lambda: resp.read(1 << 16), b""):
                    total += len(block)
                    if total > _MAX_BYTES:
                        raise DataError(two_line(f"{ds.url} is larger than expected",
                                                 _offline_fix(ds)))
                    out.write(block)
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise DataError(two_line(
                f"cannot download the {ds.name} dataset (offline?): {reason}",
                _offline_fix(ds))) from None
        _checked(ds, Path(tmp), f"the file downloaded from {ds.url}")
        final = folder / ds.filename
        os.replace(tmp, final)
        return final
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_remote(name: str, *, path: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read a registered dataset (downloading it on first use) as a pandas DataFrame."""
    import pandas as pd

    frame = pd.read_csv(fetch(name, path=path))
    frame.attrs["name"] = name
    return frame
