"""The link pass (on by default, --no-deep turns it off): a wrapper's callers, release
helpers, field readers and header accessors in other files, asked of the files that hold
them, in a work tree and in git history."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import FIXTURES

from gupaudit import discover, history, pipeline

XDIR = FIXTURES / "trees" / "xdir"
RELEASE = ("unpin_user_pages_dirty_lock", "drivers/bar/bar_pages.c", 13, "bar_release_pages")


def test_without_the_link_pass_the_release_is_not_found() -> None:
    (site,) = pipeline.scan(XDIR, jobs=1, deep=False, cache_path=None).sites
    assert (site.path, site.function, site.status.value) == (
        "drivers/bar/bar_pages.c", "bar_get_user_pages", "unknown")


def test_the_wrapper_is_followed_into_its_callers_file() -> None:
    for jobs in (1, 2):
        (site,) = pipeline.scan(XDIR, jobs=jobs, cache_path=None).sites
        assert site.status.value == "converted"
        assert [(r.api, r.path, r.line, r.function) for r in site.releases] == [RELEASE]


def test_link_verdicts_come_back_from_the_cache(tmp_path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(XDIR, tree)
    db = tmp_path / "cache.sqlite3"
    first = pipeline.scan(tree, jobs=1, cache_path=db).sites
    assert first[0].status.value == "converted"
    # The caller's file changes: the site's file must be asked again, not reused.
    caller = tree / "drivers" / "bar" / "bar_main.c"
    caller.write_text(caller.read_text().replace("bar_release_pages(", "bar_forget_pages("))
    (site,) = pipeline.scan(tree, jobs=1, cache_path=db).sites
    assert site.status.value == "unknown"


def test_history_takes_the_same_link_pass(tmp_path) -> None:
    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "repo"
    shutil.copytree(XDIR, repo)
    _commit_v1(repo)
    ((_, deep),) = history.history(repo, tags="v1", cache_path=None, jobs=1)
    ((_, shallow),) = history.history(repo, tags="v1", cache_path=None, jobs=1, deep=False)
    assert [s.status.value for s in deep.sites] == ["converted"]
    assert [(r.api, r.path, r.line, r.function) for r in deep.sites[0].releases] == [RELEASE]
    assert [s.status.value for s in shallow.sites] == ["unknown"]


HDR = FIXTURES / "trees" / "hdr"


def test_an_included_headers_accessor_reads_the_field_back() -> None:
    found = {s.path: s for s in pipeline.scan(HDR, jobs=1, cache_path=None).sites}
    vec = found["drivers/vec/vec.c"]
    assert vec.status.value == "converted"
    assert [(r.api, r.function) for r in vec.releases] == [("unpin_user_pages", "vec_put")]
    # The same code without the #include: the accessor is not known there.
    assert found["drivers/novec/novec.c"].status.value == "unknown"
    shallow = {s.path: s.status.value
               for s in pipeline.scan(HDR, jobs=1, cache_path=None, deep=False).sites}
    assert shallow["drivers/vec/vec.c"] == "unknown"


OWNED = FIXTURES / "trees" / "owned"


def test_a_field_that_holds_only_the_pinned_page_is_followed_into_siblings() -> None:
    found = {s.path: s for s in pipeline.scan(OWNED, jobs=1, cache_path=None).sites}
    mon = found["drivers/mon/mon_ioctl.c"]
    assert (mon.status.value, mon.rules) == ("mismatch", ("GUP102",))
    assert "drivers/mon/mon_vm.c:6" in mon.advice
    # The gcc-style message names the other file, not a line of the site's own.
    assert "put_page() at line 6 of drivers/mon/mon_vm.c releases" in dict(mon.messages)[
        "GUP102"]
    # The same shape, but the field also holds pages the driver allocates itself.
    assert found["drivers/shared/shared_ioctl.c"].status.value == "converted"


def test_escape_targets_are_read_where_defined_not_where_called(tmp_path) -> None:
    from gupaudit import link

    shutil.copytree(XDIR / "include", tmp_path / "include")
    shutil.copy(XDIR / "Makefile", tmp_path / "Makefile")
    z = tmp_path / "drivers" / "z"
    z.mkdir(parents=True)
    (z / "site.c").write_text(
        "int z_map(unsigned long uaddr, struct page **pages)\n{\n"
        "\tint got = pin_user_pages_fast(uaddr, 1, 0, pages);\n\n"
        "\treturn got == 1 ? z_queue(pages) : -EFAULT;\n}\n")
    (z / "queue.c").write_text(
        "int z_queue(struct page **pages)\n{\n\tunpin_user_pages(pages, 1);\n\treturn 0;\n}\n")
    (z / "user.c").write_text("void z_user(struct page **p)\n{\n\tz_queue(p);\n}\n")
    shallow = pipeline.scan(tmp_path, jobs=1, cache_path=None, deep=False)
    tree = discover.WorkTree(tmp_path)
    (job,) = link.jobs(list(shallow.sites), shallow.era, [], tree.list_dir,
                       tree.read).jobs
    assert [rel for rel, _, _ in job[3]] == ["drivers/z/queue.c"]
    (site,) = pipeline.scan(tmp_path, jobs=1, cache_path=None).sites
    assert site.status.value == "converted"


def test_an_exported_wrappers_callers_are_asked_in_other_folders(tmp_path) -> None:
    """The callers of a wrapper that other files may call are looked for tree-wide (among
    the files that name an acquisition API), not only in the wrapper's folder."""
    _tree(tmp_path, {
        "lib/grab.c": "int grab_pages(unsigned long uaddr, int n, struct page **pages)\n{\n"
                      "\treturn pin_user_pages_fast(uaddr, n, FOLL_WRITE, pages);\n}\n",
        "drivers/far/far.c":
            "/* takes its pages with grab_pages(), a pin_user_pages_fast() wrapper */\n"
            "int far_use(unsigned long uaddr, struct page **pages)\n{\n"
            "\tint got = grab_pages(uaddr, 4, pages);\n\n\tif (got <= 0)\n"
            "\t\treturn -EFAULT;\n\tunpin_user_pages(pages, got);\n\treturn 0;\n}\n"})
    shallow = pipeline.scan(tmp_path, jobs=1, cache_path=None, deep=False).sites
    assert [(s.function, s.status.value) for s in shallow] == [("grab_pages", "unknown")]
    (site,) = pipeline.scan(tmp_path, jobs=1, cache_path=None).sites
    assert site.status.value == "converted"
    assert [(r.path, r.line, r.via) for r in site.releases] == [
        ("drivers/far/far.c", 8, "caller far_use")]


