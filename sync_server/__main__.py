"""`python -m sync_server` is the `aipipe` command."""

from .cli import main

main()
