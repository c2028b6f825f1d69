"""PyInstaller entry point for bin/chatter (scripts/build-binary.sh).

A plain script rather than ``chatter/__main__.py`` so that the frozen
program imports ``chatter`` as a package, exactly like ``python -m chatter``.
"""

from chatter.cli import main

raise SystemExit(main())
