"""Active learning through the real crowd loop: model quality per vote under BALD, entropy and
random acquisition, on observations the shipped model was not trained for.

Everything a workspace sees goes through frbtriage's API; this script only plays the
volunteers (:class:`frbtriage.crowd.simulated.SimulatedCrowd`) and keeps the score.

1. **Data**, once: observations of a shifted instrument and sky (:data:`SHIFT_NCHAN`,
   :data:`SHIFT_MIX`, :func:`keep_burst`) are simulated and prepared into a **pool**
   workspace, with the labels withheld (the truth stays in this script, for the simulated
   volunteers and the final accounting), and into a separate **test** workspace (never
   queued, voted on or trained on). ``--gold-per-class`` bursts and as many other candidates of the
   pool (at most half of either class) get their true label as an ``expert`` label: gold, which
   the queue mixes in to measure volunteers, Dawid-Skene anchors on, and ``retrain`` always
   evaluates on (the gate's evaluation set). Simulated volunteers are registered and the
   pool is scored by the shipped model (``live_model`` registers it as live).
2. **Per strategy and seed** a fresh workspace (the pool's database copied, its image store
   shared read-only through a symlink), then ``--rounds`` rounds of:
   ``fill_queue`` (``--batch`` more entries; ``--queue-gold`` of them gold) ->
   volunteers vote (``next_candidate`` + ``submit_vote``, waves of ``--votes-per-candidate``
   volunteers answering ``--session`` candidates each, ``aggregate`` after every wave to
   retire candidates with that many decisive votes), ``--batch`` x
   ``--votes-per-candidate`` votes a round, gold votes included ->
   ``aggregate`` -> ``retrain`` (the gate on) -> ``score_workspace`` with the live model ->
   ROC AUC of the live model on the test set.
3. **Headline**: the votes BALD (and entropy) needs for its mean AUC to reach random's mean
   AUC at the full budget, as a saving; Dawid-Skene vs majority-vote accuracy of the
   labels of the voted candidates.

Writes ``active.json``, ``active.md`` and ``active.png`` to ``--out``
(default ``benchmarks/results``). The defaults take about 20-25 minutes on 2 shared CPU
cores; ``--quick`` (under 2 minutes) is what the smoke test runs.

    python benchmarks/bench_active.py [--quick] [--seeds 5] [--rounds 10] [--batch 40] ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frbtriage import db
from frbtriage.crowd.answers import ANSWERS, ASTRO, NOT_ASTRO
from frbtriage.crowd.consensus import Consensus, aggregate
from frbtriage.crowd.retire import RetirementRule
from frbtriage.crowd.simulated import CARELESS, RFI_BIASED, CrowdConfig, SimulatedCrowd
from frbtriage.crowd.volunteers import add_volunteer
from frbtriage.crowd.votes import submit_vote
from frbtriage.errors import InputError
from frbtriage.io.candidates import Candidate, read_candidates
from frbtriage.model.config import LoadedModel
from frbtriage.model.metrics import expected_calibration_error, roc_auc
from frbtriage.model.predict import score_images, score_workspace
from frbtriage.model.registry import live_model
from frbtriage.model.retrain import RetrainConfig, retrain
from frbtriage.prepare import prepare_candidates
from frbtriage.queue import QueueConfig, fill_queue, next_candidate, open_count
from frbtriage.simulate import SimulationResult, TruthRow, simulate_observation
from frbtriage.workspace import ARRAYS_NAME, Workspace

RESULTS = Path(__file__).resolve().parent / "results"
STRATEGIES = ("bald", "entropy", "random")

#: The shift. The shipped model was trained on 256- and 1024-channel data (``TRAIN_MIXES``
#: in ``frbtriage/model/data.py``: DM <= 1500, burst S/N 6-100, default RFI); the pool and
#: test set come from a 32-channel backend (12.5 MHz channels over 400-800 MHz) ...
SHIFT_NCHAN = 32
#: ... in another RFI environment (more impulses, narrowband bursts, drifting carriers,
#: persistent carriers, dead channels and noise candidates than any training mix), with
#: fainter bursts (S/N 6-50) out to DM 2000. Negatives are clean (no burst in their images).
SHIFT_MIX: dict[str, Any] = {
    "dm_range": (50.0, 2000.0), "snr_range": (6.0, 50.0), "impulse_rate": 8.0,
    "narrowband_rate": 12.0, "drift_rate": 4.0, "n_persistent": 8, "dead_fraction": 0.06,
    "noise_rate": 30.0, "clean_negatives": True,
}
#: One observation in three is burst-rich (this many bursts and noise candidates a minute),
#: the others burst-free, so about one candidate in eight is a burst.
BURST_RICH = {"burst_rate": 40.0, "noise_rate": 10.0}
#: Scattering time (ms, at 600 MHz) above which a burst counts as scattered.
SCATTERED_MS = 0.5
#: First simulation seeds of the pool and the test set (far from the training seeds).
POOL_SEED, TEST_SEED = 7_000_000, 8_000_000
#: A simulated volunteer's difficulty with a candidate of search S/N ``snr``:
#: ``DIFFICULTY_MAX * clip(ln(EASY_SNR / snr) / ln(EASY_SNR / 6), 0, 1)`` (S/N 6: 0.4, 10:
#: 0.27, 20: 0.1, >= 30: 0; the crowd's own default draws, Beta(1, 4), have mean 0.2).
EASY_SNR, DIFFICULTY_MAX = 30.0, 0.4


def keep_burst(row: TruthRow) -> bool:
    """Whether a burst of the truth table stays in the data sets: band-limited (a Gaussian
    spectrum, 40-400 MHz wide) or scattered (>= :data:`SCATTERED_MS` at 600 MHz). The other
    bursts' candidates are dropped before preparation (their signal stays in the data)."""
    return row.spectrum == "gaussian" or (row.scatter_ms or 0.0) >= SCATTERED_MS


