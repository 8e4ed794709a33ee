"""The whole path on one observation, next to its truth (``frbtriage demo``, the app's demo
page, notebooks).

:func:`run_demo`: the sample observation (or a fresh simulation) -> search ->
``search.csv`` -> prepare into ``workspace/`` -> score with the shipped model -> every
candidate ranked by p_astro with what the truth table says it is -> ``ranked.csv``. It
reports each stage to a :class:`DemoProgress` as it goes (the verb prints, the app could
show a status) and returns a :class:`DemoResult`. The search reads the observation through
``inbox/obs.fil``, a link to it, with the search list linked beside it as ``inbox/obs.csv``:
the inbox :func:`run_demo_nightly` gives the nightly job, which then finds every candidate
already stored (they are keyed by that path) instead of searching and storing them again.

:func:`run_demo_nightly` is the operator's and the volunteer's side, after :func:`run_demo`:
the nightly job on that inbox (queue, report), and a volunteer's sign-in token for the app.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from frbtriage.errors import InputError
from frbtriage.search import SearchConfig

if TYPE_CHECKING:
    from frbtriage.db import CandidateRecord, ScoreRow
    from frbtriage.io.candidates import Candidate
    from frbtriage.io.filterbank import Header
    from frbtriage.nightly import NightlyResult
    from frbtriage.prepare import PrepareSummary
    from frbtriage.search import SearchStats
    from frbtriage.simulate import TruthRow
    from frbtriage.simulate.search import Trace

#: The demo's search: the whole CHIME DM range at the usual threshold.
SEARCH = SearchConfig(dm_min=0.0, dm_max=2000.0, snr_min=7.0)
#: Columns of ``ranked.csv``.
RANKED_COLUMNS = ("tcand", "dm", "width", "snr", "p_astro", "p_std", "bald", "truth")
#: The nightly job's inbox in the demo's folder: the observation and the search's list.
INBOX = "inbox"
#: The volunteer :func:`run_demo_nightly` signs in for the app.
VOLUNTEER = "demo-volunteer"


@dataclass(frozen=True)
class DemoConfig:
    """What :func:`run_demo` runs on: ``sample`` an observation folder with ``obs.fil`` and
    ``truth.csv`` (None: ``data_samples/chime_sim`` of the current folder or of this
    checkout); or, with ``simulate``, a fresh ``minutes``-long simulation with ``seed``
    written to ``DIR/sim``; ``device`` torch device for scoring (None: automatic)."""

    sample: str | os.PathLike[str] | None = None
    simulate: bool = False
    minutes: float = 0.5
    seed: int = 7
    device: str | None = None


@dataclass(frozen=True)
class DemoObservation:
    """The observation: its folder, the data file's header, and the truth table."""

    folder: Path
    header: Header
    truth: list[TruthRow]
    simulated: bool

    @property
    def bursts(self) -> list[TruthRow]:
        """The injected bursts of the truth table."""
        return [r for r in self.truth if r.kind == "burst"]


@dataclass(frozen=True)
class DemoSearch:
    """The search's ``candidates`` (written to ``csv_path``) and ``stats``, and for each
    injected burst the first candidate that recovers it (None: missed)."""

    candidates: list[Candidate]
    stats: SearchStats
    csv_path: Path
    burst_hits: list[tuple[TruthRow, Candidate | None]]


@dataclass(frozen=True)
class DemoRow:
    """A ranked candidate: its stored record, its score and what the truth says it is."""

    record: CandidateRecord
    score: ScoreRow
    truth: str


@dataclass(frozen=True)
class DemoResult:
    """Everything :func:`run_demo` did; ``ranked`` by p_astro, best first, as in
    ``ranked_csv``."""

    out_dir: Path
    observation: DemoObservation
    search: DemoSearch
    prepare: PrepareSummary
    model_version: str
    newly_scored: int
    ranked: list[DemoRow]
    ranked_csv: Path


class DemoProgress(Protocol):
    """Stage hooks of :func:`run_demo`, called in this order as the stages start or end.
    Any object with these methods will do (a subclass inherits do-nothing ones)."""

    def simulating(self, config: DemoConfig) -> None:
        """Before a fresh simulation is made (only with ``config.simulate``)."""

    def observed(self, obs: DemoObservation) -> None:
        """The observation is read; the search starts next."""

    def searched(self, search: DemoSearch) -> None:
        """The search is done and written; preparing starts next."""

    def prepared(self, summary: PrepareSummary) -> None:
        """The images are in the workspace; scoring starts next."""


class _Quiet(DemoProgress):
    """Reports nothing."""


def find_sample(given: str | os.PathLike[str] | None = None) -> Path:
    """The observation folder to use: ``given``, else ``data_samples/chime_sim`` of the
    current folder, else of this checkout (editable install); :class:`InputError` if the
    folder holds no ``obs.fil``."""
    if given is not None:
        candidates = [Path(given)]
    else:
        here = Path(__file__).resolve().parents[1]  # the checkout, for an editable install
        candidates = [Path.cwd() / "data_samples" / "chime_sim",
                      here / "data_samples" / "chime_sim"]
    for d in candidates:
        if (d / "obs.fil").is_file():
            return d
    raise InputError(candidates[0], "no obs.fil here; pass --sample DIR or --simulate")


