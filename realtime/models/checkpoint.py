"""Generator checkpoints: our format (config + weights) and the official SimSwap generator files.

Everything a user hands in is opened with ``torch.load(weights_only=True)``, which cannot run code. A file that
needs full unpickling (a whole pickled module, like SimSwap's ``arcface_checkpoint.tar``) is refused unless the
caller passes ``trust_pickle=True`` (``--trust-pickle`` on the command line): unpickling runs code from the file.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from realtime.errors import InputError, UsageError
from realtime.io.files import TempOutput, file_sha256
from realtime.models.generator import GeneratorConfig, SwapGenerator

__all__ = ["FORMAT", "load_generator", "load_state", "recorded_identity_model", "save_generator", "save_state"]

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
    foreign files, and for pickled objects unless ``trust_pickle`` (then the object itself, e.g. a whole module).

    Whether a refused file is a pickled object is read from the file itself (the globals its pickle would import,
    without running it), not from torch's error wording, which changes between torch versions; and torch's advice
    to load with ``weights_only=False`` is never passed on."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model file not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"model file is empty (0 bytes): {p}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it then refuses anyway: noise here
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        imports = _unsafe_imports(p)
        if not imports:
            raise InputError(f"cannot read model file {p}: not a PyTorch file or truncated ({_reason(exc)})") from exc
        if not trust_pickle:
            raise InputError(
                f"{p} is a pickled Python object (it imports {', '.join(imports[:3])}), not plain weights; loading "
                "it would run code from the file. Pass --trust-pickle only if you trust where it came from"
            ) from exc
    return torch.load(p, map_location="cpu", weights_only=False)


# What a plain-weights pickle may import (torch's tensor rebuilders, storages and dtypes, and the dict class
# state_dict() returns); anything else means the file holds Python objects.
_WEIGHTS_MODULES = ("torch",)
_WEIGHTS_GLOBALS = {("collections", "OrderedDict"), ("_codecs", "encode")}


def _unsafe_imports(path: Path) -> list[str]:
    """The globals ("module.name") the file's pickle would import beyond plain weights, read without unpickling;
    [] when it imports none or is no pickle at all (damaged, truncated, another format)."""
    if zipfile.is_zipfile(path):  # torch.save's format: the pickle is <archive>/data.pkl
        try:
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
                data = archive.read(name) if name else b""
        except (zipfile.BadZipFile, OSError, EOFError):
            return []
    else:  # torch's legacy format, or a plain pickle
        data = path.read_bytes()
    found = [f"{module}.{name}" for module, name in _pickle_globals(data)
             if not module.startswith(_WEIGHTS_MODULES) and (module, name) not in _WEIGHTS_GLOBALS]  # fmt: skip
    return list(dict.fromkeys(found))


def _pickle_globals(data: bytes) -> list[tuple[str, str]]:
    """(module, name) of every GLOBAL and STACK_GLOBAL in the pickle stream(s) at the start of ``data``, found by
    walking its opcodes (pickletools never executes them); stops quietly where the data stops being a pickle."""
    found: list[tuple[str, str]] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        strings: list[str] = []  # recent string operands (STACK_GLOBAL takes the last two)
        memo: dict[int, object] = {}
        last: object = None
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL":
                    module, _, name = str(arg).partition(" ")
                    found.append((module, name))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append((strings[-2], strings[-1]))
                elif isinstance(arg, str) and "UNICODE" in opcode.name:
                    strings.append(arg)
                elif opcode.name in ("BINGET", "LONG_BINGET", "GET") and isinstance(memo.get(arg), str):  # type: ignore[arg-type]
                    strings.append(str(memo[arg]))  # type: ignore[index]
                if opcode.name == "MEMOIZE":
                    memo[len(memo)] = last
                elif opcode.name in ("BINPUT", "LONG_BINPUT", "PUT"):
                    memo[int(arg)] = last  # type: ignore[arg-type]
                last = arg if isinstance(arg, str) else None
        except (ValueError, EOFError, IndexError, KeyError, TypeError):
            break  # not (or no longer) a pickle: what was found so far stands
        if stream.tell() == 0:
            break
    return found


def _reason(exc: BaseException) -> str:
    """A short reason from torch's error, without its advice to load with weights_only=False (unsafe here)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [
        line for line in lines
        if not line.startswith(("Weights only load failed", "Please file an issue", "Check the documentation"))
        and "weights_only" not in line
    ]  # fmt: skip
    return (useful[0] if useful else type(exc).__name__)[:200]


