"""Terminal views of autoann's objects (rich)."""


# -- dataset profile (show_profile) ------------------------------------------


def _profile_detail(col) -> str:
    """Range and scale of a numeric column, or its most frequent levels."""
    if col.kind == "numeric" and col.min is not None:
        std = "" if col.std is None else f", std {col.std:.3g}"
        return f"{col.min:.4g} .. {col.max:.4g}{std}"
    if col.top_levels:
        shown = list(col.top_levels.items())[:3]
        more = f", +{col.cardinality - len(shown)} more" if col.cardinality > len(shown) else ""
        return ", ".join(f"{level} ({count:,})" for level, count in shown) + more
    return ""


def show_profile(console, profile) -> None:
    """A dataset profile: header and task, a table of columns (kept or dropped and why) or the images'
    sizes and pixels, the target, warnings, facts."""
    from rich.text import Text

    t = profile.target
    if profile.image is not None:
        _show_image_header(console, profile)
    else:
        console.print(Text(f"{profile.source}: {profile.n_rows:,} rows, {profile.n_columns} columns", style="bold"))
        console.print(Text.assemble(("task: ", "bold"), (t.task, "bold cyan"), f"  ({t.task_reason})"))
        _show_columns(console, profile)
    _show_target(console, t)
    warned = [(c.name, w) for c in profile.columns for w in c.warnings]
    if warned:
        console.print(Text("warnings", style="bold red"))
        for name, warning in warned:
            console.print(Text(f"  {name}: {warning}"))
    show_data_notes(console, profile)
    if profile.image is not None:
        return
    facts = profile.facts()
    console.print(Text.assemble(
        ("derived: ", "bold"),
        f"input width {facts['input_width']} (G-IN-1), {facts['rows_per_input']:.1f} rows per input, "
        f"scale spread {facts['scale_spread']:.2f} decades (G-IN-3), {facts['missing_fraction']:.1%} missing, "
        f"{facts['n_features']} features kept ({facts['n_numeric']} numeric/boolean, "
        f"{facts['n_categorical']} categorical), {facts['n_dropped']} dropped, "
        f"{facts['suspected_leaks']} suspected leak(s)"))


def show_data_notes(console: "Console", profile) -> None:
    """What reading the data skipped or converted (files, rows, pixel types): every command that reads data says it."""
    from rich.text import Text

    for note in profile.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _show_image_header(console, profile) -> None:
    """Image data: count, stored size and channels, pixel range, what loading converted, skipped files."""
    from rich.text import Text

    i, t = profile.image, profile.target
    console.print(Text(f"{profile.source}: {profile.n_rows:,} images, {i.height} x {i.width} pixels, "
                       f"{i.channels} channel(s), {i.dtype}", style="bold"))
    console.print(Text.assemble(("task: ", "bold"), (t.task, "bold cyan"), f"  ({t.task_reason})"))
    sizes = ", ".join(f"{size} ({count:,})" for size, count in i.original_sizes.items())
    console.print(Text.assemble(("sizes: ", "bold"), ("vary: " if i.sizes_vary else "all ") + sizes
                                + (f"; stored as {i.height}x{i.width}" if i.sizes_vary else "")))
    modes = ", ".join(f"{mode} ({count:,})" for mode, count in i.modes.items())
    console.print(Text.assemble(("pixels: ", "bold"), f"{i.pixel_min:.4g} .. {i.pixel_max:.4g}, mean {i.pixel_mean:.4g}"
                                + (f"; file colour modes: {modes}" if modes else "")))
    if i.n_skipped:
        console.print(Text(f"skipped {i.n_skipped} file(s):", style="bold yellow"))
        for path, reason in i.skipped:
            console.print(Text(f"  {path}: {reason}"))
        if i.n_skipped > len(i.skipped):
            console.print(Text(f"  ... and {i.n_skipped - len(i.skipped)} more"))


def _show_columns(console, profile) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="feature columns", title_justify="left", expand=False)
    for name, style in (("column", "cyan"), ("kind", ""), ("missing", ""), ("distinct", ""),
                        ("range / top levels", ""), ("width", ""), ("status", "")):
        table.add_column(name, style=style, no_wrap=name in ("column", "kind"),
                         justify="right" if name in ("missing", "distinct", "width") else "left")
    for col in profile.columns:
        status = Text("kept", style="green") if col.kept else Text(f"dropped: {col.drop_reason}", style="yellow")
        if col.warnings:
            status.append("\n" + "\n".join(col.warnings), style="bold red")
        table.add_row(col.name, col.kind, f"{col.missing_fraction:.1%}", f"{col.cardinality:,}",
                      _profile_detail(col), str(col.encoded_width) if col.kept else "-", status)
    console.print(table)


