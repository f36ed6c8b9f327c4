"""`autoann recommend` and `autoann rules ...` through Typer's CliRunner (no TensorFlow)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoann.cli._app import app
from autoann.space._space import SearchSpace

ROOT = Path(__file__).resolve().parents[1]
DATA = str(ROOT / "datasets" / "breast_cancer.csv")
RULES_DIR = ROOT / "autoann" / "rules" / "builtin"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_recommend_prints_the_explained_space():
    result = run("recommend", DATA, "--target", "diagnosis")
    assert result.exit_code == 0, result.output
    for text in ("binary task, 569 rows", "output_activation", "sigmoid", "OUT-BINARY", "units_first",
                 "ARCH-PARAM-GUARD", "G-ARCH-6", "--set name=value"):
        assert text in result.output, text


def test_recommend_writes_a_space_that_loads_back_identically(tmp_path):
    out = tmp_path / "space.yaml"
    result = run("recommend", DATA, "--target", "diagnosis", "-o", str(out), "--set", "n_layers=2")
    assert result.exit_code == 0, result.output
    space = SearchSpace.load(out)
    assert space.fixed("n_layers") == 2 and space.fixed("task") == "binary"
    assert SearchSpace.from_yaml(out.read_text()).to_dict() == space.to_dict()
    assert SearchSpace.from_yaml(space.to_yaml()).to_dict() == space.to_dict()


def test_recommend_explain_shows_every_rule():
    result = run("recommend", DATA, "--target", "diagnosis", "--explain", "--goal", "latency")
    assert result.exit_code == 0, result.output
    assert "ARCH-DEPTH " in result.output or "ARCH-DEPTH\n" in result.output or "│ ARCH-DEPTH " in result.output
    assert "n_rows=569 < 10000" in result.output
    assert "overridden by GOAL-LATENCY-SHALLOW" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--goal", "fast"], "'goal' parameter of recommend must be one of"),
        (["--set", "nope=1"], "no hyperparameter is called 'nope'"),
        (["--set", "n_layer=1"], "did you mean 'n_layers'"),
    ],
)
def test_recommend_user_errors_exit_2(args, message):
    result = run("recommend", DATA, "--target", "diagnosis", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_recommend_bad_rule_file_exits_2_naming_the_rule(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("autoann_rules: 1\nrules:\n  - id: USER-BAD\n    guideline: [G-ARCH-2]\n"
                   "    when: {fact: n_row, ge: 10}\n    then: {n_layers: 2}\n    why: x\n")
    result = run("recommend", DATA, "--target", "diagnosis", "--rules", str(bad))
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "rule 'USER-BAD'" in output and "unknown fact 'n_row'" in output


def test_rules_check_accepts_the_builtin_files():
    result = run("rules", "check", *[str(p) for p in sorted(RULES_DIR.glob("*.yaml"))])
    assert result.exit_code == 0, result.output
    assert "rules OK" in result.output


def test_rules_check_rejects_a_bad_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("autoann_rules: 1\nrules:\n  - id: USER-BAD\n    guideline: [G-ARCH-2]\n"
                   "    then: {n_layers: {int: [3, 1]}}\n    why: x\n")
    result = run("rules", "check", str(bad))
    assert result.exit_code == 2
    assert "rule 'USER-BAD' ==> then.n_layers" in " ".join(result.output.split())


def test_rules_show_and_list():
    result = run("rules", "show", "ACT-FAMILY")
    assert result.exit_code == 0, result.output
    for section in ("Guidelines", "What it does", "When", "Why", "Known problems", "G-ACT-2"):
        assert section in result.output
    result = run("rules", "show", "OPT-ADAMW-TABULAR")  # autoann's own guideline ids are summarized too
    assert "AA-OPT-ADAMW On tables, AdamW" in " ".join(result.output.split())
    result = run("rules", "show", "ACT-FAMILLY")
    assert result.exit_code == 2 and "did you mean 'ACT-FAMILY'" in result.output
    result = run("rules", "list")
    assert result.exit_code == 0 and "GOAL-SPARSE-L1" in result.output and "OUT-BINARY" in result.output
