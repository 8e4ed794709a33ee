"""One-off Numba compilation is measured apart from the speed of the search and prepare."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from frbtriage.jit import CompileClock, compile_note
from frbtriage.prepare import PrepareSummary
from frbtriage.search import SearchStats


def test_clock_counts_compilation_not_calls() -> None:
    @numba.njit  # defined here: never in any cache, so the first call compiles
    def twice(x):
        return 2 * x

    with CompileClock() as clock:
        twice(np.arange(3))
    assert clock.kernels == 1
    assert clock.seconds > 0
    first = clock.seconds
    with CompileClock() as again:
        twice(np.arange(3))  # the same signature: already compiled, nothing counted
        assert twice(1.5) == 3.0  # a new signature compiles again
    assert again.kernels == 1
    assert clock.seconds == first  # a closed clock stops counting


def test_rates_leave_compilation_out() -> None:
    st = SearchStats(duration_s=24.0, wall_s=16.0, compile_s=12.0, compiled=9)
    assert st.realtime_factor == 6.0
    assert SearchStats(duration_s=24.0, wall_s=4.0).realtime_factor == 6.0
    s = PrepareSummary(total=10, added=10, seconds=12.0, compile_s=10.0, compiled=8)
    assert s.rate == 5.0
    assert str(s).endswith("(5.0 cand/s); compiled 8 kernel(s) in 10.0 s "
                           "(first run only, not in the rate)")
    assert compile_note(0.0, 0) == ""
    assert "compiled" not in str(PrepareSummary(total=1, added=1, seconds=1.0))


@pytest.mark.slow
def test_warmup_fills_the_cache_a_later_process_uses(tmp_path: Path) -> None:
    """`make install`'s warm-up: with an empty Numba cache it compiles; a second process (as
    the first `make demo` would be) then compiles nothing."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    code = ("from frbtriage.warmup import warm_kernels; w = warm_kernels(); "
            "print(w.compiled, w.compile_s)")

    def run() -> tuple[int, float]:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        return int(out[0]), float(out[1])

    first, second = run(), run()
    assert first[0] > 0 and first[1] > 0
    assert second == (0, 0.0)