def test_a_callee_exported_from_another_folder_is_read_where_it_is_defined(tmp_path) -> None:
    """The prefilter notes every EXPORT_SYMBOL*(): a function of another directory the pages
    are handed to is found there, though that file names no acquisition API."""
    _tree(tmp_path, {
        "lib/drop.c": "void lib_drop_pages(struct page **pages, int n)\n{\n"
                      "\tunpin_user_pages(pages, n);\n}\nEXPORT_SYMBOL_GPL(lib_drop_pages);\n",
        "drivers/q/q.c":
            "int q_map(unsigned long uaddr, struct page **pages)\n{\n"
            "\tint got = pin_user_pages_fast(uaddr, 2, 0, pages);\n\n\tif (got != 2)\n"
            "\t\treturn -EFAULT;\n"
            "\treturn q_submit(pages) ? lib_drop_pages(pages, 2), -EIO : 0;\n}\n"})
    for jobs in (1, 2):
        (found,) = pipeline.scan(tmp_path, jobs=jobs, cache_path=None).sites
        assert found.status.value == "converted", found.reason
        assert [(r.path, r.line) for r in found.releases] == [("lib/drop.c", 3)]
    if shutil.which("git") is None:
        return
    _commit_v1(tmp_path)
    ((_, result),) = history.history(tmp_path, tags="v1", cache_path=None, jobs=1)
    assert [(s.status.value, [(r.path, r.line) for r in s.releases])
            for s in result.sites] == [("converted", [("lib/drop.c", 3)])]


