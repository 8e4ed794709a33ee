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
