"""`autoann profile` through Typer's CliRunner: tables, --json, -o, and bad input as exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from autoann.cli._app import EXIT_USER_ERROR, app
from autoann.profiling._profile import Profile

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_profile_prints_tables(datasets_dir):
    result = run("profile", datasets_dir / "penguins.csv", "--target", "species")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    for text in ("344 rows", "multiclass", "non-numeric with 3 classes", "island", "categorical", "bill_length_mm",
                 "Adelie: 152", "input width 17", "rows per input", "scale spread"):
        assert text in out, text


def test_profile_regression_summary(datasets_dir):
    result = run("profile", datasets_dir / "diabetes.csv", "-t", "progression")
    assert result.exit_code == 0, result.output
    assert "range 25 .. 346, strictly positive" in flat(result.output)


def test_profile_shows_drops_and_warnings(write_file, make_frame):
    frame = make_frame(n=200, row_id=range(200))
    frame["copy"] = frame["y"]
    result = run("profile", write_file("d.csv", frame), "-t", "y")
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "dropped: row identifier" in out and "suspected leak" in out and "1 suspected leak(s)" in out


def test_profile_json_parses(datasets_dir):
    result = run("profile", datasets_dir / "breast_cancer.csv", "-t", "diagnosis", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["target"]["task"] == "binary" and data["n_rows"] == 569
    assert Profile.from_dict(data).to_dict() == data


def test_profile_output_file(datasets_dir, tmp_path):
    out = tmp_path / "profile.json"
    result = run("profile", datasets_dir / "penguins.csv", "-t", "species", "-o", out)
    assert result.exit_code == 0, result.output
    assert Profile.load(out).target.class_counts == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}


BAD = {
    "missing file": (lambda w: w("x.csv", "a,y\n").with_name("nope.csv"), "y", "File not found"),
    "empty file": (lambda w: w("x.csv", ""), "y", "is empty"),
    "header only": (lambda w: w("x.csv", "a,y\n"), "y", "no data rows"),
    "directory": (lambda w: w("x.csv", "a,y\n").parent, "y", "For a table, pass the file itself"),
    "bad extension": (lambda w: w("x.json", "{}"), "y", "unsupported file type"),
    "target missing": (lambda w: w("x.csv", "a,target\n" + "1,2\n" * 20), "tagret", "did you mean 'target'"),
    "target empty": (lambda w: w("x.csv", "a,y\n" + "1,\n" * 20), "y", "has no values"),
    "single class": (lambda w: w("x.csv", "a,y\n" + "".join(f"{i},k\n" for i in range(20))), "y", "single value"),
    "few rows": (lambda w: w("x.csv", "a,y\n1,0\n2,1\n3,0\n"), "y", "at least 10"),
    "mixed column": (lambda w: w("x.csv", "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)) + "lots,1\n"), "y",
                     "'a' mixes numbers and text"),
    "duplicates": (lambda w: w("x.csv", "a,a,y\n" + "1,2,0\n2,3,1\n" * 10), "y", "duplicate column names"),
    "not utf-8": (lambda w: w("x.csv", ("a,y\n" + "caf\xe9,1\n" * 20).encode("latin-1")), "y", "not UTF-8"),
    "all dropped": (lambda w: w("x.csv", "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20))), "y",
                    "No usable feature columns"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_the_message(case, write_file):
    make, target, message = BAD[case]
    result = run("profile", make(write_file), "-t", target)
    assert result.exit_code == EXIT_USER_ERROR, result.output
    assert message in flat(result.output) and "error:" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, message", [
    (["--task", "clasification"], "Unknown task 'clasification'"),
    (["--task", "regression"], "needs a numeric target"),
    (["-t", "species"], "listed more than once"),
])
def test_bad_options_exit_2(datasets_dir, args, message):
    result = run("profile", datasets_dir / "penguins.csv", "-t", "species", *args)
    assert result.exit_code == EXIT_USER_ERROR and message in flat(result.output)
    assert "Traceback" not in result.output


def test_profile_writes_nothing_without_o(datasets_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("profile", datasets_dir / "penguins.csv", "-t", "species", "--json").exit_code == 0
    assert list(tmp_path.iterdir()) == []
