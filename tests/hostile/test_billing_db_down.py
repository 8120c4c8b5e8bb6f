"""Billing's database goes away under write load, then comes back: a real billing process (uvicorn,
as the lab runs it), poisoned and with the float-drift fix, on PostgreSQL and on SQLite.

Under concurrent POST /v1/transactions, while the database is unavailable, every answer must be
200 or a 503 `database_unavailable` problem with Retry-After; nothing may be half-written (every
200'd request_id stored exactly once, nothing stored for a 503, and with the fix every balance
equal to the sum of its entries); and once the database is back billing must answer 200 again
within a few seconds, without a restart.

PostgreSQL: billing reaches the server through a TCP proxy the test runs (TcpProxy), in its own
schema of the test database. Taking the proxy down models the database host going away: first the
proxy stops passing anything billing sends (a statement, a COMMIT) while it still delivers what
the server answers, so that no COMMIT the server received goes unanswered; then it resets every
connection and refuses new ones. Without that first step, a COMMIT the server applied whose answer
is lost would be a 503 for a stored row: an outcome no server can rule out (the client cannot
know), not a fault of billing, and one this test could not tell from a real half-write.

SQLite: an embedded database has no server to lose. The one way it becomes unavailable to a
running service is another process holding its write lock (a backup, a migration, a stuck writer):
every write then fails once the busy timeout runs out. That is what the SQLite case does; it says
nothing about a lost disk or file, which no honest test here can produce.
"""

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import copy_tree, drill

pytestmark = pytest.mark.slow

POSTGRES_URL = os.environ.get("DRILL_TEST_POSTGRES_URL")
WRITER = {"Authorization": "Bearer drill-lab-writer"}
CLIENTS = 8
# Load before the outage, length of the outage, and load after the database is back.
WARM_S = 1.5
OUTAGE_S = {"postgresql": 2.5, "sqlite": 7.0}  # SQLite: past the 5 s busy timeout (DB_TIMEOUT_S)
AFTER_S = 3.0
# What "answers 200 again within a few seconds" means.
RECOVERY_S = 5.0
# PostgreSQL: how long the proxy still delivers the server's answers once it stops forwarding.
DRAIN_S = 1.5
STARTUP_TIMEOUT_S = 60.0


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 in front of another address, which the test can take down and
    bring back on the same port. It runs its own event loop in a thread."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._forwarding = asyncio.Event()
        self._transports: set[asyncio.BaseTransport] = set()

    def _run(self, coroutine: Any, timeout: float = 30.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def up(self) -> None:
        """Listen (again) and forward both ways."""
        self._run(self._up())

    def down(self, drain_s: float) -> None:
        """Stop forwarding what clients send and refuse new connections; deliver the upstream's
        answers for `drain_s` more seconds, then reset every connection."""
        self._run(self._down(drain_s))

    def close(self) -> None:
        self._run(self._down(0))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._forwarding.set()

    async def _down(self, drain_s: float) -> None:
        self._forwarding.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        await asyncio.sleep(drain_s)
        for transport in list(self._transports):
            if isinstance(transport, asyncio.WriteTransport):
                transport.abort()
        self._transports.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, up_writer.transport}
        self._transports |= pair
        await asyncio.gather(
            self._pipe(reader, up_writer, gated=True),
            self._pipe(up_reader, writer, gated=False),
            return_exceptions=True,
        )
        for transport in pair:
            transport.abort()
        self._transports -= pair

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, gated: bool
    ) -> None:
        while data := await reader.read(65536):
            if gated:
                # Held here while the proxy is down; a reset connection never sends it.
                await self._forwarding.wait()
            writer.write(data)
            await writer.drain()
        writer.transport.abort()


