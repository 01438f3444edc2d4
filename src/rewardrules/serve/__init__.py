"""The local playground of ``rewardrules serve``: edit a program, see its problems, dry-run it.

A small ASGI app (Starlette) over the library: the page's editor sends the buffer, and the
server answers with the loader's own problems, the lint warnings, a dry-run, an explanation,
the cost report and the comparison with the saved file (docs/playground.md). It may import
every layer below the command line (tools and down); the command line starts it.

Its modules import Starlette (the 'serve' extra), so this ``__init__`` imports nothing:
``from rewardrules.serve.app import create_app``.
"""
