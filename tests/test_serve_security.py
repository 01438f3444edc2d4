"""The playground's server is no open door: each guard, tested over HTTP on the real server.

uvicorn serves the app on a free local port in a thread; httpx sends what a hostile page or a
careless click could: paths out of the folder (``..``, a symlink, an absolute path), requests
without the session's token or from another origin, oversized bodies, YAML tags that would
run code, a run past its time limit and a run cancelled from the page.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from rewardrules.histories.columns import events_to_table  # noqa: E402 -- after the skip
from rewardrules.histories.read import read_history  # noqa: E402
from rewardrules.rulefiles.loader import load_program_with_map  # noqa: E402
from rewardrules.serve import _work  # noqa: E402
from rewardrules.serve.app import MAX_REQUEST_BYTES, create_app  # noqa: E402
from rewardrules.tools.lint.warnings import lint_program  # noqa: E402

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "rules" / "examples"
PROGRAM = "ice-cream-parlour.yaml"
HISTORY = "ice-cream-parlour.history.csv"
TOKEN = "a-test-token-of-this-session"  # noqa: S105 -- the tests' own, not a secret
UPLOAD_LIMIT = 6144  # above the example history as Parquet (4.0 KiB), below 10 KiB
RUN_SECONDS = 1.0


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secret = tmp_path_factory.mktemp("outside")
    (secret / "secret.yaml").write_text((EXAMPLES / PROGRAM).read_text())
    (secret / "secret.csv").write_text((EXAMPLES / HISTORY).read_text())
    return secret


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, outside: Path) -> Path:
    served = tmp_path_factory.mktemp("served")
    for name in (PROGRAM, HISTORY):
        shutil.copyfile(EXAMPLES / name, served / name)
    (served / "leak.yaml").symlink_to(outside / "secret.yaml")
    (served / "leak.csv").symlink_to(outside / "secret.csv")
    (served / "away").symlink_to(outside, target_is_directory=True)
    return served


@pytest.fixture(scope="module")
def base(folder: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(folder, upload_limit=UPLOAD_LIMIT, run_seconds=RUN_SECONDS, token=TOKEN)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def client(base: str) -> Iterator[Any]:
    headers = {"x-rewardrules-token": TOKEN, "origin": base}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as session:
        yield session


def program_text() -> str:
    return (EXAMPLES / PROGRAM).read_text(encoding="utf-8")


# -- paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("../secret.yaml", 403),
        ("away/../../secret.yaml", 403),
        ("leak.yaml", 403),  # a symlink inside the folder that leads out
        ("away/secret.yaml", 403),  # a linked folder that leads out
        ("/etc/passwd", 403),
        ("C:\\Windows\\win.ini", 403),
        ("nothing-here.yaml", 404),
    ],
)
def test_no_program_is_read_from_outside_the_folder(client: Any, name: str, status: int) -> None:
    answer = client.get("/api/file", params={"path": name})
    assert answer.status_code == status
    assert "program" not in answer.text.lower() or "rules" not in answer.text
    assert "ice-cream" not in answer.text


@pytest.mark.parametrize("name", ["../secret.csv", "leak.csv", "away/secret.csv", "/etc/hosts"])
def test_no_history_is_read_from_outside_the_folder(client: Any, name: str) -> None:
    answer = client.post("/api/run", json={"text": program_text(), "history": name})
    assert answer.status_code == 403
    assert "outside" in answer.json()["error"] or "only files inside" in answer.json()["error"]


@pytest.mark.parametrize("name", ["../escaped.yaml", "away/escaped.yaml", "{outside}/escaped.yaml"])
def test_nothing_is_saved_outside_the_folder(
    client: Any, name: str, outside: Path, folder: Path
) -> None:
    name = name.format(outside=outside)  # an absolute path
    answer = client.post("/api/save", json={"path": name, "text": program_text()})
    assert answer.status_code == 403
    assert not (outside / "escaped.yaml").exists()
    assert not (folder.parent / "escaped.yaml").exists()


def test_saving_over_a_link_that_leads_out_is_refused(client: Any, outside: Path) -> None:
    before = (outside / "secret.yaml").read_text()
    answer = client.post("/api/save", json={"path": "leak.yaml", "text": program_text()})
    assert answer.status_code == 403
    assert (outside / "secret.yaml").read_text() == before


def test_a_backup_through_a_link_that_leads_out_is_refused(
    client: Any, outside: Path, folder: Path
) -> None:
    (folder / "linked.yaml").write_text(program_text())
    (outside / "victim.txt").write_text("not a program")
    (folder / "linked.yaml.bak").symlink_to(outside / "victim.txt")
    answer = client.post("/api/save", json={"path": "linked.yaml", "text": program_text()})
    assert answer.status_code == 403
    assert (outside / "victim.txt").read_text() == "not a program"


def test_saving_into_a_missing_folder_says_so(client: Any) -> None:
    answer = client.post("/api/save", json={"path": "nowhere/new.yaml", "text": program_text()})
    assert answer.status_code == 400
    assert (
        answer.json()["error"]
        == "'nowhere/new.yaml': its folder does not exist in the served folder"
    )


def test_the_listing_shows_only_what_is_inside(client: Any) -> None:
    found = client.get("/api/files").json()
    assert "leak.yaml" not in found["programs"]
    assert PROGRAM in found["programs"]
    assert found["histories"] == [HISTORY]


# -- token, origin, host -------------------------------------------------------------------


def test_an_api_request_without_the_token_is_refused(base: str) -> None:
    with httpx.Client(base_url=base) as bare:
        assert bare.get("/api/files").status_code == 403
        answer = bare.post(
            "/api/save", json={"path": "new.yaml", "text": program_text()}, headers={"origin": base}
        )
        assert answer.status_code == 403
        assert "token" in answer.json()["error"]


def test_a_wrong_token_is_refused(base: str, folder: Path) -> None:
    headers = {"x-rewardrules-token": TOKEN + "x", "origin": base}
    answer = httpx.post(
        f"{base}/api/save", json={"path": "new.yaml", "text": program_text()}, headers=headers
    )
    assert answer.status_code == 403
    assert not (folder / "new.yaml").exists()


@pytest.mark.parametrize("origin", [None, "http://evil.example", "null", "http://127.0.0.1:1"])
def test_a_post_from_another_origin_is_refused(base: str, folder: Path, origin: str | None) -> None:
    headers = {"x-rewardrules-token": TOKEN}
    if origin is not None:
        headers["origin"] = origin
    answer = httpx.post(
        f"{base}/api/save", json={"path": "new.yaml", "text": program_text()}, headers=headers
    )
    assert answer.status_code == 403
    assert answer.json()["error"] == "this request comes from another site's page"
    assert not (folder / "new.yaml").exists()


def test_a_request_for_another_host_name_is_refused(base: str) -> None:
    # A DNS name rebound to 127.0.0.1 reaches the port, but names itself in Host.
    answer = httpx.get(f"{base}/", headers={"host": "evil.example"})
    assert answer.status_code == 421
    assert TOKEN not in answer.text


def test_the_page_carries_the_token_and_a_strict_policy(base: str) -> None:
    answer = httpx.get(f"{base}/")
    assert answer.status_code == 200
    assert f'content="{TOKEN}"' in answer.text
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


# -- sizes ---------------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_refused(client: Any) -> None:
    body = (EXAMPLES / HISTORY).read_bytes() * 10
    assert len(body) > UPLOAD_LIMIT
    answer = client.post("/api/upload", content=body, headers={"x-file-name": "big.csv"})
    assert answer.status_code == 413
    assert (
        answer.json()["error"] == f"the request is larger than the limit of {UPLOAD_LIMIT:,} bytes"
    )


def test_a_streamed_upload_is_counted_whatever_it_declares(client: Any) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1024

    answer = client.post("/api/upload", content=chunks(), headers={"x-file-name": "big.csv"})
    assert answer.status_code == 413


def test_a_request_over_the_limit_is_refused(client: Any) -> None:
    text = "# " + "x" * MAX_REQUEST_BYTES + "\n"
    answer = client.post("/api/validate", json={"text": text})
    assert answer.status_code == 413


def test_an_upload_of_another_sort_is_refused(client: Any) -> None:
    answer = client.post("/api/upload", content=b"MZ", headers={"x-file-name": "tool.exe"})
    assert answer.status_code == 415
    assert ".csv, .jsonl, .json or .parquet" in answer.json()["error"]


def test_a_bad_upload_is_refused_with_its_line(client: Any) -> None:
    text = (EXAMPLES / HISTORY).read_text().splitlines()
    text[2] = text[2].replace("2026-", "2026/", 1)
    answer = client.post(
        "/api/upload", content="\n".join(text).encode(), headers={"x-file-name": "mine.csv"}
    )
    assert answer.status_code == 422
    problem = answer.json()["problems"][0]
    assert (problem["file"], problem["line"]) == ("mine.csv", 3)
    assert answer.json()["error"].startswith("mine.csv: mine.csv:3:")


@pytest.mark.parametrize("name", [HISTORY, "pet-shop.history.jsonl"])
def test_an_uploaded_history_runs(client: Any, name: str) -> None:
    answer = client.post(
        "/api/upload", content=(EXAMPLES / name).read_bytes(), headers={"x-file-name": name}
    )
    assert answer.status_code == 200
    upload = answer.json()
    events = list(read_history(EXAMPLES / name))
    assert (upload["name"], upload["events"]) == (name, len(events))
    ran = client.post("/api/run", json={"text": program_text(), "history": upload["history"]})
    assert ran.status_code == 200
    customers = [row["customer"] for row in ran.json()["customers"]]
    assert customers == sorted({event.customer_id for event in events})


def test_lint_warnings_come_apart_from_problems(client: Any) -> None:
    text = program_text().replace("    every: 10\n", "    every: 10\n    exclusive_group: solo\n")
    found = client.post("/api/validate", json={"text": text, "path": PROGRAM}).json()
    assert (found["ok"], found["problems"]) == (True, [])
    program, source_map = load_program_with_map(PROGRAM, text=text)
    (expected,) = lint_program(program, source_map)
    (warning,) = found["warnings"]
    assert (warning["code"], warning["file"], warning["line"], warning["message"]) == (
        expected.code,
        PROGRAM,
        23,
        expected.message,
    )


# -- no code runs, no traceback shows --------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
    ],
)
def test_no_rule_text_runs_as_code(client: Any, tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "ran"
    text = program_text().replace("name: Scoops & Cones", "name: " + tag.format(marker=marker))
    for route, body in (
        ("/api/validate", {"text": text}),
        ("/api/run", {"text": text, "history": HISTORY}),
        ("/api/save", {"path": "tagged.yaml", "text": text}),
    ):
        answer = client.post(route, json=body)
        assert answer.status_code in (200, 422)
        if route == "/api/validate":
            assert answer.json()["ok"] is False
    assert not marker.exists()


def test_an_internal_error_shows_no_traceback(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str, source: str) -> dict[str, Any]:
        raise RuntimeError("a secret internal detail")

    monkeypatch.setattr(_work, "check_text", broken)
    answer = client.post("/api/validate", json={"text": program_text()})
    assert answer.status_code == 500
    assert "Traceback" not in answer.text
    assert "secret internal detail" not in answer.text
    assert answer.json()["error"].startswith("the server could not do this")


def test_a_problem_comes_back_located_and_in_words(client: Any) -> None:
    text = program_text().replace("every: 10", "every: 1")
    found = client.post("/api/validate", json={"text": text, "path": PROGRAM}).json()
    assert found["ok"] is False
    (problem,) = found["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == (PROGRAM, 22, 12)
    assert problem["path"] == "rules[0].every"
    assert "Traceback" not in str(found)


# -- time limit and cancel -----------------------------------------------------------------


READ_EVENTS = _work.read_events


def endless(path: Path, deadline: _work.Deadline) -> list[Any]:
    """The history's events over and over: a run that ends only at its limit or cancel."""
    events = READ_EVENTS(path, _work.Deadline(60))
    return list(deadline.watch(itertools.cycle(events)))


