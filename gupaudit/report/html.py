"""The HTML dashboard: one self-contained folder (index.html, and todo/ beside it).

Charts are inline SVG drawn here, so the summary reads without JavaScript; the findings
table's filters and sorting are a few lines of inline script. Nothing is fetched at view
time: it works from file://.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html import escape
from pathlib import Path

from gupaudit import __version__
from gupaudit.files import atomic_write
from gupaudit.model import STATUS_ORDER, ScanResult, Status
from gupaudit.report import todo as todo_report
from gupaudit.report.markdown import environment

COLOURS = {Status.UNCONVERTED: "#d97706", Status.MISMATCH: "#b91c1c",
           Status.CONVERTED: "#15803d", Status.GUP_OK: "#0e7490", Status.UNKNOWN: "#6b7280"}


def stacked_bar(counts: Counter, width: int = 600, height: int = 18) -> str:
    total = sum(counts.values()) or 1
    x = 0.0
    parts = []
    for st in STATUS_ORDER:
        n = counts.get(st, 0)
        if not n:
            continue
        w = width * n / total
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
                     f'fill="{COLOURS[st]}"><title>{st.value}: {n}</title></rect>')
        x += w
    return (f'<svg role="img" aria-label="progress" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{"".join(parts)}</svg>')


def trend_chart(revisions: list[str], series: dict[Status, list[int]], width: int = 900,
                height: int = 260) -> str:
    """A line per status across revisions, with the revisions on the x axis."""
    left, right, top, bottom = 40, 20, 10, 40
    top_value = max([1, *(v for values in series.values() for v in values)])
    n = len(revisions)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: int) -> float:
        return top + (height - top - bottom) * (1 - v / top_value)

    out = [f'<svg role="img" aria-label="trend per status" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}">',
           f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" '
           'stroke="#999"/>']
    for tick in sorted({0, top_value // 2, top_value}):
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{tick}</text>')
    for i, name in enumerate(revisions):
        out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" font-size="12" '
                   f'text-anchor="middle">{escape(name)}</text>')
    for st, values in series.items():
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline fill="none" stroke="{COLOURS[st]}" stroke-width="2.5" '
                   f'points="{points}"><title>{st.value}</title></polyline>')
        for i, v in enumerate(values):
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{COLOURS[st]}">'
                       f'<title>{st.value} at {escape(revisions[i])}: {v}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def _snippets(result: ScanResult, source: Callable[[str], bytes | None]
              ) -> dict[tuple[str, int], str]:
    """The acquisition line of every site, and the release lines in the same file."""
    out: dict[tuple[str, int], str] = {}
    for path in sorted({s.path for s in result.sites}):
        data = source(path)
        if data is None:
            continue
        lines = data.decode("utf-8", "replace").splitlines()
        wanted = {s.line for s in result.sites if s.path == path}
        wanted |= {r.line for s in result.sites for r in s.releases if r.path == path}
        for n in wanted:
            if 0 < n <= len(lines):
                out[(path, n)] = lines[n - 1].strip()[:160]
    return out


def sparkline(values: list[int], width: int = 120, height: int = 22) -> str:
    top = max([1, *values])
    n = len(values)
    pts = " ".join(f"{2 + (width - 4) * (i / (n - 1) if n > 1 else 0.5):.1f},"
                   f"{height - 2 - (height - 4) * v / top:.1f}" for i, v in enumerate(values))
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<polyline fill="none" stroke="{COLOURS[Status.UNCONVERTED]}" stroke-width="2" '
            f'points="{pts}"><title>{" → ".join(map(str, values))}</title></polyline></svg>')


def write(results: list[tuple[str, ScanResult]], out_dir: Path,
          source: Callable[[str], bytes | None] | None = None) -> Path:
    """Write the dashboard for these revisions (oldest first; the last is shown in full).

    ``source(path)`` gives a file's bytes for the snippets of the per-site detail.
    """
    name, result = results[-1]
    todo_dir = out_dir / "todo"
    todo_files = {f["title"]: f"todo/{f['name']}" for f in todo_report.files(result)}
    todo_report.write(result, todo_dir)
    counts = Counter(s.status for s in result.sites)
    by_sub: dict[str, Counter] = {}
    for s in result.sites:
        by_sub.setdefault(s.subsystem, Counter())[s.status] += 1
    history: dict[str, list[int]] = {}
    for i, (_, res) in enumerate(results):
        for s in res.sites:
            if s.status is Status.UNCONVERTED:
                history.setdefault(s.subsystem, [0] * len(results))[i] += 1
    rows = []
    for sub, c in sorted(by_sub.items(), key=lambda kv: (-(kv[1][Status.UNCONVERTED]
                                                           + kv[1][Status.MISMATCH]), kv[0])):
        rows.append({"name": sub, "total": sum(c.values()), "bar": stacked_bar(c, 200, 12),
                     "counts": {st.value: n for st, n in c.items()},
                     "todo": todo_files.get(sub),
                     "spark": sparkline(history.get(sub, [0] * len(results)))})
    trend = None
    if len(results) > 1:
        series = {st: [sum(1 for s in res.sites if s.status is st) for _, res in results]
                  for st in STATUS_ORDER}
        trend = trend_chart([n for n, _ in results], series)
    snippets = _snippets(result, source) if source else {}
    urls = {(s.path, s.line): result.url(s.path, s.line) for s in result.sites
            if result.url_template}
    html = environment().get_template("dashboard.html.j2").render(
        snippets=snippets, urls=urls,
        title=escape(name), version=result.era.kernel_version or "?", era=result.era.name,
        sites=result.sites, files=len({s.path for s in result.sites}),
        tool_version=__version__, statuses=[st.value for st in STATUS_ORDER],
        overall=[(st.value, counts.get(st, 0)) for st in STATUS_ORDER],
        overall_bar=stacked_bar(counts), trend=trend, revisions=[n for n, _ in results],
        subsystems=rows, rules=sorted({r for s in result.sites for r in s.rules}),
        todo_index="todo/index.md")
    return atomic_write(out_dir / "index.html", html)
