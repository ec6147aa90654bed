"""`python -m services` is `leadflow`."""

from services.cli import main

main()
