"""``frbtriage.safe_write``: a writer that fails or is killed mid-write leaves the old file
intact, makes no final file where there was none, and (on an exception) no temporary one."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from frbtriage.safe_write import replacing, write_bytes, write_text


def test_write_replaces_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    assert write_text(target, "one\r\n") == target
    write_bytes(target, b"two\n")
    assert target.read_bytes() == b"two\n"
    assert os.listdir(tmp_path) == ["a.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask, "as a plain open() makes it"
    write_text(target, "x\r\n")
    assert target.read_bytes() == b"x\r\n", "no newline translation"


def test_temporary_names_are_unique_and_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "a.h5"
    with replacing(target) as t1, replacing(target) as t2:
        assert t1 != t2 and t1.parent == t2.parent == tmp_path
        assert t1.name.startswith(".a.h5.") and t1.suffix == ".tmp"
        t1.write_text("first")
        t2.write_text("second")
    assert target.read_text() == "first", "the writer that finishes last wins, whole"
    assert os.listdir(tmp_path) == ["a.h5"]


@pytest.mark.parametrize("existed", [True, False])
def test_exception_mid_write_keeps_old_file(tmp_path: Path, existed: bool) -> None:
    target = tmp_path / "model.json"
    if existed:
        target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"), replacing(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("disk on fire")
    assert sorted(os.listdir(tmp_path)) == (["model.json"] if existed else [])
    if existed:
        assert target.read_text() == "old"


_KILLED_WRITER = """
import sys, time
from frbtriage.safe_write import replacing
with replacing(sys.argv[1]) as tmp:
    with open(tmp, "w") as fh:
        fh.write("half of the new")
        fh.flush()
        print(tmp, flush=True)
        time.sleep(60)
"""


@pytest.mark.parametrize("existed", [True, False])
def test_sigkill_mid_write_keeps_old_file(tmp_path: Path, existed: bool) -> None:
    target = tmp_path / "ranked.csv"
    if existed:
        target.write_text("old")
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                            stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(proc.stdout.readline().strip())  # the writer is now mid-write
        assert tmp.read_text() == "half of the new"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    if existed:
        assert target.read_text() == "old"
    else:
        assert not target.exists()
    # only the hidden temporary file is left, under a name nothing reads
    assert sorted(os.listdir(tmp_path)) == sorted([tmp.name] + (["ranked.csv"] if existed else []))