def truth_label(row: TruthRow | None, held: Sequence[tuple[int, float]]) -> str:
    """What the truth says a candidate is: the matched injection ``row`` (None: noise or
    unmatched) and ``held``, (id, S/N) of the bursts its images also hold, brightest first."""
    if row is not None and row.kind == "burst":
        return f"BURST #{row.id} (DM {row.dm:.0f}, S/N {row.snr:.0f})"
    what = "noise / unmatched" if row is None else row.kind.replace("rfi_", "RFI ")
    if held:
        (bid, snr), more = held[0], len(held) - 1
        what += (f" (images hold BURST #{bid} at S/N ~{snr:.0f}"
                 + (f" and {more} fainter" if more else "") + ")")
    return what


def held_bursts(bursts: Sequence[TruthRow], traces: Sequence[Trace], rec: CandidateRecord,
                header: Header) -> list[tuple[int, float]]:
    """(id, S/N) of the injected ``bursts`` (with their ``traces``) that show in candidate
    ``rec``'s ft/dmt images at S/N >= 3
    (:func:`frbtriage.simulate.search.trace_snrs_in_images`), brightest first."""
    from frbtriage.simulate.search import CLEAN_SNR, Detection, trace_snrs_in_images

    det = Detection(snr=rec.snr, stime=rec.tcand, dm=rec.dm, width=int(rec.width))
    snrs = trace_snrs_in_images(det, list(traces), header.freqs, header.tsamp)
    held = [(b.id, float(s)) for b, s in zip(bursts, snrs, strict=True) if s >= CLEAN_SNR]
    return sorted(held, key=lambda h: -h[1])


def run_demo(out_dir: str | os.PathLike[str], config: DemoConfig | None = None,
             progress: DemoProgress | None = None) -> DemoResult:
    """Run the demo into ``out_dir`` (created if missing): ``sim/`` (with ``simulate``),
    ``inbox/`` (see the module), ``search.csv``, ``workspace/`` and ``ranked.csv``. A
    re-run into the same folder finds the stored candidates and scores and ranks them
    again."""
    cfg = config or DemoConfig()
    hooks = progress or _Quiet()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    obs = _observe(out, cfg, hooks)
    search = _search(out, obs)
    hooks.searched(search)
    summary, version, n_new, recs, scores = _prepare_and_score(out, search.candidates, cfg,
                                                               hooks)
    ranked = _rank(obs, recs, scores)
    return DemoResult(out_dir=out, observation=obs, search=search, prepare=summary,
                      model_version=version, newly_scored=n_new, ranked=ranked,
                      ranked_csv=_write_ranked(out / "ranked.csv", ranked))


def _observe(out: Path, cfg: DemoConfig, hooks: DemoProgress) -> DemoObservation:
    from frbtriage.io.filterbank import read_header
    from frbtriage.simulate import read_truth_csv, simulate_observation

    if cfg.simulate:
        hooks.simulating(cfg)
        folder = simulate_observation(out / "sim", minutes=cfg.minutes, seed=cfg.seed).out_dir
    else:
        folder = find_sample(cfg.sample)
    obs = DemoObservation(folder=Path(folder), header=read_header(Path(folder) / "obs.fil"),
                          truth=read_truth_csv(Path(folder) / "truth.csv"),
                          simulated=cfg.simulate)
    hooks.observed(obs)
    return obs


def _search(out: Path, obs: DemoObservation) -> DemoSearch:
    from frbtriage.io.candidates import write_fetch_csv
    from frbtriage.search import SearchStats, search_file
    from frbtriage.simulate.truth import burst_matches

    inbox = (out / INBOX).resolve()  # as the nightly job lists it: the candidates' key
    inbox.mkdir(exist_ok=True)
    data = _link(inbox / "obs.fil", (obs.folder / "obs.fil").resolve())
    stats = SearchStats()
    cands = [c.to_candidate() for c in search_file(data, config=SEARCH, stats=stats)]
    write_fetch_csv(out / "search.csv", cands)
    _link(inbox / "obs.csv", Path("..") / "search.csv")
    tsamp = obs.header.tsamp
    hits = [(b, next((c for c in cands if burst_matches(b, c.tcand, c.dm, c.width, tsamp)),
                     None)) for b in obs.bursts]
    return DemoSearch(candidates=cands, stats=stats, csv_path=out / "search.csv",
                      burst_hits=hits)


def _link(link: Path, target: Path) -> Path:
    """Make ``link`` a symbolic link to ``target`` (unless it is already); returns ``link``."""
    if not (link.is_symlink() and Path(os.readlink(link)) == target):
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    return link


