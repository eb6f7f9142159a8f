"""`python -m samples OUT.zip --layout D ...`: write a sample package (see samples/cli.py)."""

from samples.cli import main

raise SystemExit(main())