def _show_target(console, t) -> None:
    from rich.text import Text

    target = ", ".join(t.names)
    if t.n_classes:
        counts = ", ".join(f"{label}: {count:,}" for label, count in t.class_counts.items())
        console.print(Text.assemble(("target ", "bold"), (target, "cyan"),
                                    f": {t.n_classes} classes ({counts}); imbalance {t.imbalance_ratio:.2f}:1, "
                                    f"minority {t.minority_fraction:.1%}"))
    else:
        shape = [label for flag, label in ((t.positive, "strictly positive"), (t.in_unit_interval, "within [0, 1]"),
                                           (t.symmetric_bounded, "within [-1, 1]")) if flag]
        console.print(Text.assemble(("target ", "bold"), (target, "cyan"),
                                    f": range {t.min:.4g} .. {t.max:.4g}"
                                    + (f", {', '.join(shape)}" if shape else "")
                                    + f"; {t.outlier_fraction:.1%} beyond 3 IQR"))


# -- recommendation and rules (show_space, show_rule, show_rule_list) ---------
# (rich and the rule modules are imported inside the functions; these names are for type checkers)
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from rich.console import Console

    from autoann.rules import Recommendation
    from autoann.rules import Rule
    from autoann.space import SearchSpace

#: fixed decisions shown first, in this order (what the network is for, then how inputs are fed)
_DECISIONS_FIRST = ("task", "output_units", "output_activation", "output_scale", "output_offset", "loss",
                    "metric", "target_scaling", "numeric_scaling", "missing_indicators",
                    "onehot_max_cardinality", "embedding_dim_max", "class_weight")


def _space_rows(space: "SearchSpace") -> list[list[str]]:
    order = {name: i for i, name in enumerate(_DECISIONS_FIRST)}
    names = list(space.hyperparameters)
    fixed = sorted((n for n in names if space[n].kind == "fixed"), key=lambda n: (order.get(n, len(order)), names.index(n)))
    searched = [n for n in names if space[n].kind != "fixed"]
    return [fixed, searched]


def show_space(console: "Console", recommendation: "Recommendation", explain: bool = False) -> None:
    """The recommended space: each hyperparameter, its value or range, the rules that set it and why.

    Fixed decisions (task, output, loss, ...) come first, then the searched
    hyperparameters, then notes. ``explain`` adds the trace: every rule, fired
    or not, with the facts it checked and their values.
    """
    from rich.table import Table
    from rich.text import Text

    from autoann.rules import describe_hp

    space, facts = recommendation.space, recommendation.facts
    asked = [f"goal {facts.get('goal', 'balanced')}"] + [k for k in ("sparse", "uncertainty") if facts.get(k)]
    console.print(Text(
        f"{facts.get('task')} task, {facts.get('n_rows', 0):,} rows, input width {facts.get('input_width', 0)}, "
        f"{', '.join(asked)}: {len(space.fired)} of {len(recommendation.trace)} rules fired", style="bold"))
    reasons = {o.rule_id: o.reason for o in recommendation.trace}
    table = Table(show_lines=False, expand=False)
    table.add_column("hyperparameter", style="cyan", no_wrap=True)
    table.add_column("value / range / choices", min_width=12, max_width=26)
    table.add_column("set by (facts) and why", min_width=24)
    fixed, searched = _space_rows(space)
    for group, title in ((fixed, "decided"), (searched, "searched")):
        if not group:
            continue
        table.add_row(Text(title, style="bold"), "", "")
        previous: list[str] = []
        for name in group:
            hp = space[name]
            source = Text()
            for rule_id in hp.rules:
                reason = reasons.get(rule_id, "")
                source.append(rule_id, style="magenta")
                source.append(f" ({reason})  " if reason and reason != "always" else "  ", style="dim")
            why = "\n".join(hp.why) if hp.why != previous else "as above"
            previous = hp.why
            source.append("\n" + why)
            table.add_row(name, Text(describe_hp(hp)), source)
        table.add_section()
    console.print(table)
    for note in space.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    if explain:
        _show_trace(console, recommendation)
    console.print(Text("Pin any value with --set name=value, or edit the YAML written by -o and pass it to "
                       "`autoann train --space`.", style="dim"))


