"""Imported first by the ``dry-run --jobs`` forkserver of a command that spared pandas
(:mod:`rewardrules.cli._pandas`): its worker processes spare it too."""

from rewardrules.cli._pandas import spare_now

spare_now()
