"""A small workspace for the review app's tests and benchmark: candidates whose pictures
look like what volunteers see (bursts with a bowtie, RFI bands and zero-DM flashes), gold
labels, live-model scores, a filled queue and three people with sign-in tokens; and
``frbtriage app`` serving it in a subprocess, with the Chromium the browser tests use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from frbtriage import db
from frbtriage.crowd.volunteers import add_volunteer
from frbtriage.queue import QueueConfig, fill_queue
from frbtriage.workspace import NewCandidate, Workspace

MODEL = "app-test-model"
N = 256


def burst_images(rng: np.random.Generator, amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """``(ft, dmt)`` of a dedispersed burst: a vertical line with a patchy spectrum, and a
    bowtie centred at half the DM range."""
    ft = rng.standard_normal((N, N)).astype(np.float32)
    spectrum = 1.0 + 0.8 * np.sin(np.linspace(0, rng.uniform(3, 9), N)) ** 2
    ft[:, N // 2 - 1: N // 2 + 2] += (amplitude * spectrum)[:, None]
    dmt = rng.standard_normal((N, N)).astype(np.float32)
    for row in range(N):
        half = abs(row - N // 2) // 6 + 1
        dmt[row, N // 2 - half: N // 2 + half + 1] += amplitude * 3 / half
    return ft, dmt


def rfi_images(rng: np.random.Generator, amplitude: float) -> tuple[np.ndarray, np.ndarray]:
    """``(ft, dmt)`` of RFI: a few bright channels at all times, or a flash at DM 0."""
    ft = rng.standard_normal((N, N)).astype(np.float32)
    dmt = rng.standard_normal((N, N)).astype(np.float32)
    if rng.random() < 0.5:
        rows = rng.choice(N, size=6, replace=False)
        ft[rows] += amplitude
    else:
        t0 = int(rng.integers(40, N - 40))
        ft[:, t0:t0 + 2] += amplitude * np.linspace(2, 0, N)[:, None]
        for row in range(N // 4):
            dmt[row, t0 + row // 4: t0 + row // 4 + 2] += amplitude * (1 - row / (N // 4))
    return ft, dmt


@dataclass
class AppWorkspace:
    """The workspace and the sign-in tokens of ``volunteer``, ``researcher`` and ``admin``."""

    ws: Workspace
    tokens: dict[str, str]
    ids: list[int]


def make_app_workspace(path: Path | str, n: int = 40, seed: int = 1,
                       levels: str = "") -> AppWorkspace:
    """``n`` candidates (every third a burst), every fourth gold; the live model's scores
    (confident for half of them); the queue filled; ``levels`` appended to frbtriage.toml as
    the body of a ``[crowd.levels]`` table when given."""
    rng = np.random.default_rng(seed)
    ws = Workspace.create(path)
    if levels:
        cfg = ws.path / "frbtriage.toml"
        cfg.write_text(cfg.read_text() + f"\n[crowd.levels]\n{levels}\n")
    cands, fts, dmts, truth = [], [], [], []
    for i in range(n):
        astro = i % 3 == 0
        snr = float(rng.uniform(8, 40))
        ft, dmt = (burst_images if astro else rfi_images)(rng, snr / 8)
        fts.append(ft)
        dmts.append(dmt)
        truth.append(int(astro))
        cands.append(NewCandidate(f"/data/obs{i % 2}.fil", 2.0 + 0.4 * i, 150.0 + 7.0 * i,
                                  int(2 ** (i % 4)), snr, origin="app-test",
                                  label=int(astro) if i % 4 == 0 else None,
                                  label_source="simulation"))
    ids = ws.append(cands, np.stack(fts), np.stack(dmts))
    truth_arr = np.asarray(truth, float)
    p = np.where(np.arange(n) % 2 == 0, np.clip(truth_arr * 0.96 + 0.02, 0, 1),
                 rng.uniform(0.3, 0.7, n))
    with ws.session() as s, s.begin():
        db.register_model(s, MODEL, status="current", metrics='{"roc_auc": 0.99, "ece": 0.02}')
        db.add_scores(s, MODEL, ids, p, 0.2 * (1 - np.abs(2 * p - 1)),
                      0.3 * (1 - np.abs(2 * p - 1)))
    fill_queue(ws, QueueConfig(size=n, gold_fraction=0.2, random_fraction=0.1))
    tokens = {role: add_volunteer(ws, f"{role}-1", role)[1]
              for role in ("volunteer", "researcher", "admin")}
    return AppWorkspace(ws, tokens, ids)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """``frbtriage app`` on a free port of 127.0.0.1, in a subprocess, until :meth:`stop`."""

    def __init__(self, workspace: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "frbtriage.cli", "app", "--workspace", str(workspace),
             "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"frbtriage app exited: {self.proc.stdout.read()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("frbtriage app did not answer within 90 s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
