"""The ``rewardrules`` command: one module per command, on top of everything else.

``main`` is the command group and ``dry-run``; ``explain``, ``lint``, ``schema``,
``sort_history``, ``report`` and ``compare`` are commands. ``dry_run_output``,
``dry_run_stream``, ``customer_chunks`` and ``dry_run_cluster`` are dry-run's outputs,
streaming and cluster runs; ``_support``, ``_exit`` and ``_progress`` what the commands
share. Nothing imports this package but ``rewardrules.__main__`` and the ``rewardrules``
script. Internal.
"""
