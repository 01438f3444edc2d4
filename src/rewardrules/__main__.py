"""``python -m rewardrules``: the same as the ``rewardrules`` command."""

from rewardrules.cli.entry import main

main()
