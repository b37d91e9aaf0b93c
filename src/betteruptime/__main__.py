"""`python -m betteruptime` runs the same command as the `betteruptime` script."""

from betteruptime.cli import main

main()
