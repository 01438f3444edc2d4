"""The ``rewardrules`` command: one module per command, on top of everything else.

``entry`` is the command group, which imports each command only when it runs; ``main``
holds ``validate`` and ``dry-run``; ``explain``, ``lint``, ``schema``, ``sort_history``,
``report`` and ``compare`` are commands, and ``_reports`` writes what ``validate`` and
``lint`` find in the formats tools read. ``dry_run_output``,
``dry_run_stream``, ``customer_chunks`` and ``dry_run_cluster`` are dry-run's outputs,
streaming and cluster runs; ``_support``, ``_exit`` and ``_progress`` what the commands
share. Nothing imports this package but ``rewardrules.__main__`` and the ``rewardrules``
script. Internal.
"""
