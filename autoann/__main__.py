"""``python -m autoann``: the command line, as the ``autoann`` command (the chief starts its workers this way)."""

from autoann.cli import main

main()
