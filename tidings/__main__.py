"""``python -m tidings`` is the same as the ``tidings`` command."""

from tidings.cli import main

main()
