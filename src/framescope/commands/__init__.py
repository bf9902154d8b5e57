"""One module per ``framescope`` subcommand, each with ``register(subparsers)``."""
