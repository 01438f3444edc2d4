"""The ``rewardrules schema`` command: print the JSON Schema of program files."""

from __future__ import annotations

import click

from rewardrules.rulefiles.schema import schema_text


@click.command("schema")
def schema() -> None:
    """Print the JSON Schema (draft-07) of program files, for editors and validators.

    The repository keeps a copy in schema/; refresh it with

    \b
        rewardrules schema > schema/program.schema.json
    """
    click.echo(schema_text(), nl=False)