def test_a_run_stops_at_its_time_limit(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_work, "read_events", endless)
    answer = client.post("/api/run", json={"text": program_text(), "history": HISTORY})
    assert answer.status_code == 408
    assert answer.json()["error"] == (
        f"the run took longer than its limit of {RUN_SECONDS:g} seconds: try a smaller history"
    )


def test_a_run_can_be_cancelled(client: Any, base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_work, "read_events", endless)
    monkeypatch.setattr(_work.Deadline, "check", _no_limit_but_cancel)
    answers: list[Any] = []

    def run() -> None:
        body = {"text": program_text(), "history": HISTORY, "run": "the-run"}
        answers.append(client.post("/api/run", json=body))

    runner = threading.Thread(target=run)
    runner.start()
    cancelled = False
    for _ in range(400):
        cancelled = client.post("/api/cancel", json={"run": "the-run"}).json()["cancelled"]
        if cancelled:
            break
        time.sleep(0.05)
    runner.join(timeout=30)
    assert cancelled
    assert answers[0].status_code == 408
    assert answers[0].json()["error"] == "the run was cancelled"


def _no_limit_but_cancel(self: _work.Deadline) -> None:
    if self.cancelled.is_set():
        raise _work.StoppedError("the run was cancelled")


# -- save ----------------------------------------------------------------------------------


