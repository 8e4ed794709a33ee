"""``frbtriage.model.pipeline``: train -> calibrate -> evaluate -> save from Python."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from frbtriage.errors import InputError
from frbtriage.model.config import load_model
from frbtriage.model.pipeline import PipelineConfig, train_pipeline


@pytest.mark.parametrize("bad", [{"simulate": -1}, {"epochs": 0}, {"lr": 0.0},
                                 {"threads": 0}, {"input_size": 30},
                                 {"families": ("peryton", "microwave_oven")},
                                 {"families": ("peryton",), "family_rate": 0.0},
                                 {"telescopes": ("arecibo",)}])
def test_bad_config_refused_before_anything_is_made(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(InputError):
        train_pipeline(tmp_path / "ws", tmp_path / "model", PipelineConfig(**bad),
                       command="test")
    assert not list(tmp_path.iterdir())


def test_default_zoom_follows_input_size() -> None:
    assert PipelineConfig().architecture().zoom == 32
    assert PipelineConfig(input_size=64).architecture().zoom == 64
    assert PipelineConfig(input_size=64, zoom=0).architecture().zoom == 0


def test_families_go_where_labels_stay_true() -> None:
    """Burst morphologies join the burst-rich mixes and interference families the
    burst-free ones (a label-0 window must hold no burst); their simulations get a folder
    prefix of their own, so a workspace never resumes plain ones as if they held them."""
    plain = PipelineConfig()
    cfg = PipelineConfig(families=("peryton", "scattered", "chirp_linear"), family_rate=4.0)
    assert len(cfg.mixes()) == len(plain.mixes())
    for mix, base in zip(cfg.mixes(), plain.mixes(), strict=True):
        burst_free = base.get("n_bursts") == 0
        want = ("peryton", "chirp_linear") if burst_free else ("scattered",)
        assert mix == {**base, "families": want, "family_rate": 4.0}
    assert plain.sim_tag() == "train"
    assert cfg.sim_tag().startswith("train-families-") and cfg.sim_tag() != PipelineConfig(
        families=("peryton",)).sim_tag()


def test_telescopes_repeat_every_mix_on_their_grid() -> None:
    """CHIME's mixes first, then each on every other telescope's grid (same channel counts,
    rates and families); the simulations' folder prefix names the telescopes too, while the
    families-only prefix stays what it was (workspaces made with it still resume)."""
    fams = PipelineConfig(families=("peryton",))
    cfg = PipelineConfig(families=("peryton",), telescopes=("parkes_uwl", "askap"))
    base = fams.mixes()
    assert cfg.mixes() == base + tuple({**m, "telescope": t} for t in ("parkes_uwl", "askap")
                                       for m in base)
    assert cfg.sim_tag().startswith("train-telescopes-") and cfg.sim_tag() != fams.sim_tag()
    assert fams.sim_tag() == "train-families-" + hashlib.sha256(b"['peryton'] 10").hexdigest()[:8]


def same(a: object, b: object) -> bool:
    """Equal as JSON (NaN metrics included)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.slow
def test_pipeline_from_python(tmp_path: Path) -> None:
    lines: list[str] = []
    cfg = PipelineConfig(simulate=2, sim_minutes=0.25, eval_simulate=1, epochs=1,
                         members=2, input_size=64, threads=1)
    result = train_pipeline(tmp_path / "ws", tmp_path / "model", cfg,
                            command="notebook: test_pipeline", progress=lines.append)
    assert len(lines) == 3, "one line per simulated observation (2 training, 1 unseen)"
    model = load_model(result.out_dir)
    assert model.version == result.config.version
    assert model.config.training["command"] == "notebook: test_pipeline"
    assert same(model.config.metrics["unseen_simulation"], result.unseen)
    ev = json.loads((result.out_dir / "evaluation.json").read_text())
    assert same(ev["metrics"], {"held_out": result.held_out, "unseen_simulation": result.unseen})
    assert not [p.name for p in result.out_dir.iterdir() if p.name.startswith(".")], \
        "no temporary files left"
    assert result.workspace == (tmp_path / "ws").resolve()
