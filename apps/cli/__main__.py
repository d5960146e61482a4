"""``python -m apps.cli`` runs the command line as the ``calypso`` entry point does."""

from .main import main

main()
