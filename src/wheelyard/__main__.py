"""Allow ``python -m wheelyard``."""

from wheelyard.cli.main import main

raise SystemExit(main())