def _tree(root, files: dict[str, str]) -> None:
    """A small tree: the xdir fixture's headers and Makefile, and ``files``."""
    shutil.copytree(XDIR / "include", root / "include")
    shutil.copy(XDIR / "Makefile", root / "Makefile")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _commit_v1(repo) -> None:
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t",
                                                 "commit", "-q", "-m", "v1"], ["tag", "v1"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_a_wrappers_file_is_scanned_the_core_apis_files_are_not(tmp_path) -> None:
    """Only the core GUP and iov_iter implementations are left out (apis.toml
    [definitions]); a wrapper's body, such as lib/scatterlist.c's extraction into an sg
    table, uses the API like any driver and is a site."""
    body = ("static ssize_t fill(struct iov_iter *iter, struct page **pages, size_t n)\n{\n"
            "\tsize_t off;\n\n\treturn iov_iter_extract_pages(iter, &pages, n, 4, 0, &off);\n}\n")
    _tree(tmp_path, {"lib/scatterlist.c": body, "lib/iov_iter.c": body})
    assert [s.path for s in pipeline.scan(tmp_path, jobs=1, cache_path=None).sites] == [
        "lib/scatterlist.c"]


ITERS = FIXTURES / "trees" / "iters"
_EXPECT = re.compile(r"/\* (deep: )?(converted|unconverted|gup-ok|unknown|mismatch) \*/")


def _expected(root, deep: bool) -> dict[tuple[str, int], str]:
    """The verdict annotated on each site line of a fixture tree: ``/* deep: gup-ok */``
    holds with the link pass only (without it the site is unconverted)."""
    out = {}
    for path in sorted(root.rglob("*.c")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = _EXPECT.search(line)
            if m:
                rel = path.relative_to(root).as_posix()
                out[(rel, n)] = m.group(2) if deep or not m.group(1) else "unconverted"
    return out


@pytest.mark.parametrize("deep", [True, False])
def test_an_iterator_is_followed_to_its_set_up_in_other_files(deep: bool) -> None:
    """An iov_iter site's iterator read from a struct field (lib_subreq.io_iter) is
    kernel-backed when every write of that field, in any file, is; one handed to an ops
    table's function, when every call through that member hands a kernel-backed one. A
    user set-up anywhere (beta, delta_write), or a function whose address goes to a
    registration call (delta_recv), leaves the site unconverted."""
    got = {(s.path, s.line): s.status.value
           for s in pipeline.scan(ITERS, jobs=1, cache_path=None, deep=deep).sites}
    assert got == _expected(ITERS, deep)


def test_iterator_evidence_does_not_depend_on_the_order_sites_come_in() -> None:
    """Sites reach the follower as workers finish their files: any order, same evidence."""
    from gupaudit import cache, link

    shallow = list(pipeline.scan(ITERS, jobs=1, cache_path=None, deep=False).sites)
    tree = discover.WorkTree(ITERS)
    store = cache.Cache(None, [])
    tree.prepare(store)
    for _ in tree.candidates(store, None, 1):
        pass

    def evidence(order: list) -> dict:
        follower = link.Iterators(link.cached_reader(tree.read), tree.iterator_files,
                                  tree.mentioning, None)
        for s in order:
            follower.add([s])
        return follower.finish([])

    forward = evidence(shallow)
    assert any(forward.values()) and not all(forward.values())
    assert evidence(shallow[::-1]) == forward
    assert evidence(shallow[1::2] + shallow[::2]) == forward


def test_an_iterators_evidence_names_the_field_and_its_set_ups() -> None:
    found = {s.function: s for s in pipeline.scan(ITERS, jobs=1, cache_path=None).sites}
    reason = found["alpha_issue_read"].reason
    assert "lib_subreq.io_iter" in reason
    # written through the inner struct's pointer: struct lib_buffer's iter
    assert "lib/netlib/buffer.c:7 iov_iter_folio_queue()" in reason
    assert "argument 2 of gamma_request()" in found["gamma_request"].reason


def test_an_iterators_set_up_changing_in_another_file_is_seen_through_the_cache(
        tmp_path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ITERS, tree)
    db = tmp_path / "cache.sqlite3"

    def alpha() -> str:
        return next(s.status.value for s in pipeline.scan(tree, jobs=1, cache_path=db).sites
                    if s.function == "alpha_issue_read")

    assert alpha() == "gup-ok"
    buffer = tree / "lib" / "netlib" / "buffer.c"
    buffer.write_text(buffer.read_text().replace(
        "iov_iter_folio_queue(&buf->iter, ITER_DEST, fq, 0, 0, 0);",
        "import_ubuf(ITER_DEST, (void __user *)fq, 4096, &buf->iter);"))
    assert alpha() == "unconverted"


def test_history_follows_iterators_through_the_revisions_files(tmp_path) -> None:
    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "repo"
    shutil.copytree(ITERS, repo)
    _commit_v1(repo)
    ((_, result),) = history.history(repo, tags="v1", cache_path=None, jobs=1)
    assert {(s.path, s.line): s.status.value for s in result.sites} == _expected(ITERS, True)


def test_a_bug_following_an_iterator_costs_that_site_its_evidence_not_the_run(
        monkeypatch) -> None:
    from gupaudit import provenance

    def broken(self, *args):
        raise ValueError("a bug")

    monkeypatch.setattr(provenance.Resolver, "site", broken)
    result = pipeline.scan(ITERS, jobs=1, cache_path=None)
    statuses = {s.function: s.status.value for s in result.sites}
    assert statuses["alpha_issue_read"] == "unconverted"  # its single-file verdict
    assert any("internal error following its iterator" in w for w in result.warnings)


def test_the_tree_wide_search_answers_alike_with_each_engine(monkeypatch) -> None:
    """Hyperscan, GNU grep where Hyperscan is missing, a byte scan where grep is too:
    the same files."""
    tree = discover.WorkTree(ITERS)
    from gupaudit import cache

    tree.prepare(cache.Cache(None, []))
    first = tree.mentioning(["eps_request"])
    assert "net/eps/ops.c" in first

    def missing(_groups: object) -> None:
        raise ImportError("hyperscan")
    monkeypatch.setattr(discover, "_hyperscan", missing)
    assert tree.mentioning(["eps_request"]) == first  # grep
    monkeypatch.setattr(discover.shutil, "which", lambda name: None)
    assert tree.mentioning(["eps_request"]) == first  # the byte scan


def test_the_tree_wide_search_shared_with_workers_finds_the_same_files() -> None:
    """Slices searched by the pool's workers and by this process: the same files, in
    the walk's order."""
    from concurrent.futures import ProcessPoolExecutor

    from gupaudit import cache

    alone = discover.WorkTree(ITERS)
    alone.prepare(cache.Cache(None, []))
    shared = discover.WorkTree(ITERS)
    with ProcessPoolExecutor(2) as pool:
        shared.prepare(cache.Cache(None, []), pool)
        words = ["eps_request", "iov_iter"]
        assert shared.mentioning(words) == alone.mentioning(words)
        assert "net/eps/ops.c" in shared.mentioning(words)
