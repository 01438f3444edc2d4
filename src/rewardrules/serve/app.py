"""The playground's routes: the page, its static files, and the JSON API it calls.

``create_app(folder)`` builds one app for one session: a random token, put in the page, that
every API request must carry. The routes and their answers are in docs/playground.md.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import secrets
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from rewardrules.errors import RewardRulesError
from rewardrules.events import AnyEvent
from rewardrules.program.model import Program
from rewardrules.rulefiles.schema import schema_text
from rewardrules.serve import _work
from rewardrules.serve._guard import LOCAL_HOSTS, HostCheck, RefusedError, check_request, read_body
from rewardrules.serve._paths import (
    HISTORY_SUFFIXES,
    PROGRAM_SUFFIXES,
    Folder,
    MissingFileError,
    OutsideFolderError,
)

MAX_REQUEST_BYTES: Final = 2 * 1024 * 1024
"""A JSON request (a program's text and a few names): the loader reads at most 1 MiB."""
MAX_UPLOAD_BYTES: Final = 20 * 1024 * 1024
"""An uploaded history; a bigger one belongs on the command line."""
RUN_SECONDS: Final = 30.0
"""The time limit of one dry-run, explanation, report or comparison."""
KEPT_UPLOADS: Final = 8
KEPT_REPORTS: Final = 8
DRAFT_SUFFIX: Final = ".draft.yaml"

STATIC: Final = resources.files("rewardrules.serve") / "static"

_PAGE_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # CodeMirror writes its themes as <style> elements.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "frame-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
# The report page is plotly's self-contained HTML (inline scripts); it is shown in a
# sandboxed frame without same-origin rights, so it cannot call the API.
_REPORT_POLICY: Final = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; sandbox allow-scripts"
)
_COMMON_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@dataclass
class _Session:
    folder: Folder
    token: str
    upload_limit: int
    run_seconds: float
    uploads_dir: Path
    uploads: OrderedDict[str, tuple[str, Path]] = field(default_factory=OrderedDict)
    reports: OrderedDict[str, str] = field(default_factory=OrderedDict)
    runs: dict[str, _work.Deadline] = field(default_factory=dict)
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))


