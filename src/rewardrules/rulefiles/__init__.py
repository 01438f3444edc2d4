"""Rule files: YAML text in, a validated :class:`~rewardrules.program.model.model.Program` out.

``loader`` reads a file with located problems (file, line, column), helped by ``sourcemap``
(the node tree and where each value came from), ``_syntax`` (YAML errors in plain words),
``_messages`` and ``_errorpaths`` (pydantic's errors in plain words, on the document);
``dump`` writes a program back as YAML and ``schema`` gives the JSON Schema of the format.
It may import ``program`` and the foundation, never the engine or the tools. Internal: the
public names are re-exported by :mod:`rewardrules`.
"""
