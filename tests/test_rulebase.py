"""Rule files: the schema is checked on load, every rule's examples hold, the docs cover the catalogue."""

import importlib.resources
import re
import textwrap
from pathlib import Path

import pytest

from autoann.errors import RuleFileError
from autoann.rules.__main__ import main
from autoann.rules._engine import recommend_from_facts
from autoann.rules._docs import rules_markdown
from autoann.rules._guidelines import AUTOANN_GUIDELINES, ELSEWHERE, GUIDELINES
from autoann.rules._loader import (
    BUILTIN_FILES, DEFAULT_FACTS, find_rule, load_builtin_rules, load_rule_file, load_rules,
    merge_rules, parse_rules,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "guidelines.md"
RULES = load_builtin_rules()
#: the id prefix names the file's concern
PREFIXES = {
    "inputs_outputs.yaml": ("IN", "OUT"), "architecture.yaml": ("ARCH",), "activation.yaml": ("ACT",),
    "regularization.yaml": ("REG",), "optimization.yaml": ("OPT",), "batch_epochs.yaml": ("BATCH", "SEARCH"),
    "images.yaml": ("IMG",), "goals.yaml": ("GOAL",), "features.yaml": ("FEAT",),
}


def test_builtin_files_are_package_resources():
    package = importlib.resources.files("autoann.rules") / "builtin"
    shipped = sorted(p.name for p in package.iterdir() if p.name.endswith(".yaml"))
    assert shipped == sorted(BUILTIN_FILES)  # every shipped file is loaded, in a fixed order
    assert [r.source.split("/")[-1] for r in RULES] == sorted(
        (r.source.split("/")[-1] for r in RULES), key=BUILTIN_FILES.index)


def test_ids_are_unique_stable_and_prefixed_by_concern():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        assert rule.id.split("-")[0] in PREFIXES[rule.source.split("/")[-1]], rule.id


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_examples_fire_and_stay_quiet_through_the_engine(rule):
    """Each rule ships facts it must fire on and (if conditional) facts it must stay quiet on. The loader
    already checks them against the rule alone (a wrong example is a RuleFileError, tested with the malformed
    files below); here the whole built-in base runs on them, so the trace must show this rule fire and set
    its names, or stay quiet."""
    assert rule.examples.get("fires"), f"{rule.id} has no 'fires' example"
    if rule.when is not None:
        assert rule.examples.get("quiet"), f"{rule.id} has no 'quiet' example"
    for kind, cases in rule.examples.items():
        for case in cases:
            trace = recommend_from_facts({**DEFAULT_FACTS, **case}, RULES).trace
            outcome = next(o for o in trace if o.rule_id == rule.id)
            assert outcome.fired == (kind == "fires"), f"{rule.id} on {case}: {outcome.reason}"
            assert set(rule.then) <= set(outcome.set) if outcome.fired else not outcome.set, (rule.id, case)


def _catalogue_ids() -> list[str]:
    return re.findall(r"^- (G-[A-Z0-9]+-\d+)", SHARED.read_text(encoding="utf-8"), flags=re.M)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/guidelines.md is not beside the checkout")
def test_guideline_ids_match_the_catalogue():
    assert list(GUIDELINES) == _catalogue_ids()


def test_every_guideline_is_encoded_or_listed_with_a_reason():
    cited = {g for r in RULES for g in r.guideline}
    assert cited <= set(GUIDELINES) | set(AUTOANN_GUIDELINES)
    assert set(AUTOANN_GUIDELINES) <= cited and not set(AUTOANN_GUIDELINES) & set(GUIDELINES)
    assert set(ELSEWHERE) <= set(GUIDELINES)
    missing = [g for g in GUIDELINES if g not in cited and g not in ELSEWHERE]
    assert not missing, f"neither a rule nor docs/rules.md's 'elsewhere' list covers {missing}"
    assert all(kind in ("code", "search", "not encoded", "gap") and text for kind, text in ELSEWHERE.values())


def test_a_cited_guideline_is_never_listed_as_not_encoded():
    """The coverage table cannot contradict itself: a guideline a rule cites is encoded (ELSEWHERE may add
    the part the rules leave out, a "gap"), and a gap belongs to a cited guideline."""
    cited = {g for r in RULES for g in r.guideline}
    contradicted = sorted(g for g, (kind, _) in ELSEWHERE.items() if g in cited and kind == "not encoded")
    assert not contradicted, f"cited by a rule yet listed as 'not encoded': {contradicted}; make it a 'gap' or drop it"
    orphan_gaps = sorted(g for g, (kind, _) in ELSEWHERE.items() if kind == "gap" and g not in cited)
    assert not orphan_gaps, f"a 'gap' of a guideline no rule cites: {orphan_gaps}; say 'not encoded' instead"


def test_elsewhere_names_modules_that_exist():
    """The coverage table's pointers into the code (autoann.x.y) name modules and objects that exist
    (read as source text: resolving them by import would pull TensorFlow into this tier)."""
    for gid, (kind, text) in ELSEWHERE.items():
        for dotted in re.findall(r"autoann(?:\.\w+)+", text):
            parts = dotted.split(".")
            files = [ROOT.joinpath(*parts[:i]) for i in range(len(parts), 0, -1)]
            files = [f / "__init__.py" if f.is_dir() else f.with_suffix(".py") for f in files]
            depth, source = next((len(parts) - i, f) for i, f in enumerate(files) if f.exists())
            rest = parts[depth:]
            assert len(rest) <= 1, f"{gid}: no module {'.'.join(parts[:depth + 1])} for {dotted}"
            if rest:
                assert re.search(rf"^(def |class )?{rest[0]}\b|\"{rest[0]}\"", source.read_text(encoding="utf-8"),
                                 flags=re.M), f"{gid}: {source} does not define {rest[0]} ({dotted})"


def test_docs_rules_md_covers_every_cited_id_and_is_up_to_date():
    docs = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    table = {m.group(1): m.group(0) for m in re.finditer(r"^\| (G-[A-Z0-9]+-\d+|AA-[A-Z0-9-]+) \|.*$", docs, flags=re.M)}
    for rule in RULES:
        for gid in rule.guideline:
            assert gid in table and rule.id in table[gid], (gid, rule.id)
    if SHARED.exists():
        assert set(table) == set(_catalogue_ids()) | set(AUTOANN_GUIDELINES)
    assert docs == rules_markdown(RULES), "docs/rules.md is stale: python -m autoann.rules --markdown > docs/rules.md"


def test_markdown_command(capsys):
    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == rules_markdown(RULES)
    assert main([]) == 2


def test_find_rule():
    assert find_rule("ARCH-PARAM-GUARD").id == "ARCH-PARAM-GUARD"
    assert find_rule("arch-param-guard").id == "ARCH-PARAM-GUARD"
    with pytest.raises(RuleFileError, match=r"No rule 'ARCH-PARAM-GAURD' \(did you mean 'ARCH-PARAM-GUARD'"):
        find_rule("ARCH-PARAM-GAURD")


# -- malformed files: every error names the file, the rule id and the key --------------------------

HEAD = 'autoann_rules: 1\nmin_autoann_version: "0.1"\nrules:\n'
GOOD = """\
  - id: TEST-ONE
    guideline: [G-ARCH-2]
    when: {all: [{fact: task, eq: binary}, {fact: n_rows, ge: 1000}]}
    then:
      n_layers: {int: [1, 3]}
    why: "a test rule"
"""


def write(tmp_path, text, name="user.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{fact: n_rows, ge: 1000}", "{fact: n_row, ge: 1000}",
         r"==> rule 'TEST-ONE' ==> when.all\[1\].fact: unknown fact 'n_row' \(did you mean 'n_rows'\?\)"),
        ("{fact: n_rows, ge: 1000}", "{fact: n_rows, gte: 1000}", r"rule 'TEST-ONE' ==> when.all\[1\].gte: unknown operator"),
        ("{fact: task, eq: binary}", "{fact: task, lt: binary}", r"rule 'TEST-ONE' ==> when.all\[0\].lt: operator 'lt' does not apply"),
        ("{fact: n_rows, ge: 1000}", "{fact: n_rows, ge: many}", r"rule 'TEST-ONE' ==> when.all\[1\].ge: 'n_rows' is an int fact"),
        ("when: {all: [{fact: task, eq: binary}, {fact: n_rows, ge: 1000}]}", "when: \"__import__('os')\"",
         r"rule 'TEST-ONE' ==> when: a condition must be a mapping"),
        ("    why:", "    whyy: x\n    why:", r"rule 'TEST-ONE' ==> whyy: unknown key \(did you mean 'why'\?\)"),
        ('    why: "a test rule"\n', "", r"rule 'TEST-ONE' ==> why: required key is missing"),
        ("[G-ARCH-2]", "[G-ARCH-22]", r"rule 'TEST-ONE' ==> guideline\[0\]: unknown guideline id 'G-ARCH-22'"),
        ("[G-ARCH-2]", "[]", r"rule 'TEST-ONE' ==> guideline: a non-empty list"),
        ("n_layers:", "n_layer:", r"rule 'TEST-ONE' ==> then.n_layer: unknown hyperparameter 'n_layer' \(did you mean 'n_layers'"),
        ("{int: [1, 3]}", "{int: [3, 1]}", r"rule 'TEST-ONE' ==> then.n_layers: 'n_layers' range is empty"),
        ("{int: [1, 3]}", "{int: [1, 3], default: 7}", r"then.n_layers: 'n_layers.default' 7 is outside"),
        ("n_layers: {int: [1, 3]}", "optimizer: {choice: [adam, adamq]}", r"then.optimizer: 'optimizer' cannot be 'adamq'"),
        ("n_layers: {int: [1, 3]}", "optimizer: {choice: [adam], default: sgd}", r"'optimizer.default' 'sgd' is not one of"),
        ("n_layers: {int: [1, 3]}", "n_layers: {int: [1, 3], rules: [X]}", r"then.n_layers.rules: set by the engine"),
        ("n_layers: {int: [1, 3]}", "output_units: {value: {fact: n_clases}}",
         r"then.output_units.value.fact: unknown fact 'n_clases' \(did you mean 'n_classes'"),
        ("n_layers: {int: [1, 3]}", "output_units: {value: {fact: task}}",
         r"then.output_units.value.fact: 'output_units' takes int values but fact 'task' is str"),
        ("n_layers: {int: [1, 3]}", "n_layers: {value: {fact: n_rows, scale: 2}}", r"then.n_layers"),
        ("      n_layers: {int: [1, 3]}\n", "      {}\n", r"rule 'TEST-ONE' ==> then: the rule sets nothing"),
        ("id: TEST-ONE", "id: test_one", r"==> rule #1 ==> id: every rule needs a stable UPPER-KEBAB id"),
        ("    why:", "    examples: {fires: [{n_rows: 10}]}\n    why:",
         r"rule 'TEST-ONE' ==> examples.fires\[0\]: the rule does not fire on these facts \(n_rows=10 < 1000\)"),
        ("    why:", "    examples: {quiet: [{n_rows: 5000}]}\n    why:", r"examples.quiet\[0\]: the rule fires"),
        ("    why:", "    examples: {fires: [{n_rowz: 5000}]}\n    why:", r"examples.fires\[0\]: unknown fact 'n_rowz'"),
        ("    why:", "    examples: {fires: [{n_rows: lots}]}\n    why:", r"examples.fires\[0\].n_rows: 'n_rows' is an int"),
        ("    why:", "    docs: known problems\n    why:", r"rule 'TEST-ONE' ==> docs: a mapping"),
    ],
)
def test_malformed_rule_names_file_rule_and_key(tmp_path, old, new, message):
    assert old in HEAD + GOOD
    path = write(tmp_path, (HEAD + GOOD).replace(old, new, 1))
    with pytest.raises(RuleFileError, match=message) as info:
        load_rule_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("autoann_rules: 2\nrules: []\n", "==> autoann_rules: format 2 is not supported"),
        ('autoann_rules: 1\nmin_autoann_version: "99.0"\nrules: []\n', "==> min_autoann_version: the file needs autoann >= 99.0"),
        ("autoann_rules: 1\nmin_autoann_version: soon\nrules: []\n", "==> min_autoann_version: a version such as"),
        ("autoann_rules: 1\nrule: []\n", "a mapping with 'autoann_rules: 1' and a 'rules' list"),
        ("autoann_rules: 1\nrules: []\nextra: 1\n", "==> extra: unknown top-level key"),
        ("autoann_rules: 1\nrules: {}\n", "==> rules: a list of rules"),
        ("autoann_rules: 1\nrules: [1, 2\n", "not valid YAML"),
        ("autoann_rules: 1\nrules: [just text]\n", "==> rule #1: a rule is a mapping"),
        (HEAD + GOOD + GOOD, "==> rule 'TEST-ONE' ==> id: duplicate id in this file"),
    ],
)
def test_malformed_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RuleFileError, match=re.escape(str(path)) + ".*" + message if "==>" in message else message):
        load_rule_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(RuleFileError, match="Rule file not found"):
        load_rule_file(tmp_path / "nope.yaml")


