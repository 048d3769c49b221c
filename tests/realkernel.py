"""Real Linux trees for the tests that check verdicts on them.

A tree comes from $GUPAUDIT_KERNEL_<VERSION> (dots as underscores: GUPAUDIT_KERNEL_6_1,
GUPAUDIT_KERNEL_LATEST), else the tree ../shared/corpus/get-kernel VERSION unpacked before
($GUPAUDIT_CORPUS, default ~/.cache/gupaudit-corpus), else that script (next to the
checkout, as on the project's machines), else ``gupaudit fetch`` where apt can get Debian's
linux-source; with none of these the tests skip, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@cache
def kernel_tree(version: str) -> Path | None:
    env = os.environ.get("GUPAUDIT_KERNEL_" + version.replace(".", "_").upper())
    if env:
        return Path(env)
    # Where ../shared/corpus/get-kernel keeps its trees, when it ran on this machine before.
    corpus = Path(os.environ.get("GUPAUDIT_CORPUS", Path.home() / ".cache" / "gupaudit-corpus"))
    if (corpus / f"linux-{version}" / "Makefile").is_file():
        return corpus / f"linux-{version}"
    script = REPO.parent / "shared" / "corpus" / "get-kernel"
    if script.exists():
        out = subprocess.run([str(script), version], capture_output=True, text=True,
                             check=False)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip().splitlines()[-1])
    if shutil.which("apt-get") and os.environ.get("GUPAUDIT_FETCH", "1") == "1":
        # `gupaudit fetch` alone takes the newest linux-source apt offers.
        args = [] if version == "latest" else [version]
        out = subprocess.run([sys.executable, "-m", "gupaudit", "fetch", *args],
                             capture_output=True, text=True, check=False)
        if out.returncode == 0:
            return Path(out.stdout.strip().splitlines()[-1])
    return None


def tree_or_skip(version: str) -> Path:
    tree = kernel_tree(version)
    if tree is None:
        pytest.skip(f"no Linux {version} tree: set GUPAUDIT_KERNEL_"
                    f"{version.replace('.', '_').upper()} or let apt fetch linux-source")
    return tree


@cache
def scan(version: str) -> dict:
    """``gupaudit scan TREE --format json`` of that tree, as a user runs it."""
    tree = tree_or_skip(version)
    out = subprocess.run([sys.executable, "-m", "gupaudit", "scan", str(tree), "--format",
                          "json"], capture_output=True, text=True, check=False,
                         cwd=tempfile.gettempdir())
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def sites(version: str, path: str, function: str, api: str) -> list[dict]:
    found = [s for s in scan(version)["sites"]
             if (s["path"], s["function"], s["api"]) == (path, function, api)]
    assert found, f"no {api}() site in {path}:{function}()"
    return found
