"""``python -m autoann.rules --markdown``: print the rule reference (docs/rules.md)."""

from __future__ import annotations

import sys
from typing import Sequence

from autoann.rules._docs import rules_markdown
from autoann.rules._loader import load_builtin_rules


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv != ["--markdown"]:
        print("usage: python -m autoann.rules --markdown > docs/rules.md", file=sys.stderr)
        return 2
    sys.stdout.write(rules_markdown(load_builtin_rules()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