def test_docs_take_any_section_and_notes_need_no_then(tmp_path):
    rules = load_rule_file(write(tmp_path, HEAD + GOOD.replace(
        "    why:", "    docs: {references: 'Smith 2018', known_problems: none}\n    why:") + """\
  - id: TEST-NOTE
    guideline: G-IN-4
    then: {}
    note: "look at this"
    why: "a note-only rule"
"""))
    assert rules[0].docs["references"] == "Smith 2018"
    assert [key for key, _ in rules[0].doc_sections()] == ["known_problems", "references"]  # the usual ones first
    assert rules[1].note == "look at this" and rules[1].guideline == ["G-IN-4"]


def test_user_file_overrides_by_id_in_place_and_adds_new_ids(tmp_path):
    path = write(tmp_path, HEAD + """\
  - id: ARCH-DEPTH-SMALL
    guideline: [G-ARCH-1]
    when: {fact: n_rows, lt: 10000}
    then:
      n_layers: {int: [1, 2]}
    why: "my data wants shallow nets"
  - id: USER-WIDE
    guideline: [G-ARCH-5]
    then:
      units_first: {int: [8, 32]}
    why: "narrow"
""")
    builtin_ids = [r.id for r in RULES]
    merged = load_rules([path])
    assert [r.id for r in merged] == [*builtin_ids, "USER-WIDE"]
    replaced = merged[builtin_ids.index("ARCH-DEPTH-SMALL")]
    assert replaced.why == "my data wants shallow nets" and replaced.source == str(path)


def test_duplicate_builtin_ids_are_errors():
    first = parse_rules(HEAD + GOOD, "rules/a.yaml", override=False)
    second = parse_rules(HEAD + GOOD, "rules/b.yaml", override=False)
    with pytest.raises(RuleFileError, match=r"rules/b.yaml ==> rule 'TEST-ONE' ==> id: duplicate id, already defined in rules/a.yaml"):
        merge_rules([*first, *second])
    user = parse_rules(HEAD + GOOD.replace("a test rule", "mine"), "mine.yaml", override=True)
    assert merge_rules([*first, *user])[0].why == "mine"


def test_the_documented_example_rule_file_loads(tmp_path):
    docs = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    example = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    rules = load_rule_file(write(tmp_path, example))
    assert [r.id for r in rules] == ["USER-DEEPER"] and rules[0].fires({**DEFAULT_FACTS, "n_rows": 80000})
