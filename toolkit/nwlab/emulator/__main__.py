"""``python -m nwlab.emulator``: the standalone runner (see cli.py)."""

from .cli import main

raise SystemExit(main())
