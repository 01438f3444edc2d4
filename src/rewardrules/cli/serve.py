"""``rewardrules serve``: the local playground (docs/playground.md); starting it only."""

from __future__ import annotations

import secrets
import threading
import webbrowser
from pathlib import Path

import click


@click.command("serve")
@click.argument(
    "folder",
    required=False,
    default=".",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
)
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on; anything but this machine's own is open to the network.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def serve_command(folder: Path, port: int, host: str, open_browser: bool) -> None:
    """Edit, check, dry-run and save the programs of FOLDER in a web page."""
    try:
        import uvicorn  # noqa: PLC0415 -- the 'serve' extra

        from rewardrules.serve._guard import LOCAL_HOSTS  # noqa: PLC0415 -- needs starlette
        from rewardrules.serve.app import create_app  # noqa: PLC0415 -- needs starlette
    except ImportError:
        message = "rewardrules serve needs its extra: pip install 'rewardrules[serve]'"
        raise click.ClickException(message) from None
    hosts = LOCAL_HOSTS
    if host.strip("[]") not in {"127.0.0.1", "localhost", "::1"}:
        click.echo(
            f"warning: listening on {host}: anyone who can reach this address and port can "
            f"read and change the programs in {folder} (with the page's token).",
            err=True,
        )
        hosts = LOCAL_HOSTS | {host.lower() if ":" not in host else f"[{host.strip('[]')}]"}
    token = secrets.token_urlsafe(32)
    app = create_app(folder, hosts=hosts, token=token)
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    url = f"http://{'127.0.0.1' if host in {'0.0.0.0', '::'} else shown}:{port}/"  # noqa: S104
    click.echo(f"rewardrules serve: {folder.resolve()} at {url} (Ctrl-C stops it)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", server_header=False)