def difficulty(snr: float) -> float:
    """Difficulty in [0, :data:`DIFFICULTY_MAX`] of a candidate of search S/N ``snr``."""
    x = np.log(EASY_SNR / max(snr, 1e-3)) / np.log(EASY_SNR / 6.0)
    return float(DIFFICULTY_MAX * np.clip(x, 0.0, 1.0))


@dataclass(frozen=True)
class Settings:
    """The benchmark's knobs (see ``--help``)."""

    pool_obs: int = 15
    test_obs: int = 9
    minutes: float = 1.0
    seeds: int = 5
    rounds: int = 10
    batch: int = 40
    votes_per_candidate: int = 3
    session: int = 10
    epochs: int = 4
    lr: float = 2e-3
    gold_per_class: int = 16
    queue_gold: float = 0.1
    queue_random: float = 0.0
    volunteers: int = 40
    threads: int = 1

    def check(self) -> None:
        """Raise :class:`InputError` for an impossible setting."""
        if min(self.pool_obs, self.test_obs, self.seeds, self.rounds, self.batch,
               self.votes_per_candidate, self.session, self.threads) < 1:
            raise InputError(None, "counts (observations, seeds, rounds, batch, votes, "
                                   "session, threads) must be >= 1")
        if self.votes_per_candidate > self.volunteers:
            raise InputError(None, "--votes-per-candidate cannot exceed --volunteers")
        if self.gold_per_class < 5:
            raise InputError(None, "--gold-per-class must be >= 5 (retrain evaluates on "
                                   f"gold and needs 5 of each class), got {self.gold_per_class}")

    @property
    def budget(self) -> int:
        """Votes per round."""
        return self.batch * self.votes_per_candidate


QUICK = Settings(pool_obs=4, test_obs=2, minutes=0.5, seeds=2, rounds=2, batch=20,
                 session=10, epochs=1, gold_per_class=5, volunteers=12)