def test_save_keeps_the_last_version_as_bak(client: Any, folder: Path) -> None:
    (folder / "saved.yaml").write_text(program_text())
    changed = program_text().replace("every: 10", "every: 8")
    answer = client.post("/api/save", json={"path": "saved.yaml", "text": changed})
    assert answer.json() == {"saved": "saved.yaml", "backup": "saved.yaml.bak", "draft": False}
    assert (folder / "saved.yaml").read_text() == changed
    assert (folder / "saved.yaml.bak").read_text() == program_text()


def test_an_invalid_program_is_not_saved_but_a_draft_is(client: Any, folder: Path) -> None:
    (folder / "kept.yaml").write_text(program_text())
    broken = program_text().replace("every: 10", "evry: 10")
    answer = client.post("/api/save", json={"path": "kept.yaml", "text": broken})
    assert answer.status_code == 422
    assert answer.json()["draft"] == "kept.draft.yaml"
    assert answer.json()["problems"][0]["suggestion"] == "did you mean 'every'?"
    assert (folder / "kept.yaml").read_text() == program_text()
    assert not (folder / "kept.yaml.bak").exists()
    draft = client.post("/api/save", json={"path": "kept.draft.yaml", "text": broken})
    assert draft.json() == {"saved": "kept.draft.yaml", "backup": None, "draft": True}
    assert (folder / "kept.draft.yaml").read_text() == broken