def _prepare_and_score(out: Path, cands: list[Candidate], cfg: DemoConfig,
                       hooks: DemoProgress
                       ) -> tuple[PrepareSummary, str, int, list[CandidateRecord],
                                  dict[int, ScoreRow]]:
    """Prepare ``cands`` into ``out/workspace`` and score them with the shipped model:
    ``(summary, model version, newly scored, records, scores by id)``."""
    from frbtriage import db
    from frbtriage.model.config import load_model, pick_device
    from frbtriage.model.predict import score_workspace
    from frbtriage.prepare import prepare_candidates
    from frbtriage.workspace import Workspace

    with Workspace.open_or_create(out / "workspace") as ws:
        summary = prepare_candidates(ws, cands)
        hooks.prepared(summary)
        model = load_model(None, device=pick_device(cfg.device))
        # this search's candidates, whether added now or by an earlier run into DIR
        ids = sorted(ws.ids_of(db.candidate_key(c.file, c.tcand, c.dm, c.width)
                               for c in cands).values())
        n_new = score_workspace(ws, model, ids=ids)
        with ws.session() as s:
            scores = {r.candidate_id: r for r in db.read_scores(s, model.version, ids)}
        recs = ws.candidates(ids)
    return summary, model.version, n_new, recs, scores


def _rank(obs: DemoObservation, recs: list[CandidateRecord],
          scores: dict[int, ScoreRow]) -> list[DemoRow]:
    from frbtriage.simulate.search import Trace
    from frbtriage.simulate.truth import match_truth

    h = obs.header
    bursts = obs.bursts
    traces = [Trace.from_truth(b, h.tsamp) for b in bursts]
    return [DemoRow(r, scores[r.id],
                    truth_label(match_truth(obs.truth, r.tcand, r.dm, r.width, h.tsamp),
                                held_bursts(bursts, traces, r, h)))
            for r in sorted(recs, key=lambda r: -scores[r.id].p_astro)]


def _write_ranked(path: Path, ranked: list[DemoRow]) -> Path:
    """``ranked.csv`` (:data:`RANKED_COLUMNS`, CRLF line ends as the csv module writes)."""
    from frbtriage.safe_write import write_text

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(RANKED_COLUMNS)
    for row in ranked:
        r, sc = row.record, row.score
        w.writerow([f"{r.tcand:.6f}", f"{r.dm:.2f}", r.width, f"{r.snr:.2f}",
                    f"{sc.p_astro:.4f}", f"{sc.p_std:.4f}", f"{sc.bald:.4f}", row.truth])
    return write_text(path, buf.getvalue())


@dataclass(frozen=True)
class DemoNightly:
    """What :func:`run_demo_nightly` did: the nightly job's ``result`` and its ``report``
    (``WS/reports/<date>/index.html``); the sign-in ``token`` of volunteer
    :data:`VOLUNTEER` (a new one each run); ``app_command`` the shell command that serves
    the review app on the demo's workspace."""

    result: NightlyResult
    report: Path
    token: str
    app_command: str


def run_demo_nightly(out_dir: str | os.PathLike[str],
                     device: str | None = None) -> DemoNightly:
    """After :func:`run_demo` into ``out_dir``: the nightly job on ``out_dir/inbox`` (in
    this process, ``device`` for any scoring) as cron would run it: it finds the demo's
    candidates stored (a later run: the file finished), scores what the live model has not,
    fills the volunteer queue and writes the report. Then volunteer :data:`VOLUNTEER` gets
    a fresh sign-in token (added on the first run, its token reset on later ones)."""
    from frbtriage.crowd.volunteers import add_volunteer, list_volunteers, reset_token
    from frbtriage.nightly import NightlyOptions, run_nightly
    from frbtriage.workspace import Workspace

    out = Path(out_dir)
    result = run_nightly(out / "workspace", out / INBOX, NightlyOptions(workers=0,
                                                                        device=device))
    with Workspace.open(result.workspace) as ws:
        if any(v.name == VOLUNTEER for v in list_volunteers(ws)):
            token = reset_token(ws, VOLUNTEER)
        else:
            token = add_volunteer(ws, VOLUNTEER)[1]
    assert result.report_dir is not None  # run_nightly returns with the report written
    return DemoNightly(result=result, report=result.report_dir / "index.html", token=token,
                       app_command=app_command(result.workspace))


def app_command(workspace: str | os.PathLike[str]) -> str:
    """The shell command that serves the review app on ``workspace``: this environment's
    ``frbtriage`` (by its path when a bare ``frbtriage`` would not find it, as after
    ``make demo`` outside the virtual environment) ``app --workspace`` the absolute path."""
    import shlex
    import shutil
    import sys

    script = Path(sys.executable).parent / "frbtriage"
    on_path = shutil.which("frbtriage")
    same = on_path is not None and Path(on_path).resolve() == script.resolve()
    prog = "frbtriage" if same or not script.is_file() else str(script)
    return shlex.join([prog, "app", "--workspace", str(Path(workspace).resolve())])
