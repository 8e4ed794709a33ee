"""How long Numba spent compiling kernels, so that speeds can be reported without it.

Every kernel is ``@njit(cache=True)``: the first run on a machine (or after a kernel's source
changed) compiles it, ~14 s for the search and ~10 s for prepare on 2 cores, and writes the
machine code beside the source (``kernels/__pycache__``, or Numba's user-wide cache where that
is not writable, or ``NUMBA_CACHE_DIR``); later processes load it in ~10-30 ms per kernel plus
~0.5 s of Numba set-up. ``make install`` fills the cache (``frbtriage.warmup``) so that the
first ``make demo`` does not compile. A one-off compilation is not the speed of the search, so
:class:`CompileClock` measures it (Numba's ``numba:compile`` event, which fires only on a cache
miss; loading from the cache is not counted) and the search and prepare report their rates
without it and say "compiled kernels in N s (first run only)" separately.
"""

from __future__ import annotations

from types import TracebackType

from numba.core import event


class _Timer(event.Listener):
    """Wall seconds inside outermost ``numba:compile`` events (a kernel compiling the kernels
    it calls is counted once)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.kernels = 0
        self._depth = 0
        self._t0 = 0.0

    def on_start(self, ev: event.Event) -> None:
        if self._depth == 0:
            self._t0 = event.timer()
        self._depth += 1

    def on_end(self, ev: event.Event) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += event.timer() - self._t0
            self.kernels += 1


class CompileClock:
    """While open, adds up the seconds Numba spends compiling (not loading cached) kernels in
    this process::

        with CompileClock() as clock:
            search_file(...)
        clock.seconds, clock.kernels   # 0.0, 0 when everything came from the cache
    """

    def __init__(self) -> None:
        self._timer = _Timer()

    @property
    def seconds(self) -> float:
        """Wall seconds spent compiling so far."""
        return self._timer.seconds

    @property
    def kernels(self) -> int:
        """Kernels (and their signatures) compiled so far."""
        return self._timer.kernels

    def __enter__(self) -> CompileClock:
        event.register("numba:compile", self._timer)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        event.unregister("numba:compile", self._timer)


def compile_note(seconds: float, kernels: int) -> str:
    """The words the CLI adds when kernels were compiled: ``"; compiled 9 kernels in 11.8 s
    (first run only, not in the rate)"``, or ``""`` when nothing was compiled."""
    if kernels == 0:
        return ""
    return (f"; compiled {kernels} kernel(s) in {seconds:.1f} s (first run only, not in the "
            "rate)")