def test_an_uploaded_parquet_history_runs_like_its_csv(client: Any, tmp_path: Path) -> None:
    # The same history as Parquet (the columnar layout read_history_table reads): the
    # upload holds the same events, and the run gives the same customers and points.
    events = list(read_history(EXAMPLES / HISTORY))
    pq.write_table(events_to_table(events), tmp_path / "mine.parquet")
    answer = client.post(
        "/api/upload",
        content=(tmp_path / "mine.parquet").read_bytes(),
        headers={"x-file-name": "mine.parquet"},
    )
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["events"]) == ("mine.parquet", len(events))
    as_csv = client.post(
        "/api/upload", content=(EXAMPLES / HISTORY).read_bytes(), headers={"x-file-name": HISTORY}
    ).json()
    runs = [
        client.post("/api/run", json={"text": program_text(), "history": upload["history"]})
        for upload in (answer.json(), as_csv)
    ]
    assert [run.status_code for run in runs] == [200, 200]
    assert runs[0].json()["customers"] == runs[1].json()["customers"]
    assert runs[0].json()["customers"]


def test_a_parquet_upload_that_is_not_parquet_is_refused_plainly(client: Any) -> None:
    answer = client.post(
        "/api/upload", content=b"event_id,type\n", headers={"x-file-name": "mine.parquet"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("mine.parquet")
    assert "Traceback" not in answer.text
