"""Histories: CSV, JSON Lines, JSON and Parquet files in, events or Arrow tables out.

``read`` reads files into events and customer profiles row by row (``_csv``, ``_json``,
``_records``); ``columns`` is the Arrow column layout and the way between events and rows,
and ``_table_read``, ``_table_checks``, ``_table_rules`` read whole files into tables with
the same located errors. It may import ``events`` and the foundation, never the program,
the engine or the tools. Internal: the public names are re-exported by :mod:`rewardrules`.
"""
