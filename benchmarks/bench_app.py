"""Review app under load: ``--sessions`` volunteers (default 20) voting at once in headless
Chromium (one Playwright browser context each) against one ``frbtriage app`` server.

Measures, per vote, the time from the click on an answer to the next candidate's picture
rendered in the page (its number changed and every image loaded), and reports p50 / p95 /
max over all sessions (target p95 <= 200 ms). The first vote of each session is a warm-up
and is not counted. The workspace is the tests' synthetic one
(``tests/app_workspace.py``), made in a temporary folder. Writes
``benchmarks/results/app.json`` and ``app.md``.

    python benchmarks/bench_app.py [--sessions 20] [--votes 10]
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
                    out: list[float]) -> None:
    """One session: sign in, then ``votes`` answers, timing each click-to-next-picture."""
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
        t0 = time.perf_counter()
        await page.get_by_role("button", name=buttons[k % 3]).click()
        await page.wait_for_function(NEXT_SHOWN, arg=before, polling="raf")
        if k:
            out.append((time.perf_counter() - t0) * 1e3)
    await ctx.close()


async def run_sessions(url: str, tokens: list[str], votes: int) -> list[float]:
    """All sessions at once in one headless Chromium; the latencies in ms."""
    from playwright.async_api import async_playwright

    out: list[float] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        await asyncio.gather(*(volunteer(browser, url, t, votes, out) for t in tokens))
        await browser.close()
    return out


def main() -> None:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--votes", type=int, default=10, help="votes per session (first: warm-up)")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        aw = make_app_workspace(Path(tmp) / "ws", n=max(60, 2 * args.votes + 20))
        tokens = [add_volunteer(aw.ws, f"bench-{i}")[1] for i in range(args.sessions)]
        server = AppServer(aw.ws.path)
        try:
            t0 = time.perf_counter()
            ms = np.asarray(asyncio.run(run_sessions(server.url, tokens, args.votes)))
            wall = time.perf_counter() - t0
        finally:
            server.stop()
            aw.ws.close()
    doc = {"sessions": args.sessions, "votes_per_session": args.votes, "timed_votes": ms.size,
           "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
           "max_ms": float(ms.max()), "mean_ms": float(ms.mean()), "wall_s": wall,
           "target_p95_ms": 200.0, "cpus": os.cpu_count(), "load_avg": os.getloadavg(),
           "python": platform.python_version(), "machine": platform.machine()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "app.json").write_text(json.dumps(doc, indent=2) + "\n")
    ok = "met" if doc["p95_ms"] <= 200 else "missed"
    lines = [
        "# Review app under load (`python benchmarks/bench_app.py`)", "",
        f"{args.sessions} concurrent headless-Chromium sessions against one `frbtriage app`, "
        f"{args.votes} votes each (first not timed), {doc['cpus']} CPUs, load average "
        f"{doc['load_avg'][0]:.1f}; browser and server on the same machine.", "",
        "| measure | value |", "|---|---|",
        f"| click to next candidate's picture rendered, p50 | {doc['p50_ms']:.0f} ms |",
        f"| p95 (target <= 200 ms: {ok}) | {doc['p95_ms']:.0f} ms |",
        f"| max | {doc['max_ms']:.0f} ms |",
        f"| timed votes | {doc['timed_votes']} |",
        f"| votes per second, all sessions | {ms.size / wall:.1f} |",
    ]
    (out / "app.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
