"""Evaluation: a program compiled once and run over histories.

``plan`` compiles a program into per-rule plans in running order; ``stacking`` runs limits
and exclusive groups around a rule's step; ``gifts`` gives what no purchase earns (dates,
referrals); ``fold`` is ``evaluate`` and ``step``, the reference engine; ``batch`` is the
columnar engine over Arrow tables. It reads the kinds through their table and may import
``kinds``, ``engine``, ``histories``, ``program``, ``events`` and the foundation, never the
tools or the CLI. Internal: the public names are re-exported by :mod:`rewardrules`.
"""
