"""Review app under load: ``--sessions`` volunteers (default 20) voting at once in headless
Chromium (one Playwright browser context each) against one ``frbtriage app`` server.

Measures, per vote, the time from the click on an answer to the next candidate's picture
rendered in the page (its number changed and every image loaded), and reports p50 / p95 /
max over all sessions (target p95 <= 200 ms). The first vote of each session is a warm-up
and is not counted. The workspace is the tests' synthetic one
(``tests/app_workspace.py``), made in a temporary folder. Writes
``benchmarks/results/app.json`` and ``app.md``.

Two paces, one after the other in the same run: **no pause** (every session clicks the
moment its next picture is shown: a stress test, 20 sessions voting as fast as 20 browsers
can render) and **volunteer pace** (each session looks at its picture for a pause drawn
from a log-normal with median ``--think`` seconds, sigma 0.5, seeded, before it clicks:
people read a candidate for seconds, and the keyboard makes them fast, not instant).

    python benchmarks/bench_app.py [--sessions 20] [--votes 10] [--think 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT / "tests"))

from app_workspace import CHROMIUM, CHROMIUM_ARGS, AppServer, make_app_workspace  # noqa: E402

from frbtriage.crowd.volunteers import add_volunteer  # noqa: E402

#: The page's candidate number changed from ``before`` and every image finished loading.
NEXT_SHOWN = """before => {
  const m = document.body.innerText.match(/Candidate (\\d+)/);
  return m && Number(m[1]) !== before
    && [...document.images].every(i => i.complete && i.naturalWidth > 0);
}"""
SHOWN = "() => /Candidate \\d+/.test(document.body.innerText)"
#: Patience per step: 20 browsers starting at once on 2 busy cores take their time.
TIMEOUT_MS = 300_000


async def volunteer(browser, url: str, token: str, votes: int,  # noqa: ANN001
                    out: list[float], pauses: list[float]) -> None:
    """One session: sign in, then ``votes`` answers, each after a pause of ``pauses[k]``
    seconds looking at the picture, timing each click-to-next-picture."""
    import re

    ctx = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(url)
    await page.get_by_label("Sign-in token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("button", name=re.compile("Got it")).click()
    await page.wait_for_function(SHOWN)
    buttons = ["Astrophysical burst", "RFI / noise", "Can't tell"]
    for k in range(votes):
        text = await page.locator("body").inner_text()
        before = int(re.search(r"Candidate (\d+)", text).group(1))
        await asyncio.sleep(pauses[k])
        t0 = time.perf_counter()
        await page.get_by_role("button", name=buttons[k % 3]).click()
        await page.wait_for_function(NEXT_SHOWN, arg=before, polling="raf")
        if k:
            out.append((time.perf_counter() - t0) * 1e3)
    await ctx.close()


async def run_sessions(url: str, tokens: list[str], votes: int, think: float,
                       seed: int = 0) -> list[float]:
    """All sessions at once in one headless Chromium, pausing a log-normal time of median
    ``think`` s (0: no pause) before each click; the latencies in ms."""
    from playwright.async_api import async_playwright

    rng = np.random.default_rng(seed)
    pauses = (think * rng.lognormal(0.0, 0.5, (len(tokens), votes)) if think > 0
              else np.zeros((len(tokens), votes)))
    out: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.gather(*(volunteer(browser, url, t, votes, out, list(pause))
                               for t, pause in zip(tokens, pauses, strict=True)))
        await browser.close()
    return out


def _pace(ms: np.ndarray, wall: float, think: float) -> dict[str, float]:
    return {"think_median_s": think, "timed_votes": int(ms.size),
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()), "mean_ms": float(ms.mean()), "wall_s": wall,
            "votes_per_s": ms.size / wall}


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--votes", type=int, default=10, help="votes per session (first: warm-up)")
    ap.add_argument("--think", type=float, default=3.0,
                    help="median pause (s) before each click at volunteer pace")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    args = ap.parse_args()
    paces = {}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        n = max(120, 4 * args.votes + 20)  # two paces, each session its own candidates
        aw = make_app_workspace(Path(tmp) / "ws", n=n)
        server = AppServer(aw.ws.path)
        try:
            for name, think in (("no_pause", 0.0), ("volunteer_pace", args.think)):
                tokens = [add_volunteer(aw.ws, f"bench-{name}-{i}")[1]
                          for i in range(args.sessions)]
                t0 = time.perf_counter()
                ms = np.asarray(asyncio.run(run_sessions(server.url, tokens, args.votes,
                                                         think)))
                paces[name] = _pace(ms, time.perf_counter() - t0, think)
        finally:
            server.stop()
            aw.ws.close()
    doc = {"sessions": args.sessions, "votes_per_session": args.votes, "paces": paces,
           "target_p95_ms": 200.0, "cpus": os.cpu_count(), "load_avg_start": load_start,
           "load_avg_end": os.getloadavg(), "python": platform.python_version(),
           "machine": platform.machine()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "app.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        "# Review app under load (`python benchmarks/bench_app.py`)", "",
        f"{args.sessions} concurrent headless-Chromium sessions against one `frbtriage app`, "
        f"{args.votes} votes each (first not timed), {doc['cpus']} CPUs, load average "
        f"{load_start[0]:.1f} at the start, {doc['load_avg_end'][0]:.1f} at the end; "
        "browsers and server on the same machine.", "",
        "| pace | p50 | p95 (target <= 200 ms) | max | timed votes | votes/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in paces.values():
        ok = "met" if r["p95_ms"] <= 200 else "missed"
        label = ("no pause (stress)" if r["think_median_s"] == 0
                 else f"volunteer pace (pause median {r['think_median_s']:g} s)")
        lines.append(f"| {label} | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms ({ok}) | "
                     f"{r['max_ms']:.0f} ms | {r['timed_votes']} | {r['votes_per_s']:.1f} |")
    (out / "app.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
