"""Writing the user's output files: atomically, so a failed run never leaves half a file."""

from __future__ import annotations

import os
from pathlib import Path

from gupaudit.errors import OutputError


def atomic_write(path: Path, text: str) -> Path:
    """Write through a temporary file beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.gupaudit-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
    return path
