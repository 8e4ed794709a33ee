"""Fill the Numba cache once, at install time, so that no user-facing run compiles.

``make install`` (and ``frbtriage warmup``, e.g. on each node of a Dask cluster that has its
own disk) runs :func:`warm_kernels`: the demo's search on the sample observation and prepare
of its candidates, with and without a kill mask, into a throw-away workspace. That compiles
every kernel signature the search and prepare use on 8-bit sigproc data (what the sample and
most search-mode data are) and writes them to Numba's cache (``kernels/__pycache__`` of an
editable install; see :mod:`frbtriage.jit`). Other inputs (16/32-bit sigproc, PSRFITS, CHIME
chunks) may still compile a few kernels on their first run; the search and prepare then say
so and leave that time out of their rates.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from frbtriage.jit import CompileClock


@dataclass(frozen=True)
class Warmup:
    """What :func:`warm_kernels` did: ``compiled`` kernel signatures in ``compile_s`` seconds
    (0 when the cache was already full) out of ``seconds`` in all, on ``sample``."""

    sample: Path
    compiled: int
    compile_s: float
    seconds: float

    def __str__(self) -> str:
        if self.compiled == 0:
            return (f"Numba kernels already cached (search + prepare on {self.sample}: "
                    f"{self.seconds:.1f} s)")
        return (f"compiled {self.compiled} Numba kernel(s) in {self.compile_s:.1f} s into the "
                f"cache (search + prepare on {self.sample}: {self.seconds:.1f} s); later runs "
                "load them from there")


def warm_kernels(sample: str | os.PathLike[str] | None = None) -> Warmup:
    """Search ``sample`` (a folder with ``obs.fil`` and ``obs.bad_chans``; None: the demo's
    sample, :func:`frbtriage.demo.find_sample`) as the demo does and prepare a few of the
    candidates found into a temporary workspace, once with the folder's kill mask and once
    without; nothing is left behind."""
    from frbtriage.demo import SEARCH, find_sample
    from frbtriage.prepare import prepare_candidates
    from frbtriage.search import search_file
    from frbtriage.workspace import Workspace

    folder = find_sample(sample)
    kill = folder / "obs.bad_chans"
    t0 = time.perf_counter()
    with CompileClock() as clock, tempfile.TemporaryDirectory(prefix="frbtriage-warmup-") as tmp:
        cands = [c.to_candidate() for c in search_file(folder / "obs.fil", config=SEARCH)]
        with Workspace.create(Path(tmp) / "ws") as ws:
            prepare_candidates(ws, cands[:2], progress=False)
            if kill.is_file():
                prepare_candidates(ws, cands[2:4], kill_mask=kill, progress=False)
    return Warmup(sample=folder, compiled=clock.kernels, compile_s=clock.seconds,
                  seconds=time.perf_counter() - t0)