def create_app(
    folder: Path,
    *,
    hosts: frozenset[str] = LOCAL_HOSTS,
    upload_limit: int = MAX_UPLOAD_BYTES,
    run_seconds: float = RUN_SECONDS,
    token: str | None = None,
) -> Any:
    """The playground over ``folder``, as an ASGI app.

    Args:
        folder: the folder whose programs and histories the page may read and write.
        hosts: the host names the server answers to (the ``Host`` header's, port aside).
        upload_limit: the largest history the page may upload, in bytes.
        run_seconds: the time limit of one run.
        token: the session token (random when not given; tests give their own).
    """
    uploads = tempfile.mkdtemp(prefix="rewardrules-serve-")
    session = _Session(
        Folder.at(folder),
        token or secrets.token_urlsafe(32),
        upload_limit,
        run_seconds,
        Path(uploads),
    )
    api = _Api(session)
    routes = [
        Route("/", api.page),
        Route("/schema.json", api.schema),
        Route("/reports/{report_id}", api.report_page),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        Route("/api/files", api.guarded(api.files)),
        Route("/api/file", api.guarded(api.file)),
        Route("/api/validate", api.guarded(api.validate), methods=["POST"]),
        Route("/api/upload", api.guarded(api.upload), methods=["POST"]),
        Route("/api/run", api.guarded(api.run), methods=["POST"]),
        Route("/api/explain", api.guarded(api.explain), methods=["POST"]),
        Route("/api/compare", api.guarded(api.compare), methods=["POST"]),
        Route("/api/cancel", api.guarded(api.cancel), methods=["POST"]),
        Route("/api/save", api.guarded(api.save), methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        lifespan=lambda _app: _removing(uploads),
    )
    app.state.token = session.token
    return HostCheck(app, hosts)


@contextlib.asynccontextmanager
async def _removing(folder: str) -> AsyncIterator[None]:
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _http_error(_request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    detail = error.detail if isinstance(error, HTTPException) else "error"
    return JSONResponse({"error": detail}, status_code=status, headers=_COMMON_HEADERS)


async def _internal_error(_request: Request, _error: Exception) -> Response:
    # Never a traceback: the page says what happened in words; the terminal keeps the log.
    message = "the server could not do this (an internal error): see the terminal running it"
    return JSONResponse({"error": message}, status_code=500, headers=_COMMON_HEADERS)


_Handler = Callable[[Request], Awaitable[Response]]


class _Api:
    def __init__(self, session: _Session) -> None:
        self.session = session

    def guarded(self, handler: _Handler) -> _Handler:
        async def checked(request: Request) -> Response:
            try:
                check_request(request, self.session.token)
                response = await handler(request)
            except RefusedError as refusal:
                response = refusal.response()
            response.headers.update(_COMMON_HEADERS)
            return response

        return checked

    async def page(self, _request: Request) -> Response:
        template = (STATIC / "index.html").read_text(encoding="utf-8")
        page = template.replace("{{token}}", html.escape(self.session.token)).replace(
            "{{folder}}", html.escape(self.session.folder.root.name)
        )
        headers = {**_COMMON_HEADERS, "content-security-policy": _PAGE_POLICY}
        return HTMLResponse(page, headers=headers)

    async def schema(self, _request: Request) -> Response:
        return Response(schema_text(), media_type="application/json", headers=_COMMON_HEADERS)

    async def report_page(self, request: Request) -> Response:
        page = self.session.reports.get(request.path_params["report_id"])
        if page is None:
            raise RefusedError(404, "this report is no longer kept: run again")
        headers = {**_COMMON_HEADERS, "content-security-policy": _REPORT_POLICY}
        return HTMLResponse(page, headers=headers)

    async def files(self, _request: Request) -> Response:
        programs, histories = self.session.folder.listing()
        return JSONResponse(
            {"folder": self.session.folder.root.name, "programs": programs, "histories": histories}
        )

    async def file(self, request: Request) -> Response:
        name = request.query_params.get("path", "")
        path = self._resolve(name)
        if not name.lower().endswith(PROGRAM_SUFFIXES):
            raise RefusedError(400, f"{name!r} is not a program file (.yaml or .yml)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RefusedError(422, f"{name}: cannot read it as UTF-8 text ({error})") from None
        return JSONResponse({"path": name, "text": text})

    async def validate(self, request: Request) -> Response:
        data = await self._json(request)
        text, source = _text(data, "text"), _text(data, "path", "<buffer>")
        found = await anyio.to_thread.run_sync(_work.check_text, text, source)
        return JSONResponse(found)

    async def upload(self, request: Request) -> Response:
        name = request.headers.get("x-file-name", "")
        suffix = Path(name).suffix.lower()
        if suffix not in HISTORY_SUFFIXES:
            message = f"{name!r}: upload a history as .csv, .jsonl, .json or .parquet"
            raise RefusedError(415, message)
        limit = self.session.upload_limit
        body = await read_body(request, limit)
        upload_id = secrets.token_urlsafe(12)
        path = self.session.uploads_dir / f"{upload_id}{suffix}"
        path.write_bytes(body)
        deadline = _work.Deadline(self.session.run_seconds)
        try:
            events = await anyio.to_thread.run_sync(_work.read_events, path, deadline)
        except (RewardRulesError, _work.StoppedError) as error:
            path.unlink(missing_ok=True)
            raise _history_refusal(error, name, path) from None
        self.session.uploads[upload_id] = (name, path)
        while len(self.session.uploads) > KEPT_UPLOADS:
            _, (_, old) = self.session.uploads.popitem(last=False)
            old.unlink(missing_ok=True)
        return JSONResponse({"history": f"upload:{upload_id}", "name": name, "events": len(events)})

    async def run(self, request: Request) -> Response:
        data = await self._json(request)
        found = await self._work(data, _run_and_report)
        report_html, table = found
        report_id = secrets.token_urlsafe(12)
        self.session.reports[report_id] = report_html
        while len(self.session.reports) > KEPT_REPORTS:
            self.session.reports.popitem(last=False)
        return JSONResponse({**table, "report": f"/reports/{report_id}"})

    async def explain(self, request: Request) -> Response:
        data = await self._json(request)
        customer = _text(data, "customer")
        found = await self._work(
            data,
            lambda program, events, deadline: _work.explain_customer(
                program, events, customer, deadline
            ),
        )
        return JSONResponse(found)

    async def compare(self, request: Request) -> Response:
        data = await self._json(request)
        name = _text(data, "path")
        path = self._resolve(name)
        if not name.lower().endswith(PROGRAM_SUFFIXES):
            raise RefusedError(400, f"{name!r} is not a program file (.yaml or .yml)")
        try:
            saved_text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RefusedError(422, f"{name}: cannot read it as UTF-8 text ({error})") from None
        if saved_text == _text(data, "text"):
            return JSONResponse({"same": True})
        try:
            saved = _work.load_text(saved_text, name)
        except RewardRulesError as error:
            raise RefusedError(
                422,
                f"the saved {name} is not valid, so there is nothing to compare with",
                problems=_work.problems_json(error.problems, name),
            ) from None
        found = await self._work(
            data, lambda program, events, deadline: _work.compared(saved, program, events, deadline)
        )
        return JSONResponse({"same": False, **found})

    async def cancel(self, request: Request) -> Response:
        data = await self._json(request)
        deadline = self.session.runs.get(_text(data, "run"))
        if deadline is not None:
            deadline.cancelled.set()
        return JSONResponse({"cancelled": deadline is not None})

    async def save(self, request: Request) -> Response:
        data = await self._json(request)
        name, text = _text(data, "path"), _text(data, "text")
        if not name.lower().endswith(PROGRAM_SUFFIXES):
            raise RefusedError(400, f"{name!r}: a program is saved as .yaml or .yml")
        path = self._resolve(name, must_exist=False)
        checked = await anyio.to_thread.run_sync(_work.check_text, text, name)
        if not checked["ok"] and not name.endswith(DRAFT_SUFFIX):
            draft = name.rsplit(".", 1)[0] + DRAFT_SUFFIX
            raise RefusedError(
                422,
                f"{name} was not saved: it has problems. Fix them, or save it as a draft "
                f"named {draft}",
                problems=checked["problems"],
                draft=draft,
            )
        if path.exists() and not path.is_file():
            raise RefusedError(400, f"{name!r} is not a regular file")
        if not path.parent.is_dir():
            raise RefusedError(400, f"{name!r}: its folder does not exist in the served folder")
        backup = None
        if path.exists():
            # The backup too must stay inside: a link named NAME.bak that leads out is refused.
            backup = self._resolve(f"{name}.bak", must_exist=False)
            if backup.exists() and not backup.is_file():
                raise RefusedError(400, f"'{name}.bak' is not a regular file")
        temporary = None
        try:
            if backup is not None:
                shutil.copyfile(path, backup)
            # Write beside the file, then rename: a crash never leaves half a program.
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rewardrules-")
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise RefusedError(500, f"{name}: cannot write it ({error.strerror})") from None
        root = self.session.folder.root
        return JSONResponse(
            {
                "saved": path.relative_to(root).as_posix(),
                "backup": None if backup is None else backup.relative_to(root).as_posix(),
                "draft": not checked["ok"],
            }
        )

    def _resolve(self, name: str, must_exist: bool = True) -> Path:
        try:
            return self.session.folder.resolve(name, must_exist=must_exist)
        except MissingFileError as error:
            raise RefusedError(404, str(error)) from None
        except OutsideFolderError as error:
            raise RefusedError(403, str(error)) from None

    async def _json(self, request: Request) -> dict[str, Any]:
        body = await read_body(request, MAX_REQUEST_BYTES)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RefusedError(400, "the request is not JSON") from None
        if not isinstance(data, dict):
            raise RefusedError(400, "the request is not a JSON object")
        return data

    def _history(self, reference: str) -> tuple[str, Path]:
        if reference.startswith("upload:"):
            found = self.session.uploads.get(reference.removeprefix("upload:"))
            if found is None:
                raise RefusedError(404, "this upload is no longer kept: upload the history again")
            return found
        path = self._resolve(reference)
        if not reference.lower().endswith(HISTORY_SUFFIXES):
            message = f"{reference!r} is not a history (.csv, .jsonl, .json, .parquet)"
            raise RefusedError(400, message)
        return reference, path

    async def _work(
        self,
        data: dict[str, Any],
        work: Callable[[Program, list[AnyEvent], _work.Deadline], Any],
    ) -> Any:
        source = _text(data, "path", "<buffer>")
        text = _text(data, "text")
        try:
            program = _work.load_text(text, source)
        except RewardRulesError as error:
            raise RefusedError(
                422,
                "the program has problems: fix them first",
                problems=_work.problems_json(error.problems, source),
            ) from None
        name, path = self._history(_text(data, "history"))
        run_id = _text(data, "run", "") or secrets.token_urlsafe(8)
        deadline = _work.Deadline(self.session.run_seconds)
        self.session.runs[run_id] = deadline

        def job() -> Any:
            try:
                events = _work.read_events(path, deadline)
            except RewardRulesError as error:
                raise _history_refusal(error, name, path) from None
            return work(program, events, deadline)

        try:
            async with self.session.limiter:
                return await anyio.to_thread.run_sync(job)
        except _work.StoppedError as stopped:
            raise RefusedError(408, str(stopped)) from None
        except RewardRulesError as error:
            raise _history_refusal(error, name, path) from None
        finally:
            self.session.runs.pop(run_id, None)


def _run_and_report(
    program: Program, events: list[AnyEvent], deadline: _work.Deadline
) -> tuple[str, dict[str, Any]]:
    from rewardrules.tools.report_html import report_html  # noqa: PLC0415 -- plotly, on demand

    table, found = _work.dry_run(program, events, deadline)
    deadline.check()
    return report_html(found), table


def _history_refusal(error: Exception, name: str, path: Path) -> RefusedError:
    if isinstance(error, RewardRulesError):
        problems = _work.problems_json(error.problems, name, was=str(path))
        first = problems[0]["text"] if problems else "the history cannot be read"
        return RefusedError(422, f"{name}: {first}", problems=problems)
    return RefusedError(408, str(error))


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise RefusedError(400, f"the request needs {key!r} as text")
    return value
