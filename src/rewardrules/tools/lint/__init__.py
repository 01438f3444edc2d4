"""Warnings for programs that are valid but probably wrong: ``rewardrules lint``.

``warnings`` runs the checks; ``check`` is the shape of a check; ``filters`` and ``rewards``
hold the checks about filters and about what rules give. Internal.
"""
