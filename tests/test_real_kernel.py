"""gupaudit on a real Linux 6.1 tree: verdicts checked by reading the kernel source.

The tree comes from tests/realkernel.py ($GUPAUDIT_KERNEL_6_1, ../shared/corpus/get-kernel
6.1 or ``gupaudit fetch 6.1``); without one the tests skip, saying why.

Each expectation below was checked by reading the function in Linux 6.1 (Debian's
6.1.x linux-source); the comment says what decides it. Sites are named by path, function
and API rather than line, so a stable point release does not break them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import realkernel

pytestmark = pytest.mark.realkernel


def scan() -> dict:
    return realkernel.scan("6.1")


def kernel_tree() -> Path | None:
    return realkernel.kernel_tree("6.1")


def sites(path: str, function: str, api: str) -> list[dict]:
    return realkernel.sites("6.1", path, function, api)


# (path, function, api, status, why — as read in the 6.1 source)
VERDICTS = [
    ("drivers/infiniband/core/umem.c", "ib_umem_get", "pin_user_pages_fast", "converted",
     "pins with FOLL_LONGTERM, unpins with unpin_user_pages_dirty_lock() via __ib_umem_release"),
    ("mm/process_vm_access.c", "process_vm_rw_single_vec", "pin_user_pages_remote", "converted",
     "copies with copy_page_to_iter(), then unpin_user_pages_dirty_lock()"),
    ("drivers/vfio/vfio_iommu_type1.c", "vaddr_get_pfns", "pin_user_pages_remote", "converted",
     "page_to_pfn() for the IOMMU, unpin_user_page() on the error path"),
    ("drivers/gpu/drm/radeon/radeon_ttm.c", "radeon_ttm_tt_pin_userptr", "get_user_pages",
     "unconverted", "DMA-mapped and bound into the GART; radeon_mn.c's interval notifier is "
     "registered only for userptrs created with the register flag (read-only ones may skip "
     "it), so the pages are not guarded on every path (issue 13's answer key, both trees)"),
    ("drivers/vhost/vhost.c", "set_bit_to_user", "pin_user_pages_fast", "converted",
     "unpin_user_pages_dirty_lock() right after the kmap'd bit is set"),
    ("drivers/infiniband/hw/qib/qib_user_sdma.c", "qib_user_sdma_pin_pages",
     "pin_user_pages_fast", "converted", "DMA-mapped frags, unpin_user_page() on free"),
    ("drivers/gpu/drm/etnaviv/etnaviv_gem.c", "etnaviv_gem_userptr_get_pages",
     "pin_user_pages_fast", "converted",
     "pins into pvec + pinned, keeps pvec in etnaviv_obj->pages, unpinned in userptr_release"),
    ("fs/direct-io.c", "dio_refill_pages", "iov_iter_get_pages2", "unconverted",
     "Direct IO: dio->pages go into the bio; put_page() in dio_cleanup"),
    ("net/core/datagram.c", "__zerocopy_sg_from_iter", "iov_iter_get_pages2", "unconverted",
     "zerocopy skb frags the NIC DMAs from (skb_fill_page_desc_noacc)"),
    ("security/tomoyo/domain.c", "tomoyo_dump_page", "get_user_pages_remote", "gup-ok",
     "copies the argument strings out through kmap, put_page() in the same function"),
    ("drivers/misc/bcm-vk/bcm_vk_sg.c", "bcm_vk_dma_alloc", "get_user_pages_fast", "unconverted",
     "dma_map_page() of each page for the card's DMA; put_page() in bcm_vk_dma_free"),
    ("block/bio.c", "__bio_iov_iter_get_pages", "iov_iter_get_pages2", "unconverted",
     "Direct IO: the pages go into the bio with bio_add_page()"),
    ("net/tls/tls_sw.c", "tls_setup_from_iter", "iov_iter_get_pages2", "unconverted",
     "sg_set_page() into the crypto scatterlist; put_page() in tls_decrypt_sg"),
    ("kernel/events/uprobes.c", "__update_ref_ctr", "get_user_pages_remote", "gup-ok",
     "kmap_atomic(), adjust the counter, put_page() in the same function"),
    ("kernel/events/uprobes.c", "is_trap_at_addr", "get_user_pages_remote", "gup-ok",
     "copy_from_page() reads the opcode, put_page() right after"),
    ("kernel/futex/core.c", "get_futex_key", "get_user_pages_fast", "gup-ok",
     "only the page/folio identity is used for the key"),
    ("mm/madvise.c", "madvise_inject_error", "get_user_pages_fast", "gup-ok",
     "page_to_pfn() for memory_failure()"),
    ("virt/kvm/async_pf.c", "async_pf_execute", "get_user_pages_remote", "gup-ok",
     "NULL pages: only faults the page in"),
    ("drivers/virt/acrn/hsm.c", "acrn_dev_ioctl", "pin_user_pages_fast", "mismatch",
     "pins vm->monitor_page; acrn_vm_destroy() (vm.c:85) releases it with put_page()"),
]


@pytest.mark.parametrize(("path", "function", "api", "status", "why"), VERDICTS,
                         ids=[f"{v[0]}:{v[1]}" for v in VERDICTS])
def test_verdict(path: str, function: str, api: str, status: str, why: str) -> None:
    got = {s["status"] for s in sites(path, function, api)}
    assert got == {status}, f"{path}:{function}(): {why}"


def test_whole_tree_summary() -> None:
    doc = scan()
    assert doc["tree"]["api_era"] == "pin" and doc["tree"]["kernel_version"].startswith("6.1.")
    assert doc["summary"]["internal_errors"] == 0
    # API implementations are not sites: nothing from mm/gup.c or lib/iov_iter.c.
    assert not [s for s in doc["sites"] if s["path"] in ("mm/gup.c", "lib/iov_iter.c")]
    # goldfish's 6.1 driver pins with the real API and unpins in a same-file helper.
    assert {s["status"] for s in sites("drivers/platform/goldfish/goldfish_pipe.c",
                                       "goldfish_pin_pages", "pin_user_pages_fast")} == {
        "converted"}


def test_a_caller_that_forgets_the_pages_it_was_handed() -> None:
    # io_sqe_buffer_register(): io_pin_pages() succeeds, then kvmalloc() of imu fails and
    # "goto done" frees imu and the pages array but never unpins (6.12 unpins there).
    (site,) = sites("io_uring/rsrc.c", "io_pin_pages", "pin_user_pages")
    assert "GUP106" in site["rules"]
    assert {k["function"] for k in site["leaks"]} == {"io_sqe_buffer_register"}
    assert "in its caller io_sqe_buffer_register()" in " ".join(
        f["message"] for f in site["findings"])


def test_refuted_leaks_stay_quiet() -> None:
    # siw_umem_get(): every chunk array is stored in umem->page_chunk[i].plist before it
    # is filled, and siw_umem_release() unpins umem->num_pages of them on every failure.
    # via_lock_all_dma_pages(): the object records dr_via_pages_locked before the error
    # return, and the caller's via_free_sg_info() unpins.
    for path, function, api in (
            ("drivers/infiniband/sw/siw/siw_mem.c", "siw_umem_get", "pin_user_pages"),
            ("drivers/gpu/drm/via/via_dri1.c", "via_lock_all_dma_pages", "pin_user_pages_fast")):
        for site in sites(path, function, api):
            assert "GUP106" not in site["rules"], (path, function, site["leaks"])


# Files whose most specific MAINTAINERS section is compared with get_maintainer.pl's.
MAINTAINED = ["fs/fuse/file.c", "block/bio.c", "fs/smb/client/file.c",
              "drivers/gpu/drm/radeon/radeon_ttm.c", "kernel/events/uprobes.c",
              "drivers/infiniband/core/umem.c", "drivers/misc/bcm-vk/bcm_vk_sg.c",
              "net/tls/tls_sw.c", "arch/s390/kvm/interrupt.c", "drivers/vhost/vhost.c"]


@pytest.mark.skipif(shutil.which("perl") is None, reason="no perl to run get_maintainer.pl")
def test_sections_agree_with_get_maintainer() -> None:
    tree = kernel_tree()
    if tree is None:
        pytest.skip("no Linux 6.1 tree")
    ours = {s["path"]: s["section"] for s in scan()["sites"]}
    for path in MAINTAINED:
        out = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git", "--no-keywords",
                              "--sections", "-f", path], cwd=tree, capture_output=True,
                             text=True, check=False,
                             # get_maintainer.pl breaks ties in Perl hash order: pin it.
                             env={**os.environ, "PERL_HASH_SEED": "0"}).stdout
        theirs = next(line.strip() for line in out.splitlines() if line.strip())
        assert ours[path] == theirs, path


def test_todo_files_for_the_named_groups(tmp_path) -> None:
    tree = kernel_tree()
    if tree is None:
        pytest.skip("no Linux 6.1 tree")
    out = subprocess.run([sys.executable, "-m", "gupaudit", "todo", str(tree), "--out",
                          str(tmp_path)], capture_output=True, text=True, check=False,
                         cwd=tempfile.gettempdir())
    assert out.returncode == 0, out.stderr
    expected = {"group-fuse.md": ("fs/fuse/", "Miklos Szeredi"),
                "group-bio.md": ("block/", "Jens Axboe"),
                "group-cifs.md": ("fs/smb/client/", "Steve French"),
                "group-drm-amd.md": ("drivers/gpu/drm/radeon/", "Alex Deucher")}
    for name, (prefix, maintainer) in expected.items():
        lines = (tmp_path / name).read_text().splitlines()
        to = next(line for line in lines if line.startswith("To: "))
        assert maintainer in to, name
        items = [line for line in lines if line.startswith(("- [ ] `", "- [x] `"))]
        assert any(f"`{prefix}" in line for line in items), name
