"""Writes that survive faults, and loads that survive each other.

An export (``save_weights``, ExportWeights' ``training.json`` and grid, ``write_index``) or a checkpoint
(``AtomicCheckpointIO``) interrupted at any point (an exception inside the write, a full disk, SIGKILL of the writing
process) leaves the previous complete file or none, never a half file that loads, and no temporary files after an
exception. Two processes loading the same converted or Hub entry at once both succeed, and the conversion runs once.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors import SafetensorError

import zoo.serialization as serialization
from zoo.errors import WeightsError, WeightsNotFoundError, WriteError
from zoo.nets.dcgan import DCGANGenerator
from zoo.nets.mlp import MLPGenerator
from zoo.registry import read_index, write_index
from zoo.serialization import CONFIG_FILE, EMA_FILE, RAW_FILE, atomic_write_bytes, load_folder, save_weights

REPO = Path(__file__).resolve().parents[1]


def filled(value: float, **kwargs) -> DCGANGenerator:
    """A tiny generator whose every floating tensor is ``value``: a file's content tells which version it holds."""
    generator = DCGANGenerator(latent_dim=8, width=4, **kwargs).eval()
    with torch.no_grad():
        for tensor in generator.state_dict().values():
            if tensor.is_floating_point():
                tensor.fill_(value)
    return generator


def version_of(generator) -> float:
    values = {float(v.flatten()[0]) for v in generator.state_dict().values() if v.is_floating_point()}
    assert len(values) == 1, f"a torn file: values {sorted(values)}"
    return values.pop()


def temporary_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def one_line(err: BaseException) -> str:
    message = str(err)
    assert message and "\n" not in message, message
    return message


