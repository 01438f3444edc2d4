"""The rule reference, generated from the program's models so that it cannot drift.

``pages`` writes the reference; ``examples`` chooses and writes each field's example.
Internal: the docs build calls it.
"""