def _show_trace(console: "Console", recommendation: "Recommendation") -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="every rule, in the order applied", title_justify="left")
    table.add_column("rule", no_wrap=True)
    table.add_column("fired", justify="center")
    table.add_column("facts checked")
    table.add_column("result")
    for outcome in recommendation.trace:
        result = []
        if outcome.set:
            result.append("set " + ", ".join(outcome.set))
        result += [f"{name} overridden by {by}" for name, by in outcome.overridden.items()]
        if outcome.fired and outcome.note:
            result.append("note added")
        table.add_row(
            Text(outcome.rule_id, style="bold" if outcome.fired else "dim"),
            Text("yes", style="green") if outcome.fired else Text("no", style="dim"),
            Text(outcome.reason), Text("; ".join(result)),
        )
    console.print(table)


def show_rule(console: "Console", rule: "Rule") -> None:
    """One rule in fixed sections, like ``ruff rule``: guidelines, what it does, when, why, docs."""
    from rich.text import Text

    from autoann.rules import describe_then, guideline_summary

    def section(title: str, lines: list[str]) -> None:
        console.print(Text(title, style="bold underline"))
        for line in lines:
            console.print(Text("  " + line))
        console.print()

    console.print(Text(f"{rule.id}", style="bold cyan"), Text(f"({rule.source})", style="dim"))
    console.print()
    section("Guidelines", [f"{g}  {guideline_summary(g)}" for g in rule.guideline])
    section("What it does", [f"{name}: {text}" for name, text in describe_then(rule)]
            + ([f"adds the note: {rule.note}"] if rule.note else []))
    section("When", ["always" if rule.when is None else rule.when.render()])
    section("Why", [rule.why])
    for key, value in rule.doc_sections():
        section(key.replace("_", " ").capitalize(), [value])
    examples = [f"fires on {_facts_text(c)}" for c in rule.examples.get("fires", [])]
    examples += [f"quiet on {_facts_text(c)}" for c in rule.examples.get("quiet", [])]
    if examples:
        section("Examples (facts over the defaults)", examples)


def _facts_text(case: dict) -> str:
    from autoann.rules import format_value

    return ", ".join(f"{k}={format_value(v)}" for k, v in case.items()) or "the default facts"


def show_rule_list(console: "Console", rules: "list[Rule]") -> None:
    """Every rule: id, guideline ids, when, why."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(rules)} rules, in the order applied", title_justify="left")
    table.add_column("rule", style="cyan", no_wrap=True)
    table.add_column("guidelines")
    table.add_column("when")
    table.add_column("why")
    for rule in rules:
        table.add_row(rule.id, Text(", ".join(rule.guideline)),
                      Text("always" if rule.when is None else rule.when.render()), Text(rule.why))
    console.print(table)
    console.print(Text("`autoann rules show ID` explains one rule.", style="dim"))


def show_train_result(console: "Console", result) -> None:
    """Test metrics, the chosen model and where the run directory is."""
    from rich.table import Table

    split, title = "test", "test metrics (held out before the search)"
    if not result.metrics.get("test") and result.metrics.get("validation"):  # --test-size 0
        split, title = "validation", "validation metrics (no test split: they also chose the model, so optimistic)"
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.get(split, {}).items():
        # .4g, not .4f: an rmse of 0.00012 must not print as 0.0000
        table.add_row(name, "-" if value is None else f"{value:.4g}")
    console.print(table)
    board = result.leaderboard
    failed = int((board["status"] == "failed").sum()) if len(board) else 0
    console.print(f"{len(board)} trials ({failed} failed) in {result.seconds:.0f}s; final model: {result.final_model}")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for path in result.exports:
        console.print(f"exported (verified against the SavedModel): [bold]{path}[/]", highlight=False)
    console.print(f"run directory: [bold]{result.run_dir}[/]  "
                  f"(predict with `autoann predict {result.run_dir} DATA`; serve it with "
                  f"`autoann serve {result.run_dir}` or TF Serving from saved_model/)")


def frame_table(frame, title: str, caption: str):
    """A preview of a frame (predictions): numbers right-aligned, floats to 4 significant digits."""
    from rich.table import Table

    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for name in frame.columns:
        table.add_column(str(name), justify="right" if frame[name].dtype.kind in "fiu" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    return table
