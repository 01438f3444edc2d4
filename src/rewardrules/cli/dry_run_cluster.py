"""``dry-run --workers N`` and ``--scheduler ADDRESS``: the dry-run on a Dask cluster.

The history is a pattern of Parquet files (``'histories/*.parquet'``), read by Dask and
evaluated by :mod:`rewardrules.dask`, partitioned by customer. The dashboard's address is
printed on standard error and, on a terminal, a bar counts the partitions done. Standard
output gets the program's totals (text or JSON); ``--output DIR/`` writes the ledger as
one Parquet file per partition, under a temporary name renamed into place at the end.
Every failure is a one-line message and exit status 1 (``RewardRulesError``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from rewardrules.engine.ledger import Totals
from rewardrules.errors import Problem, RewardRulesError
from rewardrules.events import Customer
from rewardrules.program.model import Program

__all__ = ["LedgerDirectory", "dry_run_on_cluster"]


@dataclass(frozen=True, slots=True)
class LedgerDirectory:
    """``--output DIR/``: a partitioned Parquet ledger, one file per partition."""

    path: Path


def _fail(message: str, code: str) -> RewardRulesError:
    return RewardRulesError([Problem(message=message, code=code)])


def _files(pattern: str) -> list[str]:
    files = sorted(glob.glob(pattern))
    if not files:
        raise _fail(
            f"{pattern}: no history file matches; check the pattern, and quote it so that "
            "the shell does not expand it",
            "no-history",
        )
    others = [name for name in files if not name.lower().endswith(".parquet")]
    if others:
        raise _fail(
            f"{others[0]}: --workers and --scheduler read Parquet histories; write this "
            "one as Parquet (rewardrules sort-history IN OUT.parquet)",
            "not-parquet",
        )
    return files


@contextmanager
def _client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    import dask  # noqa: PLC0415 -- the extra, checked
    from distributed import Client, LocalCluster  # noqa: PLC0415

    from rewardrules.dask import worker_environ  # noqa: PLC0415

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as error:
            raise _fail(
                f"cannot reach the Dask scheduler at {scheduler} ({error}); check the "
                "address and that the scheduler is running",
                "no-scheduler",
            ) from None
        with client:
            yield client
        return
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _show_progress(client: Any, persisted: list[Any], quiet: bool) -> None:
    from distributed import as_completed, futures_of  # noqa: PLC0415 -- the extra

    futures = futures_of(persisted)
    if quiet or not sys.stderr.isatty():
        client.gather(futures, errors="skip")
        return
    from rich.console import Console  # noqa: PLC0415 -- only on a terminal
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
    )

    with Progress(
        "partitions",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task("partitions", total=len(futures))
        for _ in as_completed(futures):
            bar.advance(task)


@contextmanager
def _ledger_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` for the workers to write the ledger's files
    into, renamed to ``target`` when the block ends well and removed when it does not:
    a ledger folder is whole or absent, never half-written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise _fail(
            f"{target}: the ledger directory exists and is not empty; remove it or name another",
            "output-exists",
        )
    parent = target.absolute().parent
    if not parent.is_dir():
        raise _fail(f"{target}: its folder {parent} does not exist", "no-folder")
    temporary = parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        temporary.mkdir()
        yield temporary
        for leftover in temporary.glob(".*"):
            leftover.unlink()  # a file a lost worker had begun; its partition was redone
        if target.exists():
            target.rmdir()
        temporary.rename(target)
    except OSError as error:
        message = f"cannot write the ledger to {target}: {error.strerror or error}"
        raise _fail(message, "io") from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)


def dry_run_on_cluster(
    program: Program,
    pattern: str,
    *,
    customers: list[Customer] | None,
    as_of: date | datetime | None,
    workers: int | None,
    scheduler: str | None,
    output: LedgerDirectory | None,
    engine: str,
    quiet: bool,
) -> Totals:
    """Evaluate the histories a pattern names on a Dask cluster; write the ledger; totals.

    Raises:
        RewardRulesError: the dask extra is missing, no file matches, a file is not
            Parquet, the scheduler cannot be reached, or the evaluation failed.
    """
    from rewardrules.dask import partition_tasks, read_histories  # noqa: PLC0415
    from rewardrules.tools.scale import add_totals  # noqa: PLC0415

    files = _files(pattern)
    try:
        history = read_histories(files)
    except (OSError, ValueError) as error:
        raise _fail(f"{pattern}: cannot read the histories: {error}", "unreadable") from None
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(_client(workers, scheduler))
        click.echo(f"dashboard: {client.dashboard_link}", err=True)
        folder = None if output is None else stack.enter_context(_ledger_folder(output.path))
        planned = partition_tasks(
            program,
            history,
            as_of=as_of,
            customers=customers,
            engine=engine,
            ledger_folder=None if folder is None else str(folder),
        )
        if not planned.shuffled:
            click.echo("the files are partitioned by customer: no shuffle", err=True)
        # Only the figures are kept: each worker writes (or drops) a partition's ledger
        # as soon as it is made, and holds one partition at a time.
        persisted = client.persist(planned.figures())
        _show_progress(client, persisted, quiet)
        return add_totals(program, client.compute(persisted, sync=True))
    raise AssertionError("unreachable")  # pragma: no cover -- the block returns or raises


def totals_json(program: Program, totals: Totals) -> str:
    """The totals in the JSON output contract's words."""
    return json.dumps({"program": program.program, "totals": totals.to_dict()}, indent=2)
