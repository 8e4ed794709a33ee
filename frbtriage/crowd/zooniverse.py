"""Zooniverse interop: candidates out as a subject set, classifications back in as votes.

For teams that host their volunteers on Zooniverse (as CHIME/FRB's *Bursts from Space*
did) rather than in our app. :func:`export_zooniverse` writes one PNG per candidate
(:func:`frbtriage.plots.candidate_figure`) and a subject manifest; the project's
classification export comes back through
``frbtriage.crowd.imports.import_votes(..., zooniverse=True)``, which reads it with
:func:`subject_metadata`, :func:`volunteer_name`, :func:`parse_time` and
:func:`classification_seconds` from here.

What is known of the formats (sources checked in the search corpus):

* **Subject manifest** (help.zooniverse.org/getting-started/example, "What is a manifest?";
  zooniverse/help ``docs/transcription-project-guide/project-data.md`` §2.3.2.2): a CSV with
  a header row and one row per subject; the first column holds the image file name (the
  Project Builder's uploader matches it to the uploaded files, and a name in the manifest
  without its file, or a file without its row, is an error). Other columns are metadata.
  A header starting with ``#`` or ``//`` is never shown to volunteers but is returned in the
  classification export; ``!`` hides it while classifying but shows it in Talk; ``%`` marks
  an indexed field (panoptes-cli ``subject_set.py`` strips it and records the set's
  ``indexFields``). Each subject set gets its own manifest. Zooniverse limits each image to
  1 MB (project-data.md §2.1.1.3; panoptes-cli ``MAX_UPLOAD_FILE_SIZE = 1024 * 1024``);
  the web uploader is meant for batches of up to 1,000 subjects, the CLI for more.
* **Uploaders**: ``panoptes subject-set upload-subjects SET_ID manifest.csv``
  (zooniverse/panoptes-cli) reads the manifest with ``csv.reader(skipinitialspace=True)``,
  images relative to the manifest's folder, and stores every column (prefix included) as
  subject metadata; without ``--file-column`` it *auto-detects* file columns as those whose
  value in the first row names an existing file. Our hidden ``#file`` column holds the
  absolute path of the data file, which exists on the exporting host, so upload with
  ``--file-column 1`` (``-f 1``). With panoptes_client (zooniverse/panoptes-python-client
  ``subject.py``): ``s = Subject(); s.links.project = project;
  s.add_location(path_to_png); s.metadata.update(row); s.save(); subject_set.add(s)``
  (``add_location`` takes a path, an open file or ``{mime type: url}``).
* **Classification export** (help.zooniverse.org/next-steps/data-exports): one row per
  classification with ``classification_id, user_name, user_id, user_ip, workflow_id,
  workflow_name, workflow_version, created_at, gold_standard, expert, metadata,
  annotations, subject_data, subject_ids``. ``user_name`` of a volunteer who was not
  logged in is ``not-logged-in-<hash of the IP address>``; ``created_at`` is UTC (written
  ``2019-07-02 15:05:31 UTC``); ``metadata`` is JSON with, among others, ``started_at`` and
  ``finished_at``; ``subject_data`` is JSON ``{"<subject_id>": {<the subject's metadata,
  manifest headers as keys>, "retired": ...}}``; ``annotations`` is read by
  :func:`frbtriage.crowd.answers.parse_zooniverse_annotations`.

The manifest written here (:data:`MANIFEST_COLUMNS`): ``image`` (the PNG's name) first, then
``#candidate_id``, ``#file``, ``#stime``, ``#dm``, ``#width``, ``#snr``, all hidden: the
candidate's S/N, DM and width could bias a volunteer, and the data path is of no use to
them. ``stime`` (s) and ``dm`` (pc cm^-3) are written exactly (``repr``), ``width`` as log2
of samples like your/FETCH lists. Reading ``subject_data`` back, any of the prefixes is
dropped, so subjects uploaded with visible ``candidate_id`` (or ``file``, ``stime``, ``dm``)
columns are read too.

Files are written to a temporary name beside the target and renamed, the manifest last, so
it never names an image that is not complete; re-running the export rewrites the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from frbtriage import db
from frbtriage.errors import InputError
from frbtriage.io.candidates import log2_text
from frbtriage.safe_write import write_bytes

if TYPE_CHECKING:
    from frbtriage.workspace import Workspace

__all__ = [
    "HIDDEN",
    "IMAGE_COLUMN",
    "MANIFEST_COLUMNS",
    "MANIFEST_NAME",
    "MAX_IMAGE_BYTES",
    "METADATA_FIELDS",
    "VOLUNTEER_PREFIX",
    "ZooniverseExport",
    "classification_seconds",
    "export_zooniverse",
    "field_name",
    "image_name",
    "parse_time",
    "subject_metadata",
    "volunteer_name",
]

MANIFEST_NAME = "manifest.csv"
#: The manifest's first column: the image file name.
IMAGE_COLUMN = "image"
#: Candidate metadata carried by each subject, in manifest order.
METADATA_FIELDS = ("candidate_id", "file", "stime", "dm", "width", "snr")
#: Prefix of a metadata header that Zooniverse never shows to volunteers.
HIDDEN = "#"
MANIFEST_COLUMNS = (IMAGE_COLUMN, *(HIDDEN + f for f in METADATA_FIELDS))
#: Zooniverse's limit on one subject image, bytes.
MAX_IMAGE_BYTES = 1024 * 1024
#: Prefixes Zooniverse reads in metadata headers: hidden (``#``, ``//``), hidden while
#: classifying (``!``), indexed (``%``).
_FIELD_PREFIXES = ("#", "//", "!", "%")
#: Prefix of the volunteers made from Zooniverse user names, so that they never merge with
#: people who vote in our app under the same name.
VOLUNTEER_PREFIX = "zooniverse:"


@dataclass
class ZooniverseExport:
    """What :func:`export_zooniverse` wrote: the ``manifest`` and the ``images`` (one per
    candidate, in manifest order), all in ``out_dir``."""

    out_dir: Path
    manifest: Path
    images: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{len(self.images)} subject image(s) and their manifest {self.manifest.name} "
                f"in {self.out_dir}")


# --------------------------------------------------------------------------- export


def image_name(candidate_id: int) -> str:
    """File name of candidate ``candidate_id``'s subject image."""
    return f"candidate_{int(candidate_id)}.png"


