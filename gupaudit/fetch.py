"""Fetches a real Linux tree for users who have none: Debian's linux-source package.

Not a pipeline stage: ``gupaudit fetch`` and the README's first command use it. It asks
the machine's own apt for ``linux-source[-VERSION]`` (``apt-get download`` needs no root
and changes nothing installed), unpacks the tarball the package carries into the cache
folder, and returns the tree's path. An existing tree is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from gupaudit.errors import InputError


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gupaudit" / "kernels"


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def fetch(version: str | None = None, dest: Path | None = None) -> Path:
    """Download and unpack linux-source[-VERSION]; the path of the unpacked tree."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise InputError("no apt-get on this machine to fetch Debian's linux-source; "
                         "pass your own kernel checkout instead")
    package = f"linux-source-{version}" if version else "linux-source"
    dest = dest or cache_dir()
    tree = dest / package
    if (tree / "Makefile").is_file() and (tree / "mm").is_dir():
        return tree
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=".fetch-") as tmp:
        work = Path(tmp)
        got = _run(["apt-get", "download", package], cwd=work)
        debs = sorted(work.glob("*.deb"))
        if got.returncode != 0 or not debs:
            reason = (got.stderr.strip().splitlines() or ["no package downloaded"])[-1]
            raise InputError(f"apt-get could not download {package} ({reason}); "
                             "pass your own kernel checkout instead")
        # linux-source is a metapackage: follow it to the versioned one.
        if package == "linux-source" and not _has_tarball(debs[0]):
            deps = _run(["dpkg-deb", "-f", str(debs[0]), "Depends"]).stdout
            versioned = next((d.strip().split()[0] for d in deps.split(",")
                              if d.strip().startswith("linux-source-")), None)
            if versioned is None:
                raise InputError("linux-source names no versioned package; "
                                 "pass your own kernel checkout instead")
            return fetch(versioned.removeprefix("linux-source-"), dest)
        payload = work / "payload"
        payload.mkdir()
        with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])],
                              stdout=subprocess.PIPE) as proc:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
                outer.extractall(payload, filter="data")
        tarballs = sorted(payload.glob("usr/src/linux-source-*.tar.*"))
        if not tarballs:
            raise InputError(f"{package} carries no source tarball")
        unpacked = work / "tree"
        with tarfile.open(tarballs[0]) as inner:
            inner.extractall(unpacked, filter="data")
        top = next(unpacked.iterdir())
        if tree.exists():
            shutil.rmtree(tree)
        top.rename(tree)
    return tree


def _has_tarball(deb: Path) -> bool:
    listing = _run(["dpkg-deb", "-c", str(deb)]).stdout
    return ".tar." in listing
