"""Run the benchmarks: `python -m bench [--only worker,ticks] [--quick] [--size B.FIELD=N]`.

Everything runs on loopback: a private nginx as the check target, a fresh PostgreSQL
database per benchmark (created and dropped) and a unique Redis key prefix (deleted).
Prints a table and writes bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from bench import (
    accuracy,
    capacity,
    detection,
    memory,
    pings,
    scheduler,
    stats_reads,
    status_reads,
    storage,
    storm,
    tick_writes,
    web_pages,
    worker_throughput,
)
from bench.results import RESULTS_DIR, Figure, table, write
from bench.target import nginx_target


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark: its module's Sizes (full and quick) and how it is run."""

    module: Any
    needs_target: bool

    def sizes(self, quick: bool, overrides: dict[str, str]) -> Any:
        """Return the Sizes to run with: full or quick, then the overrides applied."""
        base = self.module.QUICK if quick else self.module.Sizes()
        fields = {f.name: f for f in dataclasses.fields(base)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in fields:
                raise SystemExit(f"unknown size {key!r}; known: {', '.join(fields)}")
            changes[key] = type(getattr(base, key))(value)
        return dataclasses.replace(base, **changes)

    def run(self, target_url: str, sizes: Any) -> Awaitable[list[Figure]]:
        """Return the coroutine that runs the benchmark."""
        runner: Callable[..., Awaitable[list[Figure]]] = self.module.run
        return runner(target_url, sizes) if self.needs_target else runner(sizes)


# In the order they run: quick ones first, the ten-minute capacity run last.
BENCHMARKS: dict[str, Benchmark] = {
    "worker": Benchmark(worker_throughput, needs_target=True),
    "ticks": Benchmark(tick_writes, needs_target=False),
    "scheduler": Benchmark(scheduler, needs_target=True),
    "memory": Benchmark(memory, needs_target=False),
    "status": Benchmark(status_reads, needs_target=False),
    "stats": Benchmark(stats_reads, needs_target=False),
    "web": Benchmark(web_pages, needs_target=False),
    "storage": Benchmark(storage, needs_target=False),
    "pings": Benchmark(pings, needs_target=False),
    "accuracy": Benchmark(accuracy, needs_target=True),
    "storm": Benchmark(storm, needs_target=False),
    "detection": Benchmark(detection, needs_target=False),
    "capacity": Benchmark(capacity, needs_target=True),
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks to run (default all: {','.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: proves the scripts run, not figures"
    )
    parser.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="BENCH.FIELD=VALUE",
        help="override one size, e.g. capacity.seconds=120 or worker.concurrency=200",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "latest.json",
        help="where to write the JSON figures",
    )
    parser.add_argument(
        "--dated",
        action="store_true",
        help="also write bench/results/YYYY-MM-DD.json (to commit for comparison over time)",
    )
    return parser.parse_args(argv)


def _overrides(pairs: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        name, dot, field = key.partition(".")
        if not sep or not dot or name not in BENCHMARKS:
            raise SystemExit(f"--size wants BENCH.FIELD=VALUE with BENCH in {list(BENCHMARKS)}")
        found.setdefault(name, {})[field] = value
    return found


async def run_all(args: argparse.Namespace) -> int:
    """Run the chosen benchmarks; print and write the figures; return the exit status."""
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; known: {list(BENCHMARKS)}")
    overrides = _overrides(args.size)
    command = shlex.join(["python", "-m", "bench", *sys.argv[1:]])
    started = datetime.now(UTC)
    figures: list[Figure] = []
    failed: list[str] = []
    with nginx_target() as target_url:
        for name in names:
            bench = BENCHMARKS[name]
            sizes = bench.sizes(args.quick, overrides.get(name, {}))
            load = round(os.getloadavg()[0], 2)
            print(f"== {name}: {sizes} (load average {load})", flush=True)
            t0 = time.monotonic()
            try:
                found = await bench.run(target_url, sizes)
            except Exception:
                traceback.print_exc()
                failed.append(name)
                continue
            for f in found:
                f.details.setdefault("load_average_1m_at_start", load)
                f.details.setdefault("sizes", dataclasses.asdict(sizes))
            figures.extend(found)
            print(table(found), f"\n({time.monotonic() - t0:.0f} s)\n", flush=True)
    print(f"\nBenchmarks of {started:%Y-%m-%d %H:%M} UTC, `{command}`:\n")
    print(table(figures))
    path = write(figures, command, started, args.output)
    print(f"\nwrote {path}")
    if args.dated:
        dated = write(figures, command, started, RESULTS_DIR / f"{started:%Y-%m-%d}.json")
        print(f"wrote {dated}")
    if failed:
        print(f"FAILED to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


async def _interruptible(args: argparse.Namespace) -> int:
    """Run all, turning SIGINT/SIGTERM into a cancellation so every cleanup block runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    # Without this, Ctrl-C would leave component processes, nginx, the benchmark database
    # and the Redis keys behind.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await run_all(args)
    except asyncio.CancelledError:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks on uvloop (as the components run) and return the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return uvloop.run(_interruptible(args))


if __name__ == "__main__":
    sys.exit(main())
