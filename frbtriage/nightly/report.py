"""The nightly report: ``WS/reports/YYYY-MM-DD/index.html`` + ``summary.json``.

``index.html`` is one self-contained file (styles inline, plots embedded as base64 PNG), so it
can be mailed or served as is; ``summary.json`` holds the same facts for machines (a
monitoring check can read ``exit_code`` and ``files.failed``). Both are written with
:mod:`frbtriage.safe_write`; a later run on the same day (UTC) replaces them.

Contents: files processed, already known and failed (with the reason), candidates per file,
the p_astro histogram (this run's new candidates and all), the images of the best new
candidates (:func:`frbtriage.plots.candidate_figure`), volunteer activity and agreement since
the previous run, the live model's metrics and whether a new model was promoted, and the
wall time of each stage.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from frbtriage.safe_write import write_text

if TYPE_CHECKING:
    from frbtriage.nightly.config import NightlyConfig
    from frbtriage.nightly.job import NightlyResult
    from frbtriage.workspace import Workspace

REPORTS_DIR = "reports"
#: Bin edges of the p_astro histogram: 20 bins over [0, 1].
P_BINS = np.linspace(0.0, 1.0, 21)


def write_report(ws: Workspace, result: NightlyResult, cfg: NightlyConfig) -> Path:
    """Write the report of ``result`` into ``WS/reports/<day of result.started>/``; returns
    the folder."""
    from frbtriage.research import scores_of

    out = ws.path / REPORTS_DIR / result.started.strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    scores = scores_of(ws, None, result.model_version) if result.model_version else {}
    new = result.added_ids
    top = sorted((i for i in new if i in scores), key=lambda i: -scores[i].p_astro)
    top = top[: cfg.top_candidates]
    summary = summarise(ws, result, scores, top)
    write_text(out / "summary.json", json.dumps(summary, indent=1, default=str) + "\n")
    write_text(out / "index.html", _html(summary, _histogram_png(scores, new),
                                         _candidate_pngs(ws, top, scores)))
    return out


def summarise(ws: Workspace, result: NightlyResult, scores: dict[int, Any],
              top: list[int]) -> dict[str, Any]:
    """The facts of the report as JSON-ready values (what ``summary.json`` holds);
    ``scores`` the live model's by candidate id, ``top`` the ids pictured."""
    from frbtriage.model.registry import list_models

    new_p = np.asarray([scores[i].p_astro for i in result.added_ids if i in scores])
    live = next((m for m in list_models(ws) if m.status == "current"), None)
    rt = result.retrain
    recs = {r.id: r for r in ws.candidates(top)}
    return {
        "workspace": str(result.workspace), "inbox": str(result.inbox),
        "started": result.started.isoformat(),
        "finished": result.finished.isoformat() if result.finished else None,
        "exit_code": result.exit_code, "executor": result.executor,
        "files": {"processed": len(result.with_status("processed")),
                  "known": len(result.with_status("known")),
                  "failed": len(result.with_status("failed")),
                  "unchanged": result.unchanged},
        "failed": [{"path": f.path, "error": f.error} for f in result.with_status("failed")],
        "per_file": [{k: v for k, v in dataclasses.asdict(f).items() if k != "ids"}
                     for f in result.files],
        "candidates": {"added": len(result.added_ids), "in_workspace": len(ws),
                       "newly_scored": result.scored},
        "p_astro_histogram": {"edges": P_BINS.tolist(),
                              "new": np.histogram(new_p, P_BINS)[0].tolist(),
                              "all": np.histogram([s.p_astro for s in scores.values()],
                                                  P_BINS)[0].tolist()},
        "top_candidates": [{"id": i, "file": recs[i].file, "tcand": recs[i].tcand,
                            "dm": recs[i].dm, "width": recs[i].width, "snr": recs[i].snr,
                            "p_astro": scores[i].p_astro, "p_std": scores[i].p_std,
                            "bald": scores[i].bald} for i in top],
        "queue": result.queue,
        "volunteers": {**(dataclasses.asdict(result.activity) if result.activity else {}),
                       "consensus": str(result.consensus) if result.consensus else None},
        "model": {"live": live.version if live else None,
                  "metrics": live.metrics if live else {},
                  "new_labels_since_retrain": result.new_labels,
                  "retrained": rt.candidate.version if rt else None,
                  "promoted": bool(rt and rt.decision.promote),
                  "retrain": result.retrain_note,
                  "retrained_metrics": rt.candidate_metrics if rt else None,
                  "live_metrics_same_set": rt.live_metrics if rt else None},
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "warm_up": [dataclasses.asdict(w) for w in result.warm_up],
    }


