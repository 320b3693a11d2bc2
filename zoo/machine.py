"""What machine a figure was measured on: CPU model, cores, vector ISA, native bf16, load, and the code's commit.

Training records (``training.json``), the speed benchmark and the precision check read it, because the same recipe
runs 2x faster in bf16 on a CPU with AMX and up to 18x slower on one without native bf16.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import torch


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16() -> str | None:
    """"amx" or "avx512_bf16" when the CPU computes bf16 in hardware, else None (bf16 is then emulated, slowly)."""
    if torch.cpu._is_amx_tile_supported():
        return "amx"
    if torch.cpu._is_avx512_bf16_supported():
        return "avx512_bf16"
    return None


def machine_record() -> dict:
    """CPU model, cores, torch's vector ISA, native bf16, threads and the 1-minute load average."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "isa": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": native_bf16() or "none", "threads": torch.get_num_threads(),
            "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}


def gpu_record(device: torch.device) -> dict:
    """The GPU a run trained on (``{"gpu": name}``); empty for a CPU run, so CPU records keep their fields."""
    return {"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The checkout's commit, with "-dirty" when tracked files differ from it; None outside a git checkout."""
    cwd = Path(path or Path(__file__).resolve().parent)
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha.stdout.strip() + ("-dirty" if dirty else "")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (psutil's figure, else /proc/meminfo, else sysconf); None if
    unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def stop_repeated_gpu_probes() -> bool:
    """On a machine without a CUDA device, let ``torch.cuda.is_available()`` answer from its cached runtime count.

    Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` on import (so that the check does not initialise CUDA before a
    fork), and torch then loads the NVML library again on every ``is_available()`` until CUDA is initialised, which
    on a CPU-only machine is never. Every ``optimizer.step()`` asks (its graph-capture check): ~40 us a call measured
    here, two a step for the MLP GAN (~0.5% of its step). Where NVML counts no device there is no CUDA state a fork
    could break, so the variable is dropped for this process. True if it was dropped.
    """
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1" or torch.cuda.device_count() > 0:
        return False
    del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]
    return True
