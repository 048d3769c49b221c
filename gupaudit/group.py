"""Stage 7, group: which subsystem a site belongs to.

For now by path (MAINTAINERS sections come with issue #5): the top directory and the next
one, one level deeper where a directory is a collection of subsystems (drivers/gpu/drm/amd,
drivers/media/pci, drivers/infiniband/hw, fs/smb/client ...).
"""

from __future__ import annotations

_DEEPER = ("drivers/gpu/drm", "drivers/media", "drivers/infiniband", "drivers/net/ethernet",
           "drivers/staging", "fs/smb", "arch/x86", "arch/powerpc", "arch/arm64", "drivers/misc",
           "drivers/virt")


def subsystem_of(path: str) -> str:
    parts = path.split("/")[:-1]
    if not parts:
        return "(top)"
    prefix = "/".join(parts[:3])
    depth = 2
    for deeper in _DEEPER:
        if prefix == deeper or prefix.startswith(deeper + "/"):
            depth = deeper.count("/") + 2
            break
    return "/".join(parts[:depth])