# --------------------------------------------------------------------------- plots


def _png_b64(fig: Any) -> str:
    from frbtriage.plots import figure_png

    return base64.b64encode(figure_png(fig, dpi=80)).decode("ascii")


def _histogram_png(scores: dict[int, Any], new: list[int]) -> str:
    """The p_astro histogram (all scored candidates, and this run's), base64 PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    everything = [s.p_astro for s in scores.values()]
    ax.hist(everything, bins=P_BINS, color="lightgrey", label=f"all ({len(everything)})")
    ours = [scores[i].p_astro for i in new if i in scores]
    ax.hist(ours, bins=P_BINS, color="tab:blue", label=f"this run ({len(ours)})")
    ax.set_xlabel("p_astro (live model)")
    ax.set_ylabel("candidates")
    ax.legend(fontsize="small")
    return _png_b64(fig)


def _candidate_pngs(ws: Workspace, ids: list[int], scores: dict[int, Any]) -> list[str]:
    """The picture of each candidate of ``ids`` (in that order), base64 PNG."""
    from frbtriage.plots import candidate_figure

    out = []
    recs = {r.id: r for r in ws.candidates(ids)}
    for rec in (recs[i] for i in ids):
        ft, dmt = ws.candidate_images(rec.id)
        sc = scores[rec.id]
        title = (f"#{rec.id} {Path(rec.file).name} t={rec.tcand:.3f} s DM {rec.dm:.1f} "
                 f"S/N {rec.snr:.1f}  p_astro {sc.p_astro:.3f} ± {sc.p_std:.3f}")
        out.append(_png_b64(candidate_figure(ft, dmt, title=title, size=(6.4, 4.0))))
    return out


# --------------------------------------------------------------------------- html


_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
          "padding:2px 6px;font-size:90%;text-align:left}.bad{color:#b00}"
          "img{max-width:100%}")


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values())
                   + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return "" if v is None else str(v)


def _html(s: dict[str, Any], hist_png: str, cand_pngs: list[str]) -> str:
    """The report page from the summary ``s`` and its plots (base64 PNG)."""
    e = html.escape
    files = [{"file": f["path"], "status": f["status"], "source": f["source"],
              "found": f["found"], "added": f["added"], "already": f["already"],
              "not imaged": len(f["skipped"]), "seconds": f["seconds"], "worker": f["worker"]}
             for f in s["per_file"]]
    failed = "".join(f"<li class=bad>{e(f['path'])}: {e(f['error'])}</li>" for f in s["failed"])
    model = s["model"]
    promoted = ("a new model was <b>promoted</b>" if model["promoted"] else
                "no new model was promoted")
    imgs = "".join(f'<p><img alt="candidate" src="data:image/png;base64,{p}"></p>'
                   for p in cand_pngs)
    vol = {k: v for k, v in s["volunteers"].items() if k != "consensus"}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>frbtriage nightly {e(s['started'][:10])}</title>
<style>{_STYLE}</style></head><body>
<h1>frbtriage nightly report</h1>
<p>Workspace <code>{e(s['workspace'])}</code>, inbox <code>{e(s['inbox'])}</code>;
run {e(s['started'])} to {e(str(s['finished']))}, {e(s['executor'])};
exit code {s['exit_code']}.</p>
<h2>Files</h2>
<p>{s['files']['processed']} processed, {s['files']['known']} already known (same content),
{s['files']['unchanged']} unchanged since an earlier run, <span class=bad>{s['files']['failed']}
failed</span>.</p>
{f'<ul>{failed}</ul>' if failed else ''}
{_table(files)}
<h2>Candidates</h2>
<p>{s['candidates']['added']} added, {s['candidates']['in_workspace']} in the workspace,
{s['candidates']['newly_scored']} newly scored. Queue: {e(s['queue'])}</p>
<p><img alt="p_astro histogram" src="data:image/png;base64,{hist_png}"></p>
<h3>Best new candidates</h3>
{_table(s['top_candidates'])}
{imgs}
<h2>Volunteers</h2>
{_table([vol]) if vol else '<p>none</p>'}
<p>{e(s['volunteers'].get('consensus') or 'no votes yet')}</p>
<h2>Model</h2>
<p>Live model <code>{e(str(model['live']))}</code>; {promoted}. Retraining:
{e(model['retrain'])}</p>
{_table([{'metric': k, 'value': v} for k, v in model['metrics'].items()])}
<h2>Timings (s)</h2>
{_table([s['timings_s']])}
</body></html>
"""
