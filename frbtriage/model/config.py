"""A model on disk: ``weights.safetensors`` + ``config.json`` in one folder.

``config.json`` holds the architecture, the input sizes, the temperature used for
calibration, what the model was trained on, its held-out metrics, and the SHA-256 of the
weights file. Loading never unpickles anything: the weights are read with
``safetensors.torch.load_file``, their digest must match the config, and every tensor
name, shape and dtype must match the architecture; anything else is refused with
:class:`frbtriage.errors.InputError`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from frbtriage.errors import InputError
from frbtriage.model.network import Architecture, EnsembleCNN, expected_state_shapes
from frbtriage.safe_write import write_bytes, write_text

WEIGHTS_NAME = "weights.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "frbtriage-model"
FORMAT_VERSION = 1


@dataclass
class ModelConfig:
    """Everything about a trained model except its weights.

    ``temperature``: logits are divided by it before the sigmoid (fit on a held-out split).
    ``training``: free-form description of the training data and command.
    ``metrics``: held-out evaluation numbers (ROC AUC, ECE, ...).
    ``weights_sha256``: hex digest of ``weights.safetensors``; set by :func:`save_model`.
    """

    architecture: Architecture = field(default_factory=Architecture)
    temperature: float = 1.0
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    weights_sha256: str = ""
    created: str = ""

    @property
    def version(self) -> str:
        """Model version: architecture name + first 12 hex digits of the weights' SHA-256.

        Two models with identical weights share a version; any retraining changes it.
        """
        return f"{self.architecture.name}-{self.weights_sha256[:12]}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what ``config.json`` holds)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "architecture": self.architecture.to_dict(),
            "inputs": {
                "ft": [self.architecture.image_size, self.architecture.image_size],
                "dmt": [self.architecture.image_size, self.architecture.image_size],
                "pooled_to": list(self.architecture.input_shape),
                "zoom_columns": self.architecture.zoom,
                "normalisation": "each image median-subtracted and divided by its std (FETCH)",
            },
            "temperature": self.temperature,
            "training": self.training,
            "metrics": self.metrics,
            "weights_file": WEIGHTS_NAME,
            "weights_sha256": self.weights_sha256,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path) -> ModelConfig:
        """Parse ``config.json`` contents; ``InputError(path, ...)`` if anything is off."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputError(path, f"not an frbtriage model config (no 'format': '{FORMAT}')")
        if d.get("format_version") != FORMAT_VERSION:
            raise InputError(path, f"unsupported model format_version {d.get('format_version')!r}")
        try:
            arch = Architecture.from_dict(d["architecture"])
            temperature = float(d["temperature"])
            sha = str(d["weights_sha256"])
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(path, f"malformed model config: {err!r}") from None
        if not (temperature > 0 and temperature < 1e3):
            raise InputError(path, f"temperature must be positive, got {temperature}")
        if len(sha) != 64:
            raise InputError(path, "weights_sha256 is missing or not a SHA-256 hex digest")
        return cls(
            architecture=arch,
            temperature=temperature,
            training=dict(d.get("training", {})),
            metrics=dict(d.get("metrics", {})),
            weights_sha256=sha,
            created=str(d.get("created", "")),
        )


@dataclass
class LoadedModel:
    """A network in eval mode together with its config."""

    network: EnsembleCNN
    config: ModelConfig
    path: Path

    @property
    def version(self) -> str:
        """See :attr:`ModelConfig.version`."""
        return self.config.version


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``), else CUDA when available.

    Here beside :func:`load_model` rather than in ``model.train``, so that scoring never
    imports the training stack (augmentation, scipy.stats metrics)."""
    if requested:
        dev = torch.device(requested)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError(None, f"--device {requested}: CUDA is not available on this machine")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_model_dir() -> Path:
    """Folder of the model shipped with the package (``frbtriage/model/default``)."""
    return Path(__file__).resolve().parent / "default"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(network: EnsembleCNN, config: ModelConfig,
               directory: str | os.PathLike[str]) -> Path:
    """Write ``weights.safetensors`` and ``config.json`` into ``directory`` (created if needed).

    Both files are written to temporary names and renamed, weights first, so an
    interrupted save never leaves a config pointing at half-written weights.
    Sets ``config.weights_sha256`` and ``config.created``; returns the folder.
    """
    from safetensors.torch import save

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    # one metadata key only: safetensors writes a multi-key metadata map in no fixed order,
    # which would make identical weights hash differently
    data = save(state, metadata={"frbtriage": json.dumps(
        {"format": FORMAT, "architecture": network.arch.to_dict()}, sort_keys=True)})
    write_bytes(out / WEIGHTS_NAME, data)
    config.architecture = network.arch
    config.weights_sha256 = hashlib.sha256(data).hexdigest()
    config.created = config.created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = json.dumps(config.to_dict(), indent=2, sort_keys=False) + "\n"
    write_text(out / CONFIG_NAME, text)
    return out


def update_metrics(directory: str | os.PathLike[str], metrics: dict[str, Any]) -> ModelConfig:
    """Merge ``metrics`` into a saved model's ``config.json`` (weights and version unchanged)."""
    config = load_config(directory)
    config.metrics.update(metrics)
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    write_text(Path(directory) / CONFIG_NAME, text)
    return config


def load_config(directory: str | os.PathLike[str]) -> ModelConfig:
    """Read and validate ``config.json`` in a model folder (weights are not touched)."""
    cfg_path = Path(directory) / CONFIG_NAME
    if not Path(directory).is_dir():
        raise InputError(directory, "model folder does not exist")
    if not cfg_path.is_file():
        raise InputError(cfg_path, "model config.json is missing")
    try:
        d = json.loads(cfg_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(cfg_path, f"model config is not valid JSON ({err})") from None
    return ModelConfig.from_dict(d, cfg_path)


def load_model(
    directory: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu"
) -> LoadedModel:
    """Load a model folder (default: the shipped model) onto ``device``, in eval mode.

    Refuses (``InputError``) a missing or malformed config, a weights file whose SHA-256
    differs from the config (tampered or truncated), a file safetensors cannot parse, and
    tensors whose names, shapes or dtypes do not match the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(directory) if directory is not None else default_model_dir()
    config = load_config(folder)
    wpath = folder / WEIGHTS_NAME
    if not wpath.is_file():
        raise InputError(wpath, "model weights file is missing")
    digest = sha256_file(wpath)
    if digest != config.weights_sha256:
        raise InputError(
            wpath,
            "weights do not match the SHA-256 in config.json (file truncated, corrupted or "
            "tampered with); refusing to load",
        )
    try:
        state = load_file(str(wpath), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(wpath, f"cannot read safetensors weights ({err})") from None
    expected = expected_state_shapes(config.architecture)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise InputError(
            wpath, f"tensor names do not match the architecture (missing {missing[:3]}, "
            f"unexpected {extra[:3]})")
    for name, shape in expected.items():
        t = state[name]
        if tuple(t.shape) != shape:
            raise InputError(wpath, f"tensor {name} has shape {tuple(t.shape)}, expected {shape}")
        want = torch.int64 if name.endswith("num_batches_tracked") else torch.float32
        if t.dtype != want:
            raise InputError(wpath, f"tensor {name} has dtype {t.dtype}, expected {want}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise InputError(wpath, f"tensor {name} contains NaN or infinite values")
    network = EnsembleCNN(config.architecture)
    network.load_state_dict(state, strict=True)
    network.to(device).eval()
    return LoadedModel(network=network, config=config, path=folder)
