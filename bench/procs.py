"""Component processes for the benchmarks: start, sample memory and CPU, stop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil


@dataclass
class Proc:
    """A running component and what was sampled of it."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    peak_rss: int = 0
    cpu_seconds: float = 0.0
    _ps: psutil.Process | None = field(default=None, repr=False)

    def sample(self) -> None:
        """Update the peak RSS and CPU time from the live process."""
        try:
            ps = self._ps or psutil.Process(self.popen.pid)
            self._ps = ps
            with ps.oneshot():
                self.peak_rss = max(self.peak_rss, ps.memory_info().rss)
                times = ps.cpu_times()
                self.cpu_seconds = times.user + times.system
        except psutil.Error:
            pass

    def log_tail(self, chars: int = 2000) -> str:
        """Return the end of the process's output (for error messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Procs:
    """A set of processes sampled every interval until they are stopped."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> Proc:
        """Start argv with env, output to a log file; return the handle."""
        log_path = self._workdir / f"{name}.log"
        with log_path.open("wb") as out:
            popen = subprocess.Popen(
                list(argv), env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def sample(self) -> None:
        """Sample every live process once; raise when one exited on its own."""
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}"
                )
            proc.sample()

    async def sample_forever(self, every: float = 0.05) -> None:
        """Sample until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(every)

    def stop(self, proc: Proc, timeout: float = 20.0) -> None:
        """SIGTERM the process (it drains), SIGKILL it when it takes longer than timeout."""
        if proc.popen.poll() is None:
            proc.sample()
            proc.popen.send_signal(signal.SIGTERM)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def stop_all(self) -> None:
        """Stop every process, newest first."""
        for proc in reversed(self.procs):
            self.stop(proc)


@asynccontextmanager
async def running() -> AsyncIterator[Procs]:
    """Yield a Procs sampled in the background; every process is stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="bu-bench-procs-") as tmp:
        procs = Procs(Path(tmp))
        sampler = asyncio.create_task(procs.sample_forever())
        try:
            yield procs
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await sampler
            await asyncio.to_thread(procs.stop_all)


def check_alive(procs: Procs) -> None:
    """Raise when a process died (the sampler task only notices on its next turn)."""
    procs.sample()


_METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


async def scrape(port: int) -> dict[str, float]:
    """Return the Prometheus metrics on 127.0.0.1:port as {name{labels}: value}."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match:
            values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


async def wait_for_metrics(port: int, timeout: float = 20.0) -> dict[str, float]:
    """Return the first successful scrape of port, waiting for the server to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await scrape(port)
        except (aiohttp.ClientError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def cpu_by_pid(names: Sequence[str]) -> dict[int, tuple[str, float]]:
    """Return {pid: (server name, CPU seconds so far)} of every process of the named servers.

    Per pid, so that a difference of two snapshots counts processes started in between.
    """
    found: dict[int, tuple[str, float]] = {}
    for ps in psutil.process_iter(["name", "cpu_times"]):
        name = ps.info["name"] or ""
        times = ps.info["cpu_times"]
        for wanted in names:
            if name.startswith(wanted) and times is not None:
                found[ps.pid] = (wanted, times.user + times.system)
    return found


def cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """Return CPU seconds per server name between two cpu_by_pid snapshots."""
    totals: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        earlier = before.get(pid, (name, 0.0))[1]
        totals[name] = totals.get(name, 0.0) + max(0.0, seconds - earlier)
    return totals