def log(msg: str) -> None:
    """A progress line on stderr."""
    print(f"[bench_active {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- data


def simulate(folder: Path, cfg: Settings, seed: int, rich: bool) -> list[Candidate]:
    """Simulate one shifted observation into ``folder``; its candidates minus those of the
    bursts :func:`keep_burst` drops."""
    mix = {**SHIFT_MIX, **(BURST_RICH if rich else {"n_bursts": 0})}
    res: SimulationResult = simulate_observation(folder, minutes=cfg.minutes,
                                                 nchan=SHIFT_NCHAN, seed=seed, **mix)
    drop = {i for row in res.truth if row.kind == "burst" and not keep_burst(row)
            for i in row.candidate_rows}
    return [c for i, c in enumerate(read_candidates(res.candidates_path)) if i not in drop]


def build(ws: Workspace, cfg: Settings, n_obs: int, seed0: int, labelled: bool
          ) -> dict[db.CandidateKey, int]:
    """Simulate ``n_obs`` observations (seeds ``seed0 + i``; burst-rich when ``i % 3 == 0``)
    and prepare them into ``ws``, with their labels when ``labelled``; returns the true
    label of every candidate by key."""
    truth: dict[db.CandidateKey, int] = {}
    for i in range(n_obs):
        folder = ws.path.parent / f"sim-{seed0 + i}"
        cands = simulate(folder, cfg, seed0 + i, rich=i % 3 == 0)
        truth.update({db.candidate_key(c.file, c.tcand, c.dm, c.width): int(c.label or 0)
                      for c in cands})
        prepare_candidates(ws, cands if labelled else
                           [dataclasses.replace(c, label=None) for c in cands], progress=False)
        (folder / "obs.fil").unlink()
    return truth


@dataclass
class TestSet:
    """The fixed test set: images in ``ws`` at ``rows``, true ``labels``; AUC per model
    version is computed once."""

    ws: Workspace
    rows: np.ndarray
    labels: np.ndarray
    cache: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    def evaluate(self, model: LoadedModel) -> dict[str, float]:
        """ROC AUC and ECE of ``model`` on the test set."""
        if model.version not in self.cache:
            s = score_images(model, self.ws.ft, self.ws.dmt, indices=self.rows)
            self.cache[model.version] = {"auc": roc_auc(s.p_astro, self.labels),
                                         "ece": expected_calibration_error(s.p_astro,
                                                                           self.labels)}
        return self.cache[model.version]


@dataclass
class Pool:
    """The prepared pool: its workspace folder (a template, copied per run), true labels and
    volunteers' difficulty by candidate id, the gold ids, volunteer ids (index = simulated
    volunteer)."""

    folder: Path
    truth: dict[int, int]
    difficulty: dict[int, float]
    gold: set[int]
    volunteer_ids: list[int]


def make_data(cfg: Settings, work: Path) -> tuple[Pool, TestSet, dict[str, Any]]:
    """Simulate and prepare the pool and the test set (see the module); returns them and a
    description of what was made."""
    t0 = time.perf_counter()
    test_ws = Workspace.create(work / "test" / "ws")
    build(test_ws, cfg, cfg.test_obs, TEST_SEED, labelled=True)
    recs = test_ws.candidates()
    test = TestSet(test_ws, np.asarray([r.row for r in recs]),
                   np.asarray([r.label for r in recs], dtype=np.int64))
    log(f"test set: {len(recs)} candidates ({int(test.labels.sum())} bursts)")

    folder = work / "pool" / "ws"
    with Workspace.create(folder) as ws:
        by_key = build(ws, cfg, cfg.pool_obs, POOL_SEED, labelled=False)
        recs = ws.candidates()
        truth = {r.id: by_key[r.key()] for r in recs}
        diff = {r.id: difficulty(r.snr) for r in recs}
        rng = np.random.default_rng(0)
        gold: list[int] = []
        for cls in (0, 1):
            ids = sorted(i for i, y in truth.items() if y == cls)
            gold += rng.choice(ids, size=min(len(ids) // 2, cfg.gold_per_class),
                               replace=False).tolist()
        with ws.session() as s, s.begin():
            db.set_labels(s, "expert", gold, [truth[i] for i in gold],
                          ref="bench_active: seeded gold (simulation truth)")
        vids = [add_volunteer(ws, f"simulated-{i:03d}")[0].id for i in range(cfg.volunteers)]
        score_workspace(ws, live_model(ws))
        model = live_model(ws)
    n_pos = sum(truth.values())
    log(f"pool: {len(truth)} candidates ({n_pos} bursts), {len(gold)} gold; data ready in "
        f"{time.perf_counter() - t0:.0f} s")
    start = test.evaluate(model)
    info = {"pool_candidates": len(truth), "pool_bursts": n_pos, "gold": len(gold),
            "gold_bursts": sum(truth[i] for i in gold),
            "test_candidates": len(test.labels), "test_bursts": int(test.labels.sum()),
            "shipped_model": model.version, "shipped_test_auc": start["auc"],
            "shipped_test_ece": start["ece"], "seconds": time.perf_counter() - t0}
    return Pool(folder, truth, diff, set(gold), vids), test, info


# ------------------------------------------------------------------------------ crowd


class Crowd:
    """Simulated volunteers taking turns: :meth:`next` cycles through them in a random
    order, reshuffled each pass."""

    def __init__(self, pool: Pool, cfg: Settings, seed: int) -> None:
        self.sim = SimulatedCrowd(CrowdConfig(n_volunteers=cfg.volunteers), seed=seed)
        self.ids = pool.volunteer_ids
        self.rng = np.random.default_rng(seed + 1)
        self.turns: list[int] = []

    def next(self) -> int:
        """Index of the next simulated volunteer."""
        if not self.turns:
            self.turns = self.rng.permutation(len(self.ids)).tolist()
        return self.turns.pop()


class Run:
    """One strategy and seed: a fresh workspace and its rounds (see the module)."""

    def __init__(self, pool: Pool, test: TestSet, cfg: Settings, strategy: str, seed: int,
                 folder: Path) -> None:
        folder.mkdir(parents=True)
        for name in os.listdir(pool.folder):
            if name != ARRAYS_NAME:
                shutil.copy2(pool.folder / name, folder / name)
        (folder / ARRAYS_NAME).symlink_to(pool.folder / ARRAYS_NAME, target_is_directory=True)
        self.ws = Workspace.open(folder)
        self.pool, self.test, self.cfg = pool, test, cfg
        self.strategy, self.seed = strategy, seed
        self.crowd = Crowd(pool, cfg, seed)
        self.rule = RetirementRule(min_votes=cfg.votes_per_candidate, min_agreement=0.5,
                                   posterior=0.99)
        self.gold_votes = 0

    def _session(self, who: int, limit: int) -> int:
        """Volunteer ``who`` answers up to ``limit`` candidates; returns how many."""
        vid = self.pool.volunteer_ids[who]
        for n in range(limit):
            cid = next_candidate(self.ws, vid)
            if cid is None:
                return n
            y = self.pool.truth[cid]
            answer = self.crowd.sim.answer(who, ASTRO if y else NOT_ASTRO,
                                           self.pool.difficulty[cid])
            submit_vote(self.ws, vid, cid, ANSWERS[answer], source="simulated")
            self.gold_votes += cid in self.pool.gold
        return limit

    def vote(self) -> int:
        """One round's votes (see the module); returns how many were cast (fewer than the
        budget only when no volunteer has anything left to see)."""
        cfg, cast, idle = self.cfg, 0, 0
        while cast < cfg.budget and idle < cfg.volunteers:
            wave = 0
            for _ in range(cfg.votes_per_candidate):
                n = self._session(self.crowd.next(), min(cfg.session, cfg.budget - cast))
                idle = 0 if n else idle + 1
                cast, wave = cast + n, wave + n
                if cast >= cfg.budget:
                    break
            if wave:
                aggregate(self.ws, self.rule)
        return cast

    def accuracy(self, cons: Consensus) -> dict[str, Any]:
        """Dawid-Skene and majority-vote accuracy on the voted non-gold candidates."""
        it, mv = cons.result.items, cons.majority
        keep = np.asarray([int(i) not in cons.gold for i in it.items])
        truth = np.asarray([ASTRO if self.pool.truth[int(i)] else NOT_ASTRO
                            for i in it.items[keep]])
        burst = truth == ASTRO
        ds, maj = it.label[keep] == truth, mv.label[keep] == truth
        return {"candidates": int(keep.sum()), "bursts": int(burst.sum()),
                "dawid_skene": float(ds.mean()), "majority": float(maj.mean()),
                "dawid_skene_on_bursts": float(ds[burst].mean()) if burst.any() else None,
                "majority_on_bursts": float(maj[burst].mean()) if burst.any() else None}

    def run(self) -> dict[str, Any]:
        """All rounds; the per-round record and the final label accuracies."""
        cfg, t0 = self.cfg, time.perf_counter()
        start = self.test.evaluate(live_model(self.ws))
        rounds: list[dict[str, Any]] = [{"round": 0, "votes": 0, "test_auc": start["auc"],
                                         "test_ece": start["ece"]}]
        votes, cons = 0, None
        for r in range(1, cfg.rounds + 1):
            fill_queue(self.ws, QueueConfig(
                size=open_count(self.ws) + cfg.batch, strategy=self.strategy,
                gold_fraction=cfg.queue_gold, random_fraction=cfg.queue_random,
                seed=self.seed * 1000 + r))
            votes += self.vote()
            cons = aggregate(self.ws, self.rule)
            try:
                res = retrain(self.ws, RetrainConfig(epochs=cfg.epochs, lr=cfg.lr,
                                                     seed=self.seed * 1000 + r))
                gate = {"promoted": res.decision.promote, "reason": res.decision.reason,
                        "counts": res.counts}
            except InputError as err:  # too little to train or evaluate on yet
                gate = {"promoted": False, "reason": str(err), "counts": {}}
            model = live_model(self.ws)
            score_workspace(self.ws, model)
            ev = self.test.evaluate(model)
            voted = [int(i) for i in cons.result.items.items if int(i) not in cons.gold]
            rounds.append({"round": r, "votes": votes, "gold_votes": self.gold_votes,
                           "test_auc": ev["auc"], "test_ece": ev["ece"], **gate,
                           "voted_candidates": len(voted),
                           "voted_bursts": sum(self.pool.truth[i] for i in voted),
                           "model": model.version})
            log(f"{self.strategy} seed {self.seed} round {r}: {votes} votes "
                f"({self.gold_votes} on gold), {len(voted)} voted candidates "
                f"({rounds[-1]['voted_bursts']} bursts), gate "
                f"{'promoted' if gate['promoted'] else 'kept the live model'}, "
                f"test AUC {ev['auc']:.4f}")
        assert cons is not None
        self.ws.close()
        kinds = self.crowd.sim.kind
        return {"strategy": self.strategy, "seed": self.seed, "rounds": rounds,
                "labels": self.accuracy(cons), "seconds": time.perf_counter() - t0,
                "careless_volunteers": int((kinds == CARELESS).sum()),
                "rfi_biased_volunteers": int((kinds == RFI_BIASED).sum())}


# ---------------------------------------------------------------------------- summary


#: A seed's saving when random ended no better than it started (any curve "reaches" that).
NO_GAIN = "random did not improve"


def votes_to_reach(votes: np.ndarray, auc: np.ndarray, target: float) -> float | None:
    """The vote count at which the curve ``auc`` over ``votes`` first reaches ``target``
    (linear between rounds), or None if it never does."""
    hit = np.flatnonzero(auc >= target)
    if hit.size == 0:
        return None
    j = int(hit[0])
    if j == 0:
        return float(votes[0])
    v0, v1, a0, a1 = votes[j - 1], votes[j], auc[j - 1], auc[j]
    return float(v0 + (v1 - v0) * (target - a0) / (a1 - a0))


def summarise(runs: list[dict[str, Any]], cfg: Settings) -> dict[str, Any]:
    """Mean curves per strategy, the savings against random, and the label accuracies."""
    grid = np.arange(cfg.rounds + 1) * cfg.budget
    curves: dict[str, Any] = {}
    for strat in STRATEGIES:
        mine = [r for r in runs if r["strategy"] == strat]
        aucs = np.asarray([np.interp(grid, [x["votes"] for x in r["rounds"]],
                                     [x["test_auc"] for x in r["rounds"]]) for r in mine])
        curves[strat] = {"votes": grid.tolist(), "auc_mean": aucs.mean(0).tolist(),
                         "auc_sd": aucs.std(0).tolist(), "auc_per_seed": aucs.tolist(),
                         "promotions": [sum(x.get("promoted", False) for x in r["rounds"])
                                        for r in mine],
                         "promotions_lowering_test_auc": [
                             sum(x.get("promoted", False) and x["test_auc"] < prev["test_auc"]
                                 for prev, x in zip(r["rounds"][:-1], r["rounds"][1:],
                                                    strict=True))
                             for r in mine],
                         "gold_votes": [r["rounds"][-1]["gold_votes"] for r in mine],
                         "voted_bursts": [r["rounds"][-1]["voted_bursts"] for r in mine]}
    target = curves["random"]["auc_mean"][-1]
    headline: dict[str, Any] = {"random_final_auc": target, "budget_votes": int(grid[-1])}
    for strat in ("bald", "entropy"):
        need = votes_to_reach(grid, np.asarray(curves[strat]["auc_mean"]), target)
        per_seed: list[float | str | None] = []
        for mine, rand in zip(curves[strat]["auc_per_seed"], curves["random"]["auc_per_seed"],
                              strict=True):
            n = votes_to_reach(grid, np.asarray(mine), rand[-1])
            per_seed.append(NO_GAIN if rand[-1] <= rand[0] else
                            None if n is None else 100.0 * (1 - n / grid[-1]))
        headline[strat] = {"votes_to_random_final_auc": need,
                           "saving_percent": None if need is None
                           else 100.0 * (1 - need / grid[-1]),
                           "saving_percent_per_seed": per_seed,
                           "final_auc": curves[strat]["auc_mean"][-1]}
    labels = {key: float(np.mean([r["labels"][key] for r in runs]))
              for key in ("dawid_skene", "majority")}
    for key in ("dawid_skene_on_bursts", "majority_on_bursts"):
        vals = [r["labels"][key] for r in runs if r["labels"][key] is not None]
        labels[key] = float(np.mean(vals)) if vals else None
    labels["candidates_per_run"] = float(np.mean([r["labels"]["candidates"] for r in runs]))
    return {"curves": curves, "headline": headline, "label_accuracy": labels}


def plot(summary: dict[str, Any], data: dict[str, Any], path: Path) -> None:
    """AUC on the test set against votes, mean +- 1 sd over seeds, per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"bald": "tab:blue", "entropy": "tab:orange", "random": "tab:grey"}
    for strat, c in summary["curves"].items():
        x, m, sd = (np.asarray(c[k]) for k in ("votes", "auc_mean", "auc_sd"))
        ax.plot(x, m, "o-", color=colours[strat], label=strat, ms=4)
        ax.fill_between(x, m - sd, m + sd, color=colours[strat], alpha=0.2, lw=0)
    head = summary["headline"]
    ax.axhline(head["random_final_auc"], color="k", ls=":", lw=1,
               label="random at the full budget")
    for strat in ("bald", "entropy"):
        need = head[strat]["votes_to_random_final_auc"]
        if need is not None:
            ax.axvline(need, color=colours[strat], ls="--", lw=1)
    ax.set_xlabel("volunteer votes (gold included)")
    ax.set_ylabel("ROC AUC on the fixed test set")
    ax.set_title(f"Active learning on shifted data ({data['test_candidates']} test "
                 f"candidates); mean \u00b1 1 sd over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _pct(x: float | str | None) -> str:
    """A saving in words."""
    return "not reached" if x is None else x if isinstance(x, str) else f"{x:.0f} %"


def markdown(doc: dict[str, Any]) -> str:
    """The Markdown report."""
    cfg, data, summ = doc["settings"], doc["data"], doc["summary"]
    head, lab = summ["headline"], summ["label_accuracy"]
    lines = [
        "# Active learning through the crowd loop (simulated volunteers)", "",
        "`benchmarks/bench_active.py`: queue -> votes -> Dawid-Skene -> retrain (gate on) -> "
        "re-score, per strategy and seed, starting from the shipped model.", "",
        f"**Shift**: {doc['shift']}", "",
        f"Pool {data['pool_candidates']} candidates ({data['pool_bursts']} bursts), of which "
        f"{data['gold']} gold ({data['gold_bursts']} bursts, `expert` labels); fixed test set "
        f"{data['test_candidates']} candidates ({data['test_bursts']} bursts) in its own "
        f"workspace. Shipped model `{data['shipped_model']}` on the test set: "
        f"**AUC {data['shipped_test_auc']:.4f}**, ECE {data['shipped_test_ece']:.3f}.", "",
        f"Settings: {cfg['seeds']} seeds, {cfg['rounds']} rounds of {cfg['batch']} queue "
        f"entries ({cfg['queue_gold']:.0%} gold, {cfg['queue_random']:.0%} random) and "
        f"{cfg['batch'] * cfg['votes_per_candidate']} votes ({cfg['votes_per_candidate']} "
        f"decisive votes retire a candidate), {cfg['volunteers']} simulated volunteers "
        "(20 % careless, 15 % biased towards rfi, the rest of mixed skill, some cautious), "
        f"retrain {cfg['epochs']} epochs at lr {cfg['lr']:g}.", "",
        "| strategy | AUC at 0 votes | AUC at the full budget (mean +- sd) | promotions per run "
        "(of which lowered the test AUC) | bursts among voted | votes on gold |",
        "|---|---|---|---|---|---|",
    ]
    for strat, c in summ["curves"].items():
        lines.append(
            f"| {strat} | {c['auc_mean'][0]:.4f} | {c['auc_mean'][-1]:.4f} +- "
            f"{c['auc_sd'][-1]:.4f} | "
            + ", ".join(f"{p} ({q})" for p, q in zip(c["promotions"],
                                                    c["promotions_lowering_test_auc"],
                                                    strict=True))
            + f" of {cfg['rounds']} | {', '.join(map(str, c['voted_bursts']))} | "
            f"{', '.join(map(str, c['gold_votes']))} |")
    lines += ["", f"AUC per vote count (mean over seeds; votes: "
                  f"{', '.join(map(str, summ['curves']['random']['votes']))}):", ""]
    for strat, c in summ["curves"].items():
        lines.append(f"- {strat}: " + ", ".join(f"{a:.4f}" for a in c["auc_mean"]))
    if head["random_final_auc"] <= summ["curves"]["random"]["auc_mean"][0]:
        lines += ["", "Random ended no better than it started, so the savings below mean "
                      "nothing."]
    lines += ["", "**Headline** (target >= 40 %): votes needed to reach random's mean AUC at "
                  f"its full budget of {head['budget_votes']} votes "
                  f"({head['random_final_auc']:.4f}):", "",
              "| strategy | votes needed | saving (mean curves) | saving per seed |",
              "|---|---|---|---|"]
    for strat in ("bald", "entropy"):
        h = head[strat]
        need = h["votes_to_random_final_auc"]
        lines.append(f"| {strat} | {'not reached' if need is None else f'{need:.0f}'} | "
                     f"{_pct(h['saving_percent'])} | "
                     f"{', '.join(_pct(p) for p in h['saving_percent_per_seed'])} |")
    bursts = ("" if lab["dawid_skene_on_bursts"] is None else
              f" On the bursts alone: Dawid-Skene {lab['dawid_skene_on_bursts']:.3f}, "
              f"majority {lab['majority_on_bursts']:.3f}.")
    lines += ["", f"**Labels** of the voted non-gold candidates (~{lab['candidates_per_run']:.0f}"
                  f" a run), accuracy against the truth, mean over runs: Dawid-Skene "
                  f"**{lab['dawid_skene']:.3f}**, majority vote **{lab['majority']:.3f}**."
                  + bursts, "",
              f"Run time {doc['seconds'] / 60:.1f} min on {doc['cpu_count']} CPU cores "
              f"(torch threads {cfg['threads']}, load average "
              f"{', '.join(f'{v:.1f}' for v in doc['load_average_1_5_15min'])} after the run; "
              "the cores were shared with other work). Plot: `active.png`."]
    return "\n".join(lines) + "\n"


SHIFT_TEXT = (
    f"{SHIFT_NCHAN}-channel data (the shipped model saw 256 and 1024 channels); another RFI "
    "environment (per minute: 8 impulses, 12 narrowband bursts, 4 drifting carriers, 30 noise "
    "candidates; 8 persistent carriers and 6 % dead channels per file); bursts with S/N 6-50 "
    "(training: 6-100) and DM 50-2000 (training: <= 1500), only band-limited (Gaussian "
    f"spectrum) or scattered (>= {SCATTERED_MS} ms at 600 MHz) ones kept. Same 400-800 MHz band "
    "(the simulator has no other)."
)


def parse(argv: list[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    """Settings and output options from the command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = Settings()
    ap.add_argument("--quick", action="store_true",
                    help="a ~2-minute smoke run (small pool, 2 seeds, 2 rounds, 1 epoch); "
                         "other options are ignored")
    ap.add_argument("--pool-obs", type=int, default=d.pool_obs,
                    help="simulated observations in the pool")
    ap.add_argument("--test-obs", type=int, default=d.test_obs,
                    help="simulated observations in the test set")
    ap.add_argument("--minutes", type=float, default=d.minutes, help="minutes per observation")
    ap.add_argument("--seeds", type=int, default=d.seeds, help="seeds per strategy")
    ap.add_argument("--rounds", type=int, default=d.rounds, help="rounds per run")
    ap.add_argument("--batch", type=int, default=d.batch, help="queue entries added a round")
    ap.add_argument("--votes-per-candidate", type=int, default=d.votes_per_candidate,
                    help="decisive votes that retire a candidate")
    ap.add_argument("--session", type=int, default=d.session,
                    help="candidates a volunteer answers in one sitting")
    ap.add_argument("--epochs", type=int, default=d.epochs, help="retrain epochs a round")
    ap.add_argument("--lr", type=float, default=d.lr, help="retrain peak learning rate")
    ap.add_argument("--gold-per-class", type=int, default=d.gold_per_class,
                    help="pool candidates of each class given expert (gold) labels")
    ap.add_argument("--queue-gold", type=float, default=d.queue_gold,
                    help="fraction of new queue entries that are gold")
    ap.add_argument("--queue-random", type=float, default=d.queue_random,
                    help="fraction of new queue entries drawn at random")
    ap.add_argument("--volunteers", type=int, default=d.volunteers,
                    help="simulated volunteers")
    ap.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    ap.add_argument("--work", default=None,
                    help="keep the workspaces in this new folder (default: a temporary "
                         "folder, removed at the end)")
    args = ap.parse_args(argv)
    if args.quick:
        return QUICK, args
    cfg = Settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)})
    cfg.check()
    return cfg, args


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write the results."""
    cfg, args = parse(argv)
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_active-") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        pool, test, data = make_data(cfg, work)
        runs = []
        for seed in range(cfg.seeds):
            for strat in STRATEGIES:
                run = Run(pool, test, cfg, strat, seed, work / "runs" / f"{strat}-{seed}")
                runs.append(run.run())
        test.ws.close()
    doc = {"benchmark": "active", "shift": SHIFT_TEXT, "settings": dataclasses.asdict(cfg),
           "quick": bool(args.quick), "data": data, "summary": summarise(runs, cfg),
           "runs": runs, "seconds": time.perf_counter() - t0, "torch": torch.__version__,
           "cpu_count": os.cpu_count(), "machine": platform.machine(),
           "load_average_1_5_15min": list(os.getloadavg())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "active.json").write_text(json.dumps(doc, indent=2) + "\n")
    plot(doc["summary"], data, out / "active.png")
    text = markdown(doc)
    (out / "active.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
