"""Generator checkpoints: our format (config + weights) and the official SimSwap generator files.

Everything a user hands in is opened with ``torch.load(weights_only=True)``, which cannot run code. A file that
needs full unpickling (a whole pickled module, like SimSwap's ``arcface_checkpoint.tar``) is refused unless the
caller passes ``trust_pickle=True`` (``--trust-pickle`` on the command line): unpickling runs code from the file.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from realtime.errors import InputError
from realtime.io.files import TempOutput
from realtime.models.generator import GeneratorConfig, SwapGenerator

__all__ = ["FORMAT", "load_generator", "load_state", "save_generator", "save_state"]

FORMAT = "realtime-generator"
FORMAT_VERSION = 1


def save_generator(path: str | os.PathLike[str], model: SwapGenerator, **extra: Any) -> Path:
    """Write ``model`` (config + weights, plus any ``extra`` plain data such as the training step) to ``path``
    through a temporary file; loadable with ``weights_only=True``. A generator in progressive training is saved as
    the model it currently is: its active identity blocks only."""
    active = model.active_id_blocks
    config = dict(model.config.to_dict(), id_blocks=active)
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "config": config}
    payload["state_dict"] = {
        k: v.detach().cpu()
        for k, v in model.state_dict().items()
        if not (k.startswith("BottleNeck.") and int(k.split(".")[1]) >= active)
    }
    payload.update(extra)
    return save_state(payload, path)


def save_state(state: object, path: str | os.PathLike[str]) -> Path:
    """``torch.save(state)`` to ``path`` through a temporary file renamed when complete. Written through a Python
    file object, so a full disk surfaces as the OSError it is (torch's own file writer only says "iostream error")
    and becomes a one-line OutputError naming ``path``."""
    with TempOutput(path) as temp, open(temp, "wb") as file:
        torch.save(state, file)
    return Path(path)


def load_state(path: str | os.PathLike[str], trust_pickle: bool = False) -> Any:
    """``torch.load`` of a user's file on the CPU, safely; InputError (one line) for missing, empty, truncated or
    foreign files, and for pickled objects unless ``trust_pickle`` (then the object itself, e.g. a whole module)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"model file is empty (0 bytes): {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):  # anything else is a damaged or foreign file, not an object
            raise InputError(
                f"cannot read model file {p}: not a PyTorch file or truncated ({_first_line(exc)})"
            ) from exc
        if not trust_pickle:
            raise InputError(
                f"{p} is a pickled Python object, not plain weights; loading it would run code from the file. "
                "Pass --trust-pickle only if you trust where it came from"
            ) from exc
        state = torch.load(p, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise InputError(f"cannot read model file {p}: not a PyTorch file or truncated ({_first_line(exc)})") from exc
    return state


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def official_config(state: dict[str, torch.Tensor]) -> GeneratorConfig:
    """The :class:`GeneratorConfig` an official SimSwap generator state dict was built with, and its crop."""
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"BottleNeck\.(\d+)\.", k))}
    stem = state["first_layer.1.weight"].shape[0]
    big = "down0.0.weight" in state
    return GeneratorConfig(
        resolution=512 if big else 224,
        id_blocks=len(blocks),
        latent_dim=state["BottleNeck.0.style1.linear.weight"].shape[1],
        width=stem * 2 if big else stem,
        deep="down4.0.weight" in state,
        crop="ffhq" if big else "simswap",  # SimSwap's own crops: FFHQ at 512, its pose templates at 224
    )


def load_generator(path: str | os.PathLike[str], trust_pickle: bool = False) -> SwapGenerator:
    """A :class:`SwapGenerator` in eval mode from our checkpoint format or an official SimSwap generator file
    (``latest_net_G.pth``, ``550000_net_G.pth``); InputError for anything else or for mismatched weights."""
    state = load_state(path, trust_pickle)
    if isinstance(state, SwapGenerator):  # a trusted pickle of our own module keeps its config
        return state.eval()
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and state.get("format") == FORMAT:
        if state.get("version") != FORMAT_VERSION:
            raise InputError(f"{path}: checkpoint format version {state.get('version')} is not supported")
        try:
            config = GeneratorConfig(**state["config"])
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: invalid generator config ({exc})") from exc
        weights = state["state_dict"]
    elif isinstance(state, dict) and "first_layer.1.weight" in state and "BottleNeck.0.style1.linear.weight" in state:
        weights = {k.removeprefix("module."): v for k, v in state.items()}
        config = official_config(weights)
    else:
        raise InputError(f"{path} is not a generator checkpoint (neither realtime's format nor SimSwap's)")
    model = SwapGenerator(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    wrong = [k for k in expected if k in weights and tuple(weights[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(
            f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if keys
        )
        raise InputError(f"{path} does not match the generator it describes ({detail})")
    model.load_state_dict(weights)
    return model.eval()
