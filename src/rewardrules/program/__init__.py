"""What a marketer writes: the program's validated, immutable pydantic models.

``model`` holds :class:`Program` and its settings, ``_rule_base`` what every rule has, and
``_rule_kinds`` one model per rule kind with the one union of them; ``_consistency`` the
checks that involve several fields or rules. Data only: this package imports the foundation
(money, errors, text, field types, time zones) and nothing else of rewardrules. Internal:
the public names are re-exported by :mod:`rewardrules`.
"""