def run_python(code: str, *args: str, **env: str) -> subprocess.Popen:
    """``python -c code args`` with this checkout first on the path, offline, on one thread."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# ------------------------------------------------------------------------------------------- exceptions inside writes
class Boom(Exception):
    pass


def fail_on_call(real, k: int):
    """A stand-in for ``real`` that raises on its k-th call (1-based) and passes the others through."""
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise OSError(errno.EIO, "Input/output error")
        return real(*args, **kwargs)

    return wrapper


def half_then_raise(state, path, metadata=None):
    """save_file that writes half a file, then fails (a crash or an I/O error in the middle of the write)."""
    from safetensors.torch import save

    data = save(state, metadata)
    Path(path).write_bytes(data[:len(data) // 2])
    raise Boom("interrupted")


FAULTS = {
    "save_file writes half, then raises": ("save_file", lambda real: half_then_raise),
    "fsync fails": ("fsync", lambda real: fail_on_call(real, 1)),
    "rename of model.safetensors fails": ("replace", lambda real: fail_on_call(real, 1)),
    "rename of model_noema.safetensors fails": ("replace", lambda real: fail_on_call(real, 2)),
    "rename of config.json fails": ("replace", lambda real: fail_on_call(real, 3)),
    "KeyboardInterrupt inside save_file": ("save_file", lambda real: lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt())),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_save_weights_interrupted_leaves_old_or_new_files(tmp_path, monkeypatch, fault):
    folder = tmp_path / "w"
    save_weights(folder, filled(1.0), filled(1.5))
    target, make = FAULTS[fault]
    if target == "save_file":
        monkeypatch.setattr(serialization, "save_file", make(serialization.save_file))
    else:
        monkeypatch.setattr(serialization.os, target, make(getattr(os, target)))
    with pytest.raises((Boom, KeyboardInterrupt, WriteError)) as excinfo:
        save_weights(folder, filled(2.0), filled(2.5))
    if isinstance(excinfo.value, WriteError):
        assert "cannot write" in one_line(excinfo.value) and str(folder) in str(excinfo.value)
    monkeypatch.undo()
    assert temporary_files(folder) == []  # nothing left behind
    assert version_of(load_folder(folder)) in (1.0, 2.0)  # each file is old or new, complete
    assert version_of(load_folder(folder, ema=False)) in (1.5, 2.5)
    expected_ema = 2.0 if fault in ("rename of model_noema.safetensors fails", "rename of config.json fails") else 1.0
    assert version_of(load_folder(folder)) == expected_ema


def test_disk_full_while_exporting_is_one_line_naming_the_path(tmp_path, monkeypatch):
    folder = tmp_path / "w"
    save_weights(folder, filled(1.0))

    def disk_full(state, path, metadata=None):
        Path(path).write_bytes(b"partial")
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(serialization, "save_file", disk_full)
    with pytest.raises(WriteError) as excinfo:
        save_weights(folder, filled(2.0))
    assert one_line(excinfo.value) == (f"cannot write {folder / EMA_FILE}: no space left on device: free some space "
                                       f"or write to another disk (the previous file, if any, is unchanged)")
    assert isinstance(excinfo.value, OSError)
    monkeypatch.undo()
    assert temporary_files(folder) == [] and version_of(load_folder(folder)) == 1.0


def test_atomic_write_bytes_and_write_index_keep_the_old_file(tmp_path, monkeypatch):
    index = tmp_path / "index.json"
    write_index({"a": {"x": 1}}, index)

    def full(self, data):
        with open(self, "wb") as handle:
            handle.write(data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(WriteError, match=f"cannot write {index}: no space left on device"):
        write_index({"b": {"y": 2}}, index)
    monkeypatch.undo()
    monkeypatch.setattr(serialization.os, "replace", fail_on_call(os.replace, 1))
    with pytest.raises(WriteError):
        atomic_write_bytes(index, b"{}")
    monkeypatch.undo()
    assert read_index(index) == {"a": {"x": 1}} and temporary_files(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/proc/mounts").is_file(), reason="mounting a tmpfs needs root")
def test_a_really_full_disk(tmp_path):
    """On a 1 MiB tmpfs (when this machine lets root mount one): the real ENOSPC of safetensors and of a write."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        save_weights(disk / "w", filled(1.0))
        big = MLPGenerator(latent_dim=8, hidden=(512, 512)).eval()  # ~2 MB: does not fit
        with pytest.raises(WriteError, match=f"cannot write {disk / 'w' / EMA_FILE}: no space left on device"):
            save_weights(disk / "w", big)
        assert temporary_files(disk / "w") == [] and version_of(load_folder(disk / "w")) == 1.0
        with pytest.raises(WriteError, match="no space left on device"):
            atomic_write_bytes(disk / "w" / "big.bin", b"x" * (2 << 20))
        assert not (disk / "w" / "big.bin").exists() and temporary_files(disk / "w") == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# ------------------------------------------------------------------------------------------- checkpoints, training.json
def test_checkpoint_write_interrupted_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from zoo.checkpointing import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"version": 1, "w": torch.ones(1000)}, path)
    real_save = torch.save

    def interrupted(obj, handle, *args, **kwargs):
        real_save({"version": 2, "w": torch.zeros(1000)}, handle)
        handle.truncate(100)  # half written ...
        raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(WriteError) as excinfo:
        io.save_checkpoint({"version": 2, "w": torch.zeros(1000)}, path)
    assert one_line(excinfo.value).startswith(f"cannot write {path}: no space left on device")
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["version"] == 1 and temporary_files(path.parent) == []


def test_gpu_record_names_the_card_of_a_cuda_run_only(monkeypatch):
    from zoo.machine import gpu_record

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: f"card at {device}")
    assert gpu_record(torch.device("cuda", 0)) == {"gpu": "card at cuda:0"}
    assert gpu_record(torch.device("cpu")) == {}


