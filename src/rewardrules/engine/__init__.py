"""The kind-agnostic parts the rule kinds build on.

``scope`` (which purchases and lines a rule looks at), ``basket`` (a purchase as the rules
change it), ``ledger`` (entries and results), ``state`` with ``_state_format`` and
``_state_checks`` (a customer's state and its saved form), ``lots`` (points after they are
earned), ``tiers``, ``limits`` and ``refunds``. It may import ``program``, ``events`` and the
foundation; it never names a rule kind. Internal: the public names are re-exported by
:mod:`rewardrules`.
"""
