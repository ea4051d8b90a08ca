"""One-shot GPU check: everything CUDA in the project, run once on a lent GPU machine, in one JSON.

On one H100/H200-class GPU with a 16-core host it should finish within 8 minutes:
  gpu        the GPU's name, memory, compute capability, driver (nvidia-smi, torch)
  build      the extension for that GPU's architecture (FORCE_CUDA=1: a CPU-only build is a failure)
  env        python -m realtime.env (the kernels the extension carries)
  ops-tests  tests/ops on every device present: CUDA parity with the references, opcheck, gradcheck;
             tests/test_resident.py: the resident pipeline's warps, masks, paste and watermark against the host's;
             tests/test_build_plan.py: the extension as built there imports libstdc++ (no static copy)
  ops-bench  bench/ops.py --device cuda --write-auto (the CUDA rows of impl="auto"'s table: commit it)
  generator  bench/generator.py at 224 and 512 (CUDA float16/bfloat16 rows)
  overhead   bench/gpu_overhead.py: launches, device time and CUDA Graph replay of the blend and the 224 generator
  pipeline   bench/pipeline.py --device cuda: 720p and 1080p, classic and a random-weight 224 generator
  train      a 30-step bf16 training run (channels_last) on sample data
  pipeline-tests  tests/test_pipeline.py's resident tests on CUDA: whole frames on the GPU against the host path
  chain      bench/chain.py --device cuda: masks and enhancer on host and on GPU-resident results (test models)
Each step runs in its own process with a time limit; a failed step is recorded and the rest still run. The JSON
(bench/results/device-check-<date>-<GPU>.json, or --out) holds each step's command, exit status, seconds, the end
of its output and the result files its benchmark wrote; a summary table is printed at the end.

On this project's lent machine, which reaches no package index, the check runs in two halves inside the calls that
bring bench/device_kit.py's parts: the kernel steps with the first part (every wheel), the steps that need the
embedded face models (pipeline, train-data, train, pipeline-tests, chain) with the last. ``--merge`` keeps the
steps an earlier half recorded in --out; ``--collect DIR`` copies the JSON and the result files into DIR (the
device's $OUT).

Examples:
    python bench/device_check.py --dry-run      # lists the steps, runs the CPU-side parts (as CI does)
    python bench/device_check.py                # on a GPU machine with the requirements installed
    python bench/device_check.py --skip build   # the extension is already built for this GPU
    python bench/device_kit.py build            # the lent machine: prints the calls, each with its --steps

--dry-run runs the steps that need no GPU (the environment report and the training data the train step uses) and
lists the others with their commands, so a GPU session spends its minutes on GPU work only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS_DIR, print_table

PY = sys.executable
OUTPUT_KEPT = 8000  # characters of each step's output the JSON keeps (the end)


@dataclass
class Step:
    """One step: its command (run in the repository root), whether it needs the GPU and the embedded face models,
    its time limit, and the result files it writes (globs under the repository root, matched against files newer
    than its start)."""

    name: str
    command: list[str]
    gpu: bool
    timeout: float
    env: dict[str, str] = field(default_factory=dict)
    results: list[str] = field(default_factory=list)
    face_models: bool = False


def shown(step: Step) -> str:
    """The step's command as a shell line, its environment settings first."""
    return " ".join([*(f"{k}={v}" for k, v in step.env.items()), *step.command])


@dataclass
class Outcome:
    name: str
    command: str
    # "ok", "failed", "timeout", "skipped", "listed" (dry run: not run); while a call runs, "running" and
    # "not reached" (what a call cut off at its limit brings back)
    status: str
    seconds: float = 0.0
    returncode: int | None = None
    output_tail: str = ""
    result_files: list[str] = field(default_factory=list)