def test_export_weights_training_json_interrupted(tmp_path, monkeypatch):
    from zoo.callbacks import ExportWeights
    from zoo.serialization import GRID_FILE, TRAINING_FILE

    folder = tmp_path / "weights"
    callback = ExportWeights(dirpath=folder, standing_stats_batches=0)
    module = SimpleNamespace(G_ema=filled(1.0), G=filled(1.5), g_iters=10, d_iters=50)
    trainer = SimpleNamespace(is_global_zero=True, global_step=60, precision="32-true", world_size=1,
                              checkpoint_callback=None, progress_bar_callback=None, _zoo_run_dir=tmp_path,
                              loggers=[])
    callback._start, callback._start_g_iters, callback._commit = time.perf_counter(), 0, None
    callback.on_train_end(trainer, module)
    first = json.loads((folder / TRAINING_FILE).read_text())
    assert first["g_iters"] == 10 and (folder / GRID_FILE).stat().st_size > 0 and "gpu" not in first

    real_replace = os.replace

    def fail_on_training_json(src, dst):
        if Path(dst).name == TRAINING_FILE:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(serialization.os, "replace", fail_on_training_json)
    module.g_iters = 20
    with pytest.raises(WriteError, match=f"cannot write {folder / TRAINING_FILE}: no space left on device"):
        callback.on_train_end(trainer, module)
    monkeypatch.undo()
    assert json.loads((folder / TRAINING_FILE).read_text()) == first  # the previous record, complete
    assert temporary_files(folder) == []


# ------------------------------------------------------------------------------------------- SIGKILL mid-write
def wait_until_writing(folder: Path, name: str, writer: subprocess.Popen) -> None:
    """Return once the next version of ``folder/name`` is being written, however the writer does it: a temporary
    file beside it, or the file itself changing size (a writer that writes in place)."""
    complete = (folder / name).stat().st_size
    deadline = time.monotonic() + 60
    while True:
        try:
            if any(p.name.startswith(f".{name}.") for p in folder.iterdir()) or (
                    folder / name).stat().st_size != complete:
                return
        except FileNotFoundError:
            return
        assert time.monotonic() < deadline and writer.poll() is None, "the writer never started the next file"


WRITER = """
import sys, torch
from pathlib import Path
from zoo.nets.mlp import MLPGenerator
from zoo.serialization import save_weights

folder = Path(sys.argv[1])
generator = MLPGenerator(latent_dim=8, hidden=(2048, 2048, 2048)).eval()  # ~36 MB per file
def fill(value):
    with torch.no_grad():
        for tensor in generator.state_dict().values():
            tensor.fill_(value)
    return generator
save_weights(folder, fill(1.0))
print("ready", flush=True)
for k in range(2, 200):
    save_weights(folder, fill(float(k)))
"""


def test_sigkill_while_writing_a_big_weights_file(tmp_path):
    folder = tmp_path / "w"
    seen = []
    for delay in (0.0, 0.05, 0.2):
        writer = run_python(WRITER, str(folder))
        try:
            assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
            wait_until_writing(folder, EMA_FILE, writer)
            time.sleep(delay)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(30)
            writer.stdout.close()
            writer.stderr.close()
        generator = load_folder(folder)  # a complete file, never a truncated one
        seen.append(version_of(generator))
        assert seen[-1] >= 1.0
    print("versions found after SIGKILL:", seen)


CHECKPOINT_WRITER = """
import sys, torch
from zoo.checkpointing import AtomicCheckpointIO

io, path = AtomicCheckpointIO(), sys.argv[1]
io.save_checkpoint({"version": 1, "w": torch.full((8_000_000,), 1.0)}, path)
print("ready", flush=True)
for k in range(2, 200):
    io.save_checkpoint({"version": k, "w": torch.full((8_000_000,), float(k))}, path)
"""


def test_sigkill_while_writing_a_checkpoint(tmp_path):
    path = tmp_path / "last.ckpt"
    writer = run_python(CHECKPOINT_WRITER, str(path))
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        wait_until_writing(tmp_path, path.name, writer)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
        writer.stdout.close()
        writer.stderr.close()
    checkpoint = torch.load(path, weights_only=True)
    assert float(checkpoint["w"][0]) == float(checkpoint["w"][-1]) == checkpoint["version"]