def _manifest_row(rec: db.CandidateRecord) -> list[str]:
    return [image_name(rec.id), str(rec.id), rec.file, repr(float(rec.tcand)),
            repr(float(rec.dm)), log2_text(rec.width), repr(float(rec.snr))]


def _open_queue(ws: Workspace) -> list[db.CandidateRecord]:
    q = (select(db.CandidateRecord)
         .join(db.QueueRecord, db.QueueRecord.candidate_id == db.CandidateRecord.id)
         .where(db.QueueRecord.retired.is_(False)).order_by(db.CandidateRecord.id))
    with ws.session() as s:
        return list(s.scalars(q))


def export_zooniverse(ws: Workspace, out_dir: str | os.PathLike[str], *,
                      queue_only: bool = False, progress: bool = False,
                      batch_size: int = 64) -> ZooniverseExport:
    """Write the workspace's candidates (all, or with ``queue_only`` the open entries of the
    volunteer queue) into ``out_dir`` (created if missing) as a Zooniverse subject set: one
    PNG per candidate (:func:`image_name`; about 0.4 MB each, below
    :data:`MAX_IMAGE_BYTES`) and :data:`MANIFEST_NAME` (see the module docstring).

    Images are read ``batch_size`` candidates at a time. :class:`InputError` when
    ``out_dir`` is a file or there is no candidate to export.
    """
    from tqdm import tqdm

    from frbtriage.plots import candidate_figure, figure_png

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder")
    recs = _open_queue(ws) if queue_only else ws.candidates()
    if not recs:
        raise InputError(ws.path, "no open candidates in the volunteer queue to export"
                         if queue_only else "the workspace holds no candidates to export")
    out.mkdir(parents=True, exist_ok=True)
    result = ZooniverseExport(out_dir=out, manifest=out / MANIFEST_NAME)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    with tqdm(total=len(recs), unit="cand", desc="export-zooniverse",
              disable=not progress) as bar:
        for lo in range(0, len(recs), batch_size):
            part = recs[lo:lo + batch_size]
            fts, dmts = ws.images([r.row for r in part])
            for rec, ft, dmt in zip(part, fts, dmts, strict=True):
                path = out / image_name(rec.id)
                write_bytes(path, figure_png(candidate_figure(ft, dmt)))
                result.images.append(path)
                writer.writerow(_manifest_row(rec))
                bar.update()
    write_bytes(result.manifest, text.getvalue().encode("utf-8"))
    return result