@dataclass
class Answer:
    request_id: str
    sent: float
    status: int | None  # None: no HTTP answer at all
    headers: dict[str, str]
    body: Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def billing_process(tree: Path, database_url: str, log: Path) -> Iterator[str]:
    """A real billing process serving the tree's code (as the lab starts it), stopped by pid."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "SERVICE_NAME": "billing",
        "DATABASE_URL": database_url,
        "DB_RESET_TOKEN": "a-fresh-start",
        "SEED_HISTORY": "false",
        "RECONCILE_INTERVAL_MS": "1000",
    }
    argv = [sys.executable, "-m", "uvicorn", "services.billing.main:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"billing exited:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"billing never ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url
        assert process.poll() is None, f"billing died:\n{log.read_text()[-3000:]}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def write_load(url: str, stop: threading.Event) -> tuple[list[Answer], list[threading.Thread]]:
    """CLIENTS threads posting charges, each to its own user, until `stop` is set."""
    answers: list[Answer] = []

    def client() -> None:
        user = str(uuid.uuid4())
        with httpx.Client(base_url=url, headers=WRITER, timeout=30) as http:
            while not stop.is_set():
                request_id = f"down-{uuid.uuid4()}"
                body = {"user_id": user, "action": "create", "amount": "1.25"}
                sent = time.monotonic()
                try:
                    response = http.post(
                        "/v1/transactions", json={**body, "request_id": request_id}
                    )
                except httpx.HTTPError as exc:
                    answers.append(Answer(request_id, sent, None, {}, repr(exc)))
                    continue
                content: Any = response.text
                if response.headers.get("content-type", "").endswith("json"):
                    content = response.json()
                answers.append(
                    Answer(request_id, sent, response.status_code, dict(response.headers), content)
                )

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return answers, threads


def run_outage(
    url: str, take_down: Callable[[], None], bring_back: Callable[[], None], outage_s: float
) -> tuple[list[Answer], float, list[int]]:
    """Load, outage, recovery: (every answer, when the database came back, /readyz statuses
    during the outage and after recovery)."""
    stop = threading.Event()
    answers, threads = write_load(url, stop)
    ready: list[int] = []
    # /readyz may wait as long as a write does (SQLite's lock): asked beside the load, not in line.
    probe = threading.Thread(
        target=lambda: ready.append(httpx.get(f"{url}/readyz", timeout=30).status_code)
    )
    try:
        time.sleep(WARM_S)
        take_down()
        probe.start()
        time.sleep(outage_s)
        bring_back()
        back = time.monotonic()
        probe.join(timeout=30)
        time.sleep(AFTER_S)
        ready.append(httpx.get(f"{url}/readyz", timeout=30).status_code)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return answers, back, ready


def assert_outage_handled(answers: list[Answer], back: float, ready: list[int]) -> None:
    strays = [a for a in answers if a.status not in (200, 503)]
    assert not strays, f"answers neither 200 nor 503: {[(a.status, a.body) for a in strays[:5]]}"
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the outage never showed: no 503 at all"
    for answer in unavailable:
        assert answer.headers["content-type"] == "application/problem+json", answer.headers
        assert answer.body["error_code"] == "database_unavailable", answer.body
        assert answer.headers["retry-after"].isdigit(), answer.headers
    recovered = [a for a in answers if a.sent >= back and a.status == 200]
    assert recovered, "billing never answered 200 once the database was back"
    assert recovered[0].sent - back < RECOVERY_S, f"first 200 {recovered[0].sent - back:.1f} s late"
    relapsed = [a for a in answers if a.sent > recovered[0].sent and a.status != 200]
    assert not relapsed, f"failing again after the first 200: {relapsed[0].body}"
    assert ready[1] == 200, f"/readyz after the outage: {ready[1]}"


def assert_nothing_half_written(answers: list[Answer], rows: dict[str, int]) -> None:
    ok = {a.request_id for a in answers if a.status == 200}
    failed = {a.request_id for a in answers if a.status == 503}
    assert {rid: n for rid, n in rows.items() if n != 1} == {}, "request_ids stored twice"
    assert ok - rows.keys() == set(), "200 answered, nothing stored"
    assert failed & rows.keys() == set(), "503 answered, yet stored"
    assert rows.keys() <= ok | failed, "rows no request asked for"


BALANCES_MATCH = """
    SELECT count(*) FROM balances b
    LEFT JOIN (
        SELECT user_id, sum(amount) AS total, count(*) AS n FROM transactions GROUP BY user_id
    ) t ON t.user_id = b.user_id
    WHERE t.user_id IS NULL OR t.total != b.balance OR t.n != b.transaction_count
"""


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The poisoned billing, and billing with the float-drift fix."""
    root = tmp_path_factory.mktemp("billing-down")
    fixed = copy_tree(root / "fixed")
    solved = drill(fixed, "solve", "float-drift", env={"DRILL_DATA_DIR": str(root / "data")})
    assert solved.returncode == 0, solved.stdout + solved.stderr
    return {"poisoned": copy_tree(root / "poisoned"), "fixed": fixed}


@pytest.mark.parametrize("code", ["poisoned", "fixed"])
def test_postgresql_down_under_load(trees: dict[str, Path], code: str, tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("DRILL_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    server = make_url(POSTGRES_URL)
    schema = f"billing_down_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
    try:
        proxy.up()
        through_proxy = server.set(
            host="127.0.0.1", port=proxy.port, query={"options": f"-csearch_path={schema}"}
        )
        url_text = through_proxy.render_as_string(hide_password=False)
        with billing_process(trees[code], url_text, tmp_path / "billing.log") as url:
            answers, back, ready = run_outage(
                url, lambda: proxy.down(DRAIN_S), proxy.up, OUTAGE_S["postgresql"]
            )
        assert_outage_handled(answers, back, ready)
        assert ready[0] == 503, "/readyz passed while the database was down"
        with admin.connect() as conn:
            conn.execute(text(f'SET search_path TO "{schema}"'))
            query = text("SELECT request_id, count(*) FROM transactions GROUP BY request_id")
            rows = {request_id: count for request_id, count in conn.execute(query)}
            if code == "fixed":
                assert conn.execute(text(BALANCES_MATCH)).scalar() == 0
        assert_nothing_half_written(answers, rows)
    finally:
        proxy.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("code", ["poisoned", "fixed"])
def test_sqlite_locked_under_load(trees: dict[str, Path], code: str, tmp_path: Path) -> None:
    database = tmp_path / "billing.db"
    locked = threading.Event()
    release = threading.Event()

    def hold_the_write_lock() -> None:
        holder = sqlite3.connect(database, isolation_level=None, timeout=30)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(timeout=120)
            holder.execute("ROLLBACK")
        finally:
            holder.close()

    holder = threading.Thread(target=hold_the_write_lock, daemon=True)

    def take_down() -> None:
        holder.start()
        assert locked.wait(timeout=30), "could not take SQLite's write lock"

    with billing_process(trees[code], f"sqlite:///{database}", tmp_path / "billing.log") as url:
        answers, back, ready = run_outage(url, take_down, release.set, OUTAGE_S["sqlite"])
    holder.join(timeout=30)
    # /readyz during the lock is not asserted: its probe waits for the write lock like any write,
    # so it is 503 or 200 depending on when it asked.
    assert_outage_handled(answers, back, ready)
    with sqlite3.connect(database) as conn:
        rows = dict(
            conn.execute("SELECT request_id, count(*) FROM transactions GROUP BY request_id")
        )
        if code == "fixed":
            assert conn.execute(BALANCES_MATCH).fetchone() == (0,)
    assert_nothing_half_written(answers, rows)