def gpu_arch() -> str | None:
    """The visible GPU's compute capability as TORCH_CUDA_ARCH_LIST wants it ("9.0"), or None without a GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return f"{major}.{minor}"


def steps(work: Path) -> list[Step]:
    """The check's steps; ``work`` holds the training data and the run folder."""
    data, arcface = work / "data", work / "arcface.pth"
    arch = gpu_arch() or "9.0"
    info = (
        "import json, torch; p = torch.cuda.get_device_properties(0); print(json.dumps({'name': p.name, "
        "'memory_gib': round(p.total_memory / 2**30, 1), 'capability': f'{p.major}.{p.minor}', "
        "'torch': torch.__version__, 'cuda': torch.version.cuda}))"
    )
    return [
        Step("gpu", [PY, "-c", info], gpu=True, timeout=60),
        # verbose: the end of its output (kept in the JSON) shows the link command and setup.py's libstdc++ check
        Step("build", [PY, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "-e", ".", "-v"], gpu=True,
             timeout=420,
             env={"FORCE_CUDA": "1", "TORCH_CUDA_ARCH_LIST": arch, "MAX_JOBS": str(os.cpu_count() or 4)}),
        Step("env", [PY, "-m", "realtime.env"], gpu=False, timeout=120),
        # every failure as one line (no -x): a first run on new hardware should show all that fails at once
        Step("ops-tests", [PY, "-m", "pytest", "-q", "--tb=line", "-rf", "tests/ops", "tests/test_resident.py",
                           "tests/test_build_plan.py"],
             gpu=True, timeout=240,  # ~20 s on the 2-core CPU; a hung kernel must leave the call time for the rest
             env={"REALTIME_REQUIRE_EXT": "1"}),
        Step("ops-bench", [PY, "bench/ops.py", "--device", "cuda", "--write-auto"], gpu=True, timeout=300,
             results=["bench/results/ops-*.json", "realtime/ops/auto_impl.json"]),
        Step("generator", [PY, "bench/generator.py", "--sizes", "224", "512"], gpu=True, timeout=300,
             results=["bench/results/generator-*.json"]),
        Step("overhead", [PY, "bench/gpu_overhead.py"], gpu=True, timeout=120,
             results=["bench/results/gpu-overhead-*.json"]),
        Step("pipeline", [PY, "bench/pipeline.py", "--device", "cuda", "--seconds", "6", "--rows", "0", "4", "9", "11"],
             gpu=True, timeout=420, results=["bench/results/pipeline-*.json"], face_models=True),
        Step("train-data", [PY, "-c", _TRAIN_DATA, str(work)], gpu=False, timeout=300, face_models=True),
        Step("train", [PY, "-m", "training.train", "--data", str(data), "--identity-model", str(arcface), "--out",
                       str(work / "run"), "--steps", "30", "--amp", "bf16", "--channels-last", "--batch", "8",
                       "--device", "cuda", "--quiet"], gpu=True, timeout=300, face_models=True),
        # whole frames kept on the GPU against the host path: the neural swap, the blends, masks and enhancer, a job
        Step("pipeline-tests", [PY, "-m", "pytest", "-q", "--tb=line", "-rf", "tests/test_pipeline.py", "-k", "device"],
             gpu=True, timeout=240, face_models=True, env={"REALTIME_REQUIRE_EXT": "1"}),
        Step("chain", [PY, "bench/chain.py", "--device", "cuda", "--repeats", "10", "--blocks", "3"], gpu=True,
             timeout=120, results=["bench/results/chain-*.json"], face_models=True),
    ]  # fmt: skip


# sample identity photos prepared into a dataset, and a random-weight ArcFace r18 (the train step's inputs)
_TRAIN_DATA = """
import sys, torch
from pathlib import Path
from realtime.faces.dlib_backend import DlibAnalyzer
from realtime.models.arcface import ARCFACE_ARCHS, IResNet
from training.cleaning import CleaningRules
from training.prepare import prepare
from training.sample_data import write_identity_photos
work = Path(sys.argv[1])
counts = prepare(write_identity_photos(work / "photos"), work / "data", DlibAnalyzer(), rules=CleaningRules(max_roll=0),
                 quiet=True)
torch.manual_seed(0)
torch.save(IResNet(ARCFACE_ARCHS["r18"]).state_dict(), work / "arcface.pth")
print(f"train data: {counts['written']} crops in {work / 'data'}")
"""


def run_step(step: Step) -> Outcome:
    """Run one step in its own process; its outcome (a timeout or failure is recorded, not raised)."""
    start = time.time()
    command = shown(step)
    try:
        done = subprocess.run(step.command, cwd=ROOT, capture_output=True, text=True, timeout=step.timeout,
                              env={**os.environ, **step.env}, check=False)  # fmt: skip
        status = "ok" if done.returncode == 0 else "failed"
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        status, code = "timeout", None
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
    found = sorted({p for pattern in step.results for p in ROOT.glob(pattern) if p.stat().st_mtime >= start})
    files = [str(p.relative_to(ROOT)) for p in found]
    return Outcome(step.name, command, status, time.time() - start, code, output[-OUTPUT_KEPT:], files)


