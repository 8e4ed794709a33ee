"""The CLI's contract: --version, --help on every verb, one error line and exit 2 for bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest

from frbtriage import __version__, cli


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize("verb", sorted(cli._verb_modules()))
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: frbtriage " + verb in capsys.readouterr().out


def test_kernels_and_ui_are_not_top_level_names() -> None:
    code = "import importlib.util as u; print(u.find_spec('kernels'), u.find_spec('ui'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd="/", check=True).stdout
    assert out.strip() == "None None"


# ---------------------------------------------------------------- bad data through the verbs


def _bad_fil(kind: str, src, dst) -> str:
    """A copy of ``src`` damaged as ``kind``; returns what the error line must mention."""
    raw = bytearray(src.read_bytes())
    if kind == "missing":
        return "file not found"
    if kind == "truncated":
        dst.write_bytes(bytes(raw[:-100]))
        return "truncated"
    if kind == "no_header_end":
        dst.write_bytes(bytes(raw[: raw.index(b"HEADER_END") - 4]))  # cut before it
        return "HEADER_END"
    if kind == "nbits4":
        i = raw.index(b"nbits") + 5
        raw[i : i + 4] = (4).to_bytes(4, "little")
        dst.write_bytes(bytes(raw))
        return "nbits=4"
    raise AssertionError(kind)


BAD_KINDS = ["missing", "truncated", "no_header_end", "nbits4"]


def _one_error_line(err: str, path) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"frbtriage: error: {path}: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("verb", ["prepare", "rank"])
def test_list_pointing_at_bad_data(kind: str, verb: str, samples_dir, tmp_path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A candidate list whose data file is unusable: one line naming the data file, exit 2,
    no workspace and no output left behind."""
    fil = tmp_path / "bad.fil"
    expect = _bad_fil(kind, samples_dir / "chime_sim" / "obs.fil", fil)
    csv = tmp_path / "c.csv"
    csv.write_text("file,snr,stime,width,dm,label,chan_mask_path,num_files\n"
                   f"{fil},9.5,3.2,2,120.0,1,,1\n")
    ws, out = tmp_path / "ws", tmp_path / "ranked.csv"
    argv = (["prepare", "-w", str(ws), "-c", str(csv)] if verb == "prepare"
            else ["rank", str(csv), "-o", str(out), "-w", str(ws)])
    capsys.readouterr()
    assert cli.main(argv) == 2
    line = _one_error_line(capsys.readouterr().err, fil)
    assert expect in line
    assert not ws.exists() and not out.exists()


def test_prepare_nothing_preparable_leaves_no_workspace(samples_dir, tmp_path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """Every candidate outside a readable file: exit 2, the new workspace removed again."""
    fil = samples_dir / "chime_sim" / "obs.fil"
    csv = tmp_path / "c.csv"
    csv.write_text("file,snr,stime,width,dm,label,chan_mask_path,num_files\n"
                   f"{fil},9.5,999.0,2,120.0,1,,1\n")
    ws = tmp_path / "ws"
    assert cli.main(["prepare", "-w", str(ws), "-c", str(csv)]) == 2
    err = capsys.readouterr().err
    assert f"frbtriage: error: {fil}: none of the 1 candidates" in err
    assert "outside the file" in err
    assert not ws.exists()


@pytest.mark.parametrize("target", ["output", "heimdall"])
def test_search_unwritable_output_fails_before_searching(target: str, samples_dir, tmp_path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    fil = samples_dir / "chime_sim" / "obs.fil"
    good, bad = tmp_path / "c.csv", tmp_path / "nodir" / "x"
    argv = ["search", str(fil), "--no-progress", "-o", str(bad if target == "output" else good)]
    if target == "heimdall":
        argv += ["--heimdall", str(bad)]
    assert cli.main(argv) == 2
    _one_error_line(capsys.readouterr().err, bad)
    assert not good.exists() and not bad.parent.exists()


@pytest.mark.parametrize("width", ["inf", "nan", "0"])
def test_search_bad_max_width(width: str, samples_dir, tmp_path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    fil = samples_dir / "chime_sim" / "obs.fil"
    out = tmp_path / "c.csv"
    assert cli.main(["search", str(fil), "--max-width", width, "-o", str(out)]) == 2
    assert "max width" in _one_error_line(capsys.readouterr().err, fil)
    assert not out.exists()
