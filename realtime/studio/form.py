"""The Swap tab's choices as the pipeline options every CLI takes: :func:`pipeline_argv` writes the command line
``realtime.swap`` would get, and :func:`realtime.options.parse_pipeline_options` checks it, so the studio and the
CLIs share one set of options, checks and messages. The choices offered come from those options too."""

from __future__ import annotations

from dataclasses import dataclass

from realtime.blend import BLEND_MODES
from realtime.errors import InputError
from realtime.models.store import ModelStore
from realtime.processors.enhancer import ENHANCERS
from realtime.processors.masks import MASKS
from realtime.studio.workspace import Session
from realtime.swappers.factory import SWAPPERS

__all__ = ["BLENDS", "ENHANCERS", "MASKS", "SWAPPERS", "SwapChoices", "model_choices", "pipeline_argv"]

BLENDS = ("auto", *BLEND_MODES)
AUTO_MODEL = "auto (best installed)"


@dataclass(frozen=True)
class SwapChoices:
    """What the options panel says: ``swapper`` (one of SWAPPERS), ``model`` (an installed swapper model's name,
    or AUTO_MODEL), ``enhancer`` (one of ENHANCERS), ``masks`` (some of MASKS; none: the swapper's default),
    ``blend`` (one of BLENDS), landmark ``smoothing`` (>= 0), ``detect_every`` (frames, >= 1), ``watermark_id``
    (0 .. 2**32-1)."""

    swapper: str = "auto"
    model: str = AUTO_MODEL
    enhancer: str = "none"
    masks: tuple[str, ...] = ()
    blend: str = "auto"
    smoothing: float = 1.0
    detect_every: int = 5
    watermark_id: int = 0


def model_choices(store: ModelStore) -> tuple[list[str], list[str]]:
    """(installed swapper model names, with AUTO_MODEL first; fetch commands of the swapper models not
    installed)."""
    installed = [entry.name for entry, _ in store.installed("swapper")]
    missing = [f"python -m realtime.models fetch {e.name}" for e in store.entries()
               if e.kind == "swapper" and e.name not in installed]  # fmt: skip
    return [AUTO_MODEL, *installed], missing


def pipeline_argv(session: Session, choices: SwapChoices) -> list[str]:
    """The pipeline options for the session's sources, people map and ``choices``. With no person mapped, every
    face gets the first source (or the one person all sources show); with some mapped, those get theirs and
    everyone else is kept or gets ``session.unmapped``. InputError when no source was uploaded."""
    argv: list[str] = []
    if not session.sources:
        raise InputError("upload a source face first")
    if session.mapping and session.people is not None:
        argv += ["--people", str(session.people_dir / "people.json")]
        for person, source in sorted(session.mapping.items()):
            argv += ["--map", f"{person}={session.source_argument(source)}"]
        if session.unmapped is None:
            argv += ["--unmapped", "keep"]
        else:
            argv += ["--unmapped", "swap-with", str(session.source_argument(session.unmapped))]
    else:
        argv += ["--source", str(session.source_argument())]
    argv += ["--swapper", choices.swapper]
    if choices.model != AUTO_MODEL:
        argv += ["--model", choices.model]
    argv += ["--enhancer", choices.enhancer, "--mask", ",".join(choices.masks) or "auto", "--blend", choices.blend]
    argv += ["--smoothing", f"{choices.smoothing:g}", "--detect-every", str(int(choices.detect_every))]
    argv += ["--watermark-id", str(int(choices.watermark_id))]
    return argv
