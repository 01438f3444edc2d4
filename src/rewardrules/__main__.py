"""``python -m rewardrules``: the same as the ``rewardrules`` command."""

from rewardrules.cli.main import main

main()
