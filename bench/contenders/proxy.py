"""A loopback TCP proxy that adds network latency between a client and PostgreSQL: a chunk read from either side is
forwarded to the other at (its arrival time + ``delay``), chunks in order, while later chunks keep being read. It
is latency, not a bandwidth cap: a COPY stream flows at nearly full speed, only shifted by the delay; a round trip
(query, answer) costs 2 x delay more (default 2.5 ms each way: a 5 ms round trip, a same-region network).

Python API (the proxy runs in its own process, detached, so its CPU is never counted in the caller's, not even
through wait4's rusage of the caller's reaped children)::

    with LatencyProxy("127.0.0.1", 5432, delay_s=0.0025) as proxy:
        dsn = proxied_dsn(dsn, proxy.port)   # host=127.0.0.1 port=<proxy.port>, everything else kept

Command line::

    python -m contenders.proxy --listen-port 0 --upstream 127.0.0.1:5432 --delay-ms 2.5
        [--max-seconds 3600] [--parent-pid PID] [--parent-fd FD] [--max-connections 64]
    python -m contenders.proxy --self-test [--dsn postgresql://postgres@127.0.0.1:5432/postgres]

It prints one JSON line on stdout once it listens, ``{"port": ..., "pid": ...}``, and nothing else there.

Bounded, it stops by itself: after ``--max-seconds``; when its parent dies (``--parent-fd``: a pipe whose other end
the parent holds reaches EOF; ``--parent-pid``: that process is gone; else: its own parent process changes); on
SIGTERM/SIGINT. At most ``--max-connections`` proxied connections at a time (more are refused: accepted and closed
at once, with a line on stderr), and at most 16 MiB in flight per direction and connection (beyond that, reading
pauses: TCP back-pressure, never reached by a latency of milliseconds at loopback rates).

Design: one thread per connection, both sockets non-blocking, a ``select.select`` loop: whatever arrives on either
side is read at once (``recv``, up to 64 KiB) and queued with its due time; whatever is due is sent, as far as
the other side takes it without blocking (the rest waits for that socket to be writable, while reading goes on),
so reading never waits for the delay and a full buffer one way never stalls the other way. Not asyncio: its event
loop waits in epoll, whose timeout has millisecond granularity rounded up, adding 0-1 ms to every hop (a 5 ms round
trip would measure ~6 ms); ``select``'s timeout is in microseconds. TCP_NODELAY on both sockets.

``--self-test`` measures, directly and through a proxy with the default delay: the median of 200 ``SELECT 1`` round
trips, and the median throughput of 5 runs of a ~50 MB COPY TO STDOUT and of a ~50 MB COPY FROM STDIN (into a
temporary table), direct and proxied alternating.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CHUNK = 64 * 1024  # below malloc's mmap threshold: no mmap/munmap per recv
MAX_IN_FLIGHT = 16 * 2**20
MAX_IOV = 64  # chunks per sendmsg
DEFAULT_DELAY_S = 0.0025


# ----------------------------------------------------------------------------------------------- the server
class _Direction:
    """src -> dst: chunks stamped with their due time (arrival + delay), in order, sent when due."""

    def __init__(self, src: socket.socket, dst: socket.socket, delay: float) -> None:
        self.src, self.dst, self.delay = src, dst, delay
        self.queue: collections.deque[tuple[float, memoryview]] = collections.deque()
        self.in_flight = 0
        self.eof = False  # src has closed its side
        self.done = False  # ... and everything before that was sent on, and dst's side shut
        self.blocked = False  # dst's send buffer is full: wait for it to drain

    def readable(self) -> bool:
        return not self.eof and self.in_flight < MAX_IN_FLIGHT

    def receive(self) -> None:
        try:
            data = self.src.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if data:
            self.queue.append((time.monotonic() + self.delay, memoryview(data)))
            self.in_flight += len(data)
        else:
            self.eof = True

    def send_due(self, now: float) -> None:
        """Send every chunk that is due (one sendmsg for all of them), as far as dst takes it without blocking."""
        self.blocked = False
        while self.queue and self.queue[0][0] <= now:
            due_chunks = [data for due, data in itertools.islice(self.queue, MAX_IOV) if due <= now]
            try:
                sent = self.dst.sendmsg(due_chunks)
            except (BlockingIOError, InterruptedError):
                sent = 0
            self.in_flight -= sent
            while sent:
                due, data = self.queue[0]
                if sent < len(data):
                    self.queue[0] = (due, data[sent:])
                    break
                sent -= len(data)
                self.queue.popleft()
            if self.queue and self.queue[0][0] <= now:  # dst did not take everything that is due
                self.blocked = True
                return
        if self.eof and not self.queue and not self.done:
            self.done = True
            self.dst.shutdown(socket.SHUT_WR)  # the peer sees the EOF, delayed like the data before it

    def next_due(self) -> float | None:
        return self.queue[0][0] if self.queue and not self.blocked else None


def _pump(client: socket.socket, upstream: socket.socket, delay: float, stop: threading.Event) -> None:
    """One connection, both directions, in one thread: ``select`` (microsecond timeouts: it wakes when the next
    chunk is due, not up to a millisecond later as epoll would) on non-blocking sockets, so a full buffer one way
    never stops the other way (no deadlock when both sides send at once, as in pipeline mode)."""
    directions = (_Direction(client, upstream, delay), _Direction(upstream, client, delay))
    for sock in (client, upstream):
        sock.setblocking(False)
    # how late select wakes after its timeout (a running median, in 5 us steps): wake that much early, so that
    # chunks go out on time rather than ~0.1 ms late
    slack = 0.0001
    try:
        while not stop.is_set():
            horizon = time.monotonic() + slack
            for d in directions:
                d.send_due(horizon)
            if all(d.done for d in directions):
                break
            dues = [due for d in directions if (due := d.next_due()) is not None]
            wake = min(dues) - slack if dues else None
            timeout = 0.5 if wake is None else max(0.0, wake - time.monotonic())
            readers = [d.src for d in directions if d.readable()]
            writers = [d.dst for d in directions if d.blocked]
            readable, writable, _ = select.select(readers, writers, [], timeout)
            if wake is not None and timeout > 0 and not readable and not writable:
                slack = min(0.001, max(0.0, slack + (5e-6 if time.monotonic() - wake > slack else -5e-6)))
            for d in directions:
                if d.src in readable:
                    d.receive()
    except OSError:
        pass  # a reset or a broken pipe on either side ends the connection: both sockets close
    finally:
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def serve(
    listen_host: str,
    listen_port: int,
    upstream: tuple[str, int],
    delay_s: float,
    max_seconds: float,
    max_connections: int,
    parent_pid: int | None,
    parent_fd: int | None,
) -> None:
    """Run the proxy until its lifetime ends, its parent dies, or a signal; announce the port on stdout."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    deadline = time.monotonic() + max_seconds
    original_ppid = os.getppid()

    listener = socket.create_server((listen_host, listen_port), backlog=128)
    listener.settimeout(0.2)
    active: set[threading.Thread] = set()
    lock = threading.Lock()
    sys.stdout.write(json.dumps({"port": listener.getsockname()[1], "pid": os.getpid()}) + "\n")
    sys.stdout.flush()

    def parent_alive() -> bool:
        if parent_fd is not None:
            readable, _, _ = select.select([parent_fd], [], [], 0)
            if readable and not os.read(parent_fd, 4096):
                return False  # EOF: every holder of the write end is gone
        if parent_pid is not None:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass
        elif parent_fd is None and os.getppid() != original_ppid:
            return False
        return True

    def run(client: socket.socket, server: socket.socket) -> None:
        try:
            _pump(client, server, delay_s, stop)
        finally:
            with lock:
                active.discard(threading.current_thread())

    reason = "stopped"
    try:
        while not stop.is_set():
            if time.monotonic() > deadline:
                reason = f"max lifetime of {max_seconds:g} s reached"
                break
            if not parent_alive():
                reason = "parent process gone"
                break
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if stop.is_set():
                    break
                raise
            with lock:
                full = len(active) >= max_connections
            if full:
                print(f"proxy: refusing a connection, {max_connections} already open", file=sys.stderr, flush=True)
                client.close()
                continue
            try:
                server = _connect_upstream(upstream)
            except OSError as exc:
                print(f"proxy: cannot reach {upstream[0]}:{upstream[1]}: {exc}", file=sys.stderr, flush=True)
                client.close()
                continue
            for sock in (client, server):
                if sock.family != socket.AF_UNIX:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=run, args=(client, server), daemon=True)
            with lock:
                active.add(thread)
            thread.start()
    finally:
        listener.close()
        stop.set()  # every connection thread ends within 0.5 s (or at once when it has traffic)
        with lock:
            threads = list(active)
        for thread in threads:
            thread.join(timeout=1.0)
        if reason != "stopped":
            print(f"proxy: exiting, {reason}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------- the client side
class LatencyProxy:
    """A latency proxy in its own, detached process: ``with LatencyProxy(host, port) as proxy: ... proxy.port``.

    The process is started through ``/bin/sh -c '... &'`` so that it is not a child of the caller (its CPU is
    not added to the caller's rusage when the caller exits or reaps children); it watches a pipe held by the
    caller, so it stops when the caller exits or is killed, and ``__exit__`` stops it at once (SIGTERM).
    """

    def __init__(
        self,
        upstream_host: str = "127.0.0.1",
        upstream_port: int = 5432,
        delay_s: float = DEFAULT_DELAY_S,
        *,
        max_seconds: float = 3600.0,
        max_connections: int = 64,
        start_timeout: float = 15.0,
    ) -> None:
        self.upstream_host, self.upstream_port, self.delay_s = upstream_host, upstream_port, delay_s
        self.max_seconds, self.max_connections, self.start_timeout = max_seconds, max_connections, start_timeout
        self.port = 0
        self.pid = 0
        self._lifeline: int | None = None

    def start(self) -> LatencyProxy:
        read_end, write_end = os.pipe()
        command = [
            sys.executable, str(Path(__file__).resolve()),
            "--listen-port", "0",
            "--upstream", f"{self.upstream_host}:{self.upstream_port}",
            "--delay-ms", repr(self.delay_s * 1000),
            "--max-seconds", repr(self.max_seconds),
            "--max-connections", str(self.max_connections),
            "--parent-pid", str(os.getpid()),
            "--parent-fd", str(read_end),
        ]
        script = " ".join(_sh_quote(part) for part in command) + " &"
        try:
            shell = subprocess.Popen(
                ["/bin/sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, pass_fds=(read_end,),
            )
        finally:
            os.close(read_end)
        self._lifeline = write_end
        assert shell.stdout is not None
        try:
            ready, _, _ = select.select([shell.stdout], [], [], self.start_timeout)
            line = shell.stdout.readline() if ready else b""
        finally:
            shell.stdout.close()
            shell.wait()  # the shell only, which exited right after starting the proxy in the background
        if not line:
            self.stop()
            raise RuntimeError(f"latency proxy did not start within {self.start_timeout} s")
        announced = json.loads(line)
        self.port, self.pid = int(announced["port"]), int(announced["pid"])
        return self

    def stop(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        if self._lifeline is not None:
            os.close(self._lifeline)  # EOF on its lifeline: it stops within 0.2 s even if the signal is lost
            self._lifeline = None
        if self.pid:
            until = time.monotonic() + 2.0
            while time.monotonic() < until and _running(self.pid):
                time.sleep(0.01)
            self.pid = 0

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _running(pid: int) -> bool:
    """Alive and not a zombie (the proxy is not our child, so its zombie is reaped by init, maybe a bit later)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _connect_upstream(upstream: tuple[str, int]) -> socket.socket:
    """TCP, or PostgreSQL's Unix socket when the host is a directory (libpq's rule; the embedded server's case)."""
    host, port = upstream
    if not host.startswith("/"):
        return socket.create_connection(upstream, timeout=10)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(f"{host}/.s.PGSQL.{port}")
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def upstream_of(dsn: str) -> tuple[str, int]:
    """The server a libpq DSN names: (host or socket directory, port)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "/var/run/postgresql").split(",")[0]
    return host, int(str(params.get("port") or 5432).split(",")[0])


def proxied_dsn(dsn: str, port: int, host: str = "127.0.0.1") -> str:
    """``dsn`` (a libpq key=value string or a URL) pointed at the proxy: host and port replaced, hostaddr dropped,
    everything else (dbname, user, sslmode, options, ...) kept."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params.pop("hostaddr", None)
    params.update(host=host, port=str(port))
    return make_conninfo(**params)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------- self-test
def select1_ms(dsn: str, samples: int) -> float:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(20):  # warm up
            conn.execute("SELECT 1").fetchone()
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


COPY_ROWS = 50_000  # rows of 1000 characters (+ newline): ~50 MB


def _copy_out_mb_s(dsn: str) -> tuple[float, float, int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        total = 0
        t0 = time.perf_counter()
        with cur.copy(f"COPY (SELECT repeat('x', 1000) FROM generate_series(1, {COPY_ROWS})) TO STDOUT") as copy:
            for chunk in copy:
                total += len(chunk)
        seconds = time.perf_counter() - t0
    return total / seconds / 1e6, seconds, total


def _copy_in_mb_s(dsn: str) -> tuple[float, float, int]:
    import psycopg

    line = b"x" * 1000 + b"\n"
    block = line * 1000
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE proxy_self_test (t text)")
        t0 = time.perf_counter()
        with cur.copy("COPY proxy_self_test FROM STDIN") as copy:
            for _ in range(COPY_ROWS // 1000):
                copy.write(block)
        seconds = time.perf_counter() - t0
        conn.rollback()
    total = len(block) * (COPY_ROWS // 1000)
    return total / seconds / 1e6, seconds, total


def self_test(dsn: str, delay_s: float = DEFAULT_DELAY_S, samples: int = 200, repeats: int = 5) -> dict[str, Any]:
    """SELECT 1 medians and COPY throughputs, direct and proxied; the COPYs run ``repeats`` times each, direct and
    proxied alternating, and the medians are reported (a shared machine is noisy)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
    result: dict[str, Any] = {"delay_ms_each_way": delay_s * 1000, "select1_samples": samples, "copy_repeats": repeats,
                              "loadavg_before": os.getloadavg()[0]}
    with LatencyProxy(host, port, delay_s=delay_s) as proxy:
        through = proxied_dsn(dsn, proxy.port)
        result["proxy_pid"] = proxy.pid
        result["select1_direct_ms"] = round(select1_ms(dsn, samples), 3)
        result["select1_proxied_ms"] = round(select1_ms(through, samples), 3)
        result["select1_added_ms"] = round(result["select1_proxied_ms"] - result["select1_direct_ms"], 3)
        for name, measure in (("copy_out", _copy_out_mb_s), ("copy_in", _copy_in_mb_s)):
            direct: list[float] = []
            proxied: list[float] = []
            for _ in range(repeats):
                rate, _, total = measure(dsn)
                direct.append(rate)
                proxied.append(measure(through)[0])
            result[f"{name}_bytes"] = total
            result[f"{name}_direct_MB_s"] = round(statistics.median(direct), 1)
            result[f"{name}_proxied_MB_s"] = round(statistics.median(proxied), 1)
            result[f"{name}_proxied_over_direct"] = round(statistics.median(proxied) / statistics.median(direct), 3)
            result[f"{name}_runs_MB_s"] = {"direct": [round(r, 1) for r in direct],
                                           "proxied": [round(r, 1) for r in proxied]}
        pid = proxy.pid
    result["proxy_stopped"] = not _running(pid)
    result["loadavg_after"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen-host", default="127.0.0.1")
    parser.add_argument("--listen-port", type=int, default=0, help="0: any free port (printed on stdout)")
    parser.add_argument("--upstream", default="127.0.0.1:5432", help="HOST:PORT of the server")
    parser.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_S * 1000, help="added latency each way")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="lifetime, then it exits")
    parser.add_argument("--max-connections", type=int, default=64, help="concurrent connections; more are refused")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--parent-fd", type=int, help="exit when this pipe (read end) reaches EOF")
    parser.add_argument("--self-test", action="store_true", help="measure SELECT 1 and COPY, direct vs proxied")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres", help="for --self-test")
    args = parser.parse_args()
    if args.self_test:
        print(json.dumps(self_test(args.dsn, args.delay_ms / 1000), indent=2))
        return
    host, _, port = args.upstream.rpartition(":")
    serve(args.listen_host, args.listen_port, (host or "127.0.0.1", int(port)), args.delay_ms / 1000,
          args.max_seconds, args.max_connections, args.parent_pid, args.parent_fd)


if __name__ == "__main__":
    main()
