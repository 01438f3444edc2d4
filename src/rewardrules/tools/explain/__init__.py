"""Why a customer got (or did not get) each reward, purchase by purchase, in plain words.

``explanation`` is :func:`rewardrules.explain`; ``replay`` runs the customer's events through
the engine's public API; ``account`` is what it returns; the ``*_words`` modules write the
sentences. Internal: the public names are re-exported by :mod:`rewardrules`.
"""
