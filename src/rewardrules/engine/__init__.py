"""The kind-agnostic parts the rule kinds build on.

``kind`` is the record every rule kind fills (``KindSpec``); ``scope`` says which purchases
and lines a rule looks at, and ``scope_words`` which of its conditions a purchase fails, in
words; ``basket`` is a purchase as the rules change it, ``ledger`` the entries and results,
``state`` with ``_state_format`` and ``_state_checks`` a customer's state and its saved
form, ``lots`` the points after they are earned, then ``tiers``, ``limits`` and
``refunds``. It may import ``program``, ``events`` and the foundation; it never names a
rule kind. Internal: the public names are re-exported by :mod:`rewardrules`.
"""