def simswap_variant(path: Path) -> str:
    """Which SimSwap generator a state-dict file is, as far as the files beside it tell: ``trainpy`` when SimSwap's
    current train.py wrote it (it saves ``<step>_optim_G.pth`` beside each ``<step>_net_G.pth``; the released
    downloads carry no optimiser state), else ``released``. The weights themselves cannot tell."""
    prefix = path.name.removesuffix("_net_G.pth")
    return "trainpy" if prefix != path.name and (path.parent / f"{prefix}_optim_G.pth").exists() else "released"


def official_config(state: dict[str, torch.Tensor], variant: str = "released") -> GeneratorConfig:
    """The :class:`GeneratorConfig` an official SimSwap generator state dict was built with, and its crop;
    ``variant`` (see :class:`GeneratorConfig`) is how it was trained."""
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
        variant=variant,
    )


def load_generator(path: str | os.PathLike[str], trust_pickle: bool = False, variant: str = "auto") -> SwapGenerator:
    """A :class:`SwapGenerator` in eval mode from our checkpoint format or an official SimSwap generator file
    (``latest_net_G.pth``, ``550000_net_G.pth``, or ``<step>_net_G.pth`` from SimSwap's train.py); InputError for
    anything else or for mismatched weights. ``variant`` says how a SimSwap file was trained ("released",
    "trainpy"; "auto": :func:`simswap_variant`); our own checkpoints record theirs."""
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
        config = official_config(weights, simswap_variant(Path(path)) if variant == "auto" else variant)
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


def recorded_identity_model(model: Path) -> Path:
    """The identity model training.train recorded in the generator checkpoint ``model``: at its recorded path, or,
    when that is gone (another machine, a moved run), a file of the same name beside the checkpoint, in its run
    folder or in the current folder, whose hash matches. UsageError when the checkpoint records none; InputError
    naming the file and its hash when no match is found, or when the file found is not the one trained with."""
    try:
        state = load_state(model, trust_pickle=False) if model.suffix != ".onnx" and model.is_file() else None
    except InputError:  # not our checkpoint (a pickled or foreign file): it records nothing; loading it says why
        state = None
    training = state.get("training") if isinstance(state, dict) else None
    recorded = str(training.get("identity_model") or "") if isinstance(training, dict) else ""
    if not recorded:
        raise UsageError(
            "a generator needs the identity model it was trained with: --identity-model FILE (the "
            "checkpoint does not record one)"
        )
    assert isinstance(training, dict)
    digest = str(training.get("identity_sha256") or "")
    name = Path(recorded).name
    candidates = [Path(recorded), model.parent / name, model.parent.parent / name, Path.cwd() / name]
    for candidate in dict.fromkeys(candidates):
        if not candidate.is_file():
            continue
        if digest and file_sha256(candidate) != digest:
            if candidate == Path(recorded):
                raise InputError(
                    f"{candidate} has changed since the generator was trained with it (sha256 differs); pass "
                    "--identity-model FILE to evaluate with it anyway"
                )
            continue
        return candidate
    known = f" (sha256 {digest[:16]}...)" if digest else ""
    raise InputError(
        f"the generator was trained with {recorded}{known}, which is not there (nor beside the checkpoint or "
        "here); pass --identity-model FILE"
    )