# --------------------------------------------------------------------------- classifications


def field_name(header: str) -> str:
    """A metadata header without the prefix that hides or indexes it (``#``, ``//``, ``!``,
    ``%``): ``"#candidate_id"`` -> ``"candidate_id"``."""
    for prefix in _FIELD_PREFIXES:
        if header.startswith(prefix):
            return header[len(prefix):]
    return header


def subject_metadata(subject_data: str, subject_id: str = "") -> dict[str, str]:
    """The metadata of the classified subject from a classification's ``subject_data``
    JSON, keys without prefixes (:func:`field_name`), values as text.

    ``subject_id`` (the row's ``subject_ids``) picks the entry; without it the blob must
    hold exactly one subject. :class:`InputError` (no path) for anything else.
    """
    try:
        blob = json.loads(subject_data)
    except (json.JSONDecodeError, TypeError, RecursionError) as e:
        raise InputError(None, f"subject_data is not JSON: {e}") from None
    if not isinstance(blob, dict) or not blob:
        raise InputError(None, "subject_data must be a JSON object {subject id: metadata}")
    key = subject_id.strip()
    if key in blob:
        meta = blob[key]
    elif len(blob) == 1:
        meta = next(iter(blob.values()))
    else:
        raise InputError(None, f"subject_data holds {len(blob)} subjects and none is "
                               f"subject {key!r}")
    if not isinstance(meta, dict):
        raise InputError(None, "a subject's metadata in subject_data must be a JSON object")
    return {field_name(str(k)): "" if v is None else str(v) for k, v in meta.items()}


def volunteer_name(user_name: str) -> str:
    """Our volunteer name for a Zooniverse ``user_name``: ``zooniverse:<user_name>``; a
    volunteer who was not logged in (``not-logged-in-<hash>``) is one volunteer per hash."""
    name = user_name.strip()
    if not name:
        raise InputError(None, "empty user_name")
    return VOLUNTEER_PREFIX + name


def parse_time(text: str) -> dt.datetime:
    """A UTC time from ISO 8601 text (``2019-07-02T15:05:31Z``, ``...+02:00``) or the
    export's ``2019-07-02 15:05:31 UTC``; a time without zone is UTC."""
    t = text.strip()
    if t.endswith(" UTC"):
        t = t[:-4]
    try:
        return db.as_utc(dt.datetime.fromisoformat(t))
    except ValueError:
        raise InputError(None, f"{text!r} is not an ISO 8601 time") from None


def classification_seconds(metadata: str) -> float | None:
    """Seconds the volunteer took (``finished_at - started_at`` of a classification's
    ``metadata`` JSON), or None when they are missing, unreadable or not a duration a vote
    may hold (:func:`frbtriage.crowd.votes.submit_vote`'s rule): the duration is a detail,
    never a reason to drop a classification."""
    from frbtriage.crowd.votes import check_seconds

    try:
        meta = json.loads(metadata)
        start, end = meta["started_at"], meta["finished_at"]
        took = (parse_time(end) - parse_time(start)).total_seconds()
        return check_seconds(took, None)
    except (json.JSONDecodeError, RecursionError, TypeError, KeyError, AttributeError,
            InputError):
        return None
