"""Fetch one pinned file of a PyPI project (a wheel or an sdist) and unpack it, for the development corpus.

The file is found through PyPI's JSON API (``/pypi/<project>/json``, its ``releases``), downloaded
once into ``cache/pypi``, checked against the SHA-256 the source pins, and unpacked (zip or tar,
regular files only) into ``cache/x/<file name>``. Nothing is installed and no code of the package runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

INDEX = "https://pypi.org/pypi/"
ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2")


class FetchError(RuntimeError):
    """A PyPI file that cannot be found, downloaded, verified or unpacked."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_url(project: str, version: str, filename: str, index: str = INDEX) -> str:
    """The download address of ``filename`` in ``project``'s release ``version``."""
    api = f"{index}{project}/json"
    try:
        with urllib.request.urlopen(api, timeout=60) as response:
            data = json.load(response)
    except (OSError, ValueError) as err:
        raise FetchError(f"{api}: {err}") from err
    for entry in data.get("releases", {}).get(version, []):
        if entry.get("filename") == filename:
            return urljoin(api, entry["url"])
    raise FetchError(f"PyPI has no file {filename} in {project} {version}")


def unpack(archive: Path, tree: Path) -> None:
    """Unpack a wheel, zip or tarball's regular files into ``tree`` (no links, no paths outside it)."""
    tree.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tree)  # zipfile drops absolute paths and '..' components
        return
    with tarfile.open(archive) as tarred:
        members = [m for m in tarred.getmembers() if m.isfile() or m.isdir()]
        tarred.extractall(tree, members=members, filter="data")


def fetch_pypi(project: str, version: str, filename: str, sha256: str, cache: Path) -> tuple[Path, str]:
    """The unpacked tree and version of one pinned PyPI file, downloaded, verified and unpacked once."""
    if not filename.endswith(ARCHIVES):
        raise FetchError(f"{filename}: not a wheel, zip or tarball")
    folder = cache / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / filename
    if not archive.exists():
        url = release_url(project, version, filename)
        part = archive.with_name(archive.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=120) as response, part.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as err:
            raise FetchError(f"{url}: {err}") from err
        part.replace(archive)
    found = file_sha256(archive)
    if found != sha256:
        raise FetchError(f"{archive}: SHA-256 {found}, expected {sha256}; delete it to download it again")
    tree = cache / "x" / filename
    if not (tree / ".unpacked").exists():
        unpack(archive, tree)
        (tree / ".unpacked").touch()
    return tree, version