def test_a_truncated_file_never_loads(tmp_path):
    """What a non-atomic writer killed mid-write would leave: refused with one line, not loaded."""
    save_weights(tmp_path / "w", filled(1.0))
    data = (tmp_path / "w" / EMA_FILE).read_bytes()
    for cut in (0, 7, 100, len(data) // 2, len(data) - 1):
        (tmp_path / "w" / EMA_FILE).write_bytes(data[:cut])
        with pytest.raises(WeightsError) as excinfo:
            load_folder(tmp_path / "w")
        assert "truncated" in one_line(excinfo.value) or "too short" in str(excinfo.value)
    (tmp_path / "w" / EMA_FILE).unlink()
    with pytest.raises(WeightsNotFoundError, match="model.safetensors is missing"):
        load_folder(tmp_path / "w")
    (tmp_path / "w" / CONFIG_FILE).unlink()
    with pytest.raises(WeightsNotFoundError, match="export it again"):
        load_folder(tmp_path / "w")
    assert not (tmp_path / "w" / RAW_FILE).exists()


# ------------------------------------------------------------------------------------------- two loads at once
LOADER = """
import json, os, sys, time
from pathlib import Path

import torch
import zoo, zoo.convert, zoo.registry
from huggingface_hub import constants
from zoo.nets.dcgan import DCGANGenerator
from zoo.serialization import load_state

work = Path(sys.argv[1])
zoo.registry.INDEX_FILE = work / "index.json"
constants.HF_HUB_CACHE = str(work / "hf-cache")

def convert_test(weights_file, config_file=None, **options):
    with open(work / "conversions.log", "a") as log:
        log.write(f"{os.getpid()}\\n")
    time.sleep(1.0)  # a slow conversion: the other process arrives while it runs
    generator = DCGANGenerator(**options)
    load_state(generator, weights_file)
    return generator

zoo.convert.CONVERTERS["test-slow"] = convert_test
zoo.convert._import_converters()
(work / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 120
while len(list(work.glob("ready-*"))) < 2 and time.monotonic() < deadline:  # start together
    time.sleep(0.01)
import warnings
warnings.simplefilter("ignore")
converted = zoo.load("tiny-converted", weights=work / "upstream" / "G_ema.safetensors")
hub = zoo.load("hf://org/tiny")
print(json.dumps({"converted": float(converted.sample(4, seed=0).sum()), "hub": float(hub.sample(4, seed=0).sum()),
                  "commit": hub.weights_source["commit"]}))
"""


def test_two_processes_load_the_same_converted_and_hub_entry(tmp_path):
    from test_hub import COMMIT, populate_cache

    torch.manual_seed(0)
    reference = DCGANGenerator(latent_dim=8, width=4).eval()
    save_weights(tmp_path / "upstream", reference)
    (tmp_path / "upstream" / CONFIG_FILE).unlink()
    (tmp_path / "upstream" / EMA_FILE).rename(tmp_path / "upstream" / "G_ema.safetensors")
    save_weights(tmp_path / "repo", reference)
    (tmp_path / "hf-cache").mkdir()
    populate_cache(tmp_path / "hf-cache", "org/tiny", tmp_path / "repo")
    entry = dict(family="dcgan", paper="p", dataset="fashion-mnist", resolution=28, channels=1, latent_dim=8,
                 weights={"converter": "test-slow", "converter_config": {"latent_dim": 8, "width": 4}})
    write_index({"tiny-converted": entry}, tmp_path / "index.json")
    cache = tmp_path / "zoo-cache"
    loaders = [run_python(LOADER, str(tmp_path), ZOO_CACHE=str(cache)) for _ in range(2)]
    results = [loader.communicate(timeout=300) for loader in loaders]
    for loader, (_, err) in zip(loaders, results):
        assert loader.returncode == 0, err[-3000:]
    outputs = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    expected = float(reference.sample(4, seed=0).sum())
    assert all(o["converted"] == pytest.approx(expected) and o["hub"] == pytest.approx(expected) for o in outputs)
    assert all(o["commit"] == COMMIT for o in outputs)
    assert len((tmp_path / "conversions.log").read_text().splitlines()) == 1  # converted once, by one process
    converted = [p for p in (cache / "converted" / "tiny-converted").iterdir() if p.is_dir()]
    assert len(converted) == 1 and not [p for p in converted if p.name.startswith(".")]