def previous_outcomes(path: Path | None) -> dict[str, Outcome]:
    """The steps an earlier run recorded in ``path`` (none when it does not exist), by name."""
    if path is None or not path.exists():
        return {}
    return {s["name"]: Outcome(**s) for s in json.loads(path.read_text())["steps"]}


def collect(report: Path, outcomes: list[Outcome], into: Path, name: str) -> list[Path]:
    """Copy the report (as ``name``) and every result file the steps wrote that is still there into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    copied = [Path(shutil.copyfile(report, into / name))]
    for result in (ROOT / f for o in outcomes for f in o.result_files):
        if result.exists():
            copied.append(Path(shutil.copyfile(result, into / result.name)))
    return copied


def write_report(outcomes: list[Outcome], out: Path | None, dry_run: bool, collect_into: Path | None) -> Path:
    """Write the JSON (``out``, or bench/results/device-check-<date>-<GPU>.json) and copy it and the result files
    into ``collect_into``; done after every step, so a call cut off at its time limit still brings back the steps
    that finished (those not reached say so)."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    stamp = dt.datetime.now(dt.timezone.utc)
    payload: dict[str, Any] = {
        "benchmark": "device-check",
        "utc": stamp.isoformat(timespec="seconds"),
        "dry_run": dry_run,
        "gpu": gpu,
        "total_s": round(sum(o.seconds for o in outcomes), 1),
        "steps": [asdict(o) for o in outcomes],
    }
    name = f"device-check-{stamp:%Y-%m-%d}-{(gpu or 'no-gpu').replace(' ', '_')}.json"
    out = out or RESULTS_DIR / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    if collect_into:
        collect(out, outcomes, collect_into, name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="list the steps; run only those that need no GPU")
    parser.add_argument("--steps", nargs="+", metavar="STEP", help="run only these steps (default: all)")
    parser.add_argument("--skip", nargs="+", default=[], metavar="STEP", help="steps not to run (e.g. build)")
    parser.add_argument("--out", type=Path, help="the JSON to write (default bench/results/device-check-...)")
    parser.add_argument("--merge", action="store_true", help="keep the steps an earlier run recorded in --out")
    parser.add_argument("--collect", type=Path, metavar="DIR", help="copy the JSON and the result files into DIR")
    args = parser.parse_args(argv)
    if args.merge and args.out is None:
        parser.error("--merge needs --out (the JSON an earlier run wrote)")
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        plan = steps(Path(tmp))
        unknown = (set(args.skip) | set(args.steps or [])) - {s.name for s in plan}
        if unknown:
            parser.error(f"unknown steps {sorted(unknown)}; the steps are {', '.join(s.name for s in plan)}")
        if not args.dry_run and not torch.cuda.is_available():
            print("bench/device_check.py: no GPU is visible; use --dry-run to list the steps", file=sys.stderr)
            return 1
        earlier = previous_outcomes(args.out) if args.merge else {}

        def not_run(step: Step) -> Outcome | None:
            """The outcome of a step this run does not run (None for one it runs)."""
            if step.name in args.skip or (args.steps is not None and step.name not in args.steps):
                return earlier.get(step.name) or Outcome(step.name, shown(step), "skipped")
            return Outcome(step.name, shown(step), "listed") if args.dry_run and step.gpu else None

        outcomes, ran = [], []
        for k, step in enumerate(plan):
            if (outcome := not_run(step)) is not None:
                outcomes.append(outcome)
                continue
            ahead = [not_run(s) or Outcome(s.name, shown(s), "not reached") for s in plan[k + 1 :]]
            write_report([*outcomes, Outcome(step.name, shown(step), "running"), *ahead], args.out, args.dry_run,
                         args.collect)  # fmt: skip
            outcomes.append(run_step(step))
            ran.append(outcomes[-1])
            print(f"  {step.name}: {outcomes[-1].status} ({outcomes[-1].seconds:.0f} s)", flush=True)
        out = write_report(outcomes, args.out, args.dry_run, args.collect)
    print_table([{**asdict(o), "command": " ".join(o.command.split())[:70]} for o in outcomes],
                ["name", "status", "seconds", "returncode", "result_files", "command"])  # fmt: skip
    print(f"saved {out} (total {round(sum(o.seconds for o in outcomes), 1)} s)")
    if args.collect:
        print(f"copied it and the result files into {args.collect}")
    failed = [o.name for o in ran if o.status in ("failed", "timeout")]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
