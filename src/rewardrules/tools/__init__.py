"""What is built on programs and evaluations: explanations, lint, the reference, outputs.

``explain`` (why a customer got each reward), ``lint`` (warnings for valid but probably wrong
programs), ``reference`` (the rule reference generated from the models), ``export``,
``ledger_files`` and ``summary`` (ledgers and totals as files), ``report``, ``compare``
and ``report_html`` (what a program costs, what a change would do), and ``scale`` (what a
Dask or Spark worker runs on its partition of customers). It may import every layer
below it (evaluation, kinds, engine, rulefiles, histories, program, the foundation), never
the CLI. Internal: the public names are re-exported by :mod:`rewardrules`.
"""
