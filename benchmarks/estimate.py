"""How honest check_many's up-front estimate and running ETA are, against the emulator.

    .venv/bin/python benchmarks/estimate.py                      # 3 meshes, about 40 s here
    .venv/bin/python benchmarks/estimate.py --n 400 --write-rate 20 --check-s 1

For each batch it prints the estimate said before the first check, the wall time (the estimate
is a lower bound: wall / estimate >= 1), and how far the ETA shown while running was from the
time really left, against elapsed/done (what tqdm's own remaining time shows), as the mean and
the worst error over the samples taken after the first check finished.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from batch import distinct_checks  # the sibling benchmark's mesh of distinct checks

import nwlab
from nwlab.batch import BatchProgress, eta_seconds

CASES = [  # (checks, check seconds on the twin, write budget in writes a second)
    (200, 2.0, 20.0),   # the budget binds: 200 writes at 20 a second
    (120, 3.0, 100.0),  # concurrency binds: --concurrency 40, 3 waves of 3 s
    (300, 0.5, 40.0),
]


def measure(n: int, check_s: float, rate: float, concurrency: int | None) -> dict[str, Any]:
    nw = nwlab.emulate(check_seconds=check_s, retry_after=0.05)
    samples: list[tuple[float, int]] = []
    lock = threading.Lock()

    def on_progress(p: BatchProgress) -> None:
        with lock:
            samples.append((p.elapsed_s, p.done))

    try:
        batch = nw.check_many(distinct_checks(n), write_rate=rate, concurrency=concurrency,
                              on_progress=on_progress)
    finally:
        nw.close()
    wall, estimate = batch.stats["wall_s"], batch.stats["estimate_s"]
    blended, naive = [], []
    step = max(1, len(samples) // 50)  # about 50 samples over the run
    for elapsed, done in samples[::step]:
        if done >= n or elapsed <= 0:
            continue
        left = wall - elapsed
        eta = eta_seconds(estimate, done, n, elapsed)
        if eta is not None:
            blended.append(abs(eta - left))
        naive.append(abs((n - done) * elapsed / done - left))
    return {"estimate": batch.estimate, "estimate_s": estimate, "wall_s": wall,
            "blended": blended, "naive": naive}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, help="one batch of N checks instead of the cases")
    parser.add_argument("--check-s", type=float, default=1.0)
    parser.add_argument("--write-rate", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int)
    args = parser.parse_args(argv)
    cases = [(args.n, args.check_s, args.write_rate)] if args.n else CASES
    for n, check_s, rate in cases:
        concurrency = args.concurrency or (40 if rate >= 100 else None)
        started = time.monotonic()
        m = measure(n, check_s, rate, concurrency)
        print(f"N={n} D={check_s} s write_rate={rate}/s concurrency={concurrency or 'default'}")
        print(f"  said up front: {m['estimate']}")
        print(f"  estimate {m['estimate_s']:.1f} s, wall {m['wall_s']:.1f} s, "
              f"wall/estimate {m['wall_s'] / m['estimate_s']:.2f} (>= 1: a lower bound)")
        for name in ("blended", "naive"):
            errors = m[name]
            if errors:
                print(f"  ETA error, {name:>7}: mean {statistics.fmean(errors):5.1f} s, worst "
                      f"{max(errors):5.1f} s over {len(errors)} samples")
        print(f"  ({time.monotonic() - started:.0f} s with the emulator's start)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
