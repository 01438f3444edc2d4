"""The ``rewardrules schema`` command: print the JSON Schema of program files."""

from __future__ import annotations

import click


@click.command("schema")
@click.option(
    "--path",
    "show_path",
    is_flag=True,
    help="Print where the installed package keeps the schema file, for an editor's setting.",
)
def schema(show_path: bool) -> None:
    """Print the JSON Schema (draft-07) of program files, for editors and validators.

    The repository keeps a copy in schema/; refresh it with

    \b
        rewardrules schema > schema/program.schema.json
    """
    # Imported here: the schema is built from the models, which --path does not need.
    from rewardrules.rulefiles.schema import schema_text, shipped_schema  # noqa: PLC0415

    if show_path:
        click.echo(str(shipped_schema()))
        return
    click.echo(schema_text(), nl=False)
