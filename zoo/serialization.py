"""Weights folders: ``config.json`` + ``model.safetensors`` (G_ema) [+ ``model_noema.safetensors`` (raw G)]
[+ ``encoder.safetensors``, the encoder of the encoder families, named under ``config.json``'s ``"encoder"`` key].

The one strict reader of the zoo: every way of loading a generator (a folder, a zoo repo on the Hub, a bundled or
converted index entry, ``Generator.from_pretrained``) ends in ``load_folder``. Nothing here unpickles: tensors come
from safetensors only, and every file can be checked against a sha256. A user's files are read defensively: the
config's constructor arguments are checked against the class's signature, the safetensors header is checked against
the file's size, and the generator is built under an allocation budget derived from the file (``AllocationBudget``),
so a file that declares huge tensors, or a config that asks for a huge network, is refused before the memory is
allocated.

Writes are atomic: each file is written under a temporary name in its folder, fsynced and renamed, so a crash or a
full disk leaves the previous complete file (or none), never half of one.
"""

from __future__ import annotations

import collections.abc
import errno
import hashlib
import inspect
import json
import math
import os
import re
import secrets
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import (
    HubEntryMissingError,
    NotAZooRepoError,
    WeightsError,
    WeightsNotFoundError,
    WriteError,
    ZooError,
    short_repr,
)
from .generator import Encoder, Generator, encoder_class, generator_class
from .hub import first_line

# The file names of a weights folder / zoo repo, used everywhere else through these constants.
EMA_FILE = "model.safetensors"
RAW_FILE = "model_noema.safetensors"
ENCODER_FILE = "encoder.safetensors"
#: config.json's key for the encoder's class (``encoder_class``) and constructor arguments
ENCODER_KEY = "encoder"
CONFIG_FILE = "config.json"
GRID_FILE = "grid.png"
TRAINING_FILE = "training.json"
CARD_FILE = "README.md"
RECIPE_FILE = "recipe.yaml"

#: A zoo config.json is a few kB; anything this large is not one (and is not read into memory).
MAX_CONFIG_BYTES = 16 << 20
#: safetensors' own limit on the JSON header.
MAX_HEADER_BYTES = 100_000_000
#: safetensors dtype -> bytes per element
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
FLOAT_DTYPES = {"F8_E4M3", "F8_E5M2", "F16", "BF16", "F32", "F64"}
TORCH_DTYPES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.float16: "F16",
                torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32", torch.int64: "I64",
                torch.float64: "F64"}
REFETCH = "re-download or re-export it"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: str | os.PathLike, expected: str | None) -> str:
    """Return ``path``'s sha256; raise a one-line error if it is not ``expected`` (None skips the check)."""
    actual = sha256_file(path)
    if expected is not None and actual != expected:
        raise WeightsError(
            f"{path} has sha256 {actual[:12]}... but the zoo index expects {str(expected)[:12]}...: the file is "
            f"altered or truncated; delete it and reinstall or re-download it")
    return actual


def verify_sha256(path: str | os.PathLike, expected: str | None) -> None:
    """Raise a one-line error if ``path`` does not hash to ``expected`` (None skips the check)."""
    if expected is not None:
        check_sha256(path, expected)


# ---------------------------------------------------------------------------------------------- atomic writes
def write_error(path: str | os.PathLike, err: OSError) -> WriteError:
    """The one-line error for a write that failed (a full disk names the path and the fix)."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        reason, fix = "no space left on device", "free some space or write to another disk"
    else:
        reason, fix = (err.strerror or first_line(err)).lower(), "check the folder's permissions and free space"
    return WriteError(f"cannot write {path}: {reason}: {fix} (the previous file, if any, is unchanged)")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:  # makes the rename itself durable; not every file system can fsync a folder
        _fsync(folder)
    except OSError:
        pass


def stage_file(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write ``path``'s new content with ``write(tmp)`` to a temporary file beside it, fsync it and return it.

    The temporary file is removed if anything fails (an ``OSError`` becomes a one-line ``WriteError``); the caller
    renames it into place with ``commit_file``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies, unlike mkstemp
        write(tmp)
        _fsync(tmp)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, ZooError):
            raise write_error(path, err) from None
        raise
    return tmp


def commit_file(tmp: Path, path: str | os.PathLike) -> None:
    """Rename a staged file into place (atomic on POSIX) and make the rename durable."""
    path = Path(path)
    try:
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise write_error(path, err) from None
    _fsync_dir(path.parent)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> None:
    """Write a file with ``write(tmp)`` so that a crash leaves either the old or the new file, never half of one."""
    commit_file(stage_file(path, write), path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a file so that a crash leaves either the old or the new file, never half of one."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


# ---------------------------------------------------------------------------------------------- reading a folder
def read_config(folder: str | os.PathLike) -> dict:
    """Read a weights folder's ``config.json``; it must be a JSON object naming the generator class."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"{folder} has no {CONFIG_FILE}: it is not a zoo weights folder (an export "
                                   f"interrupted before its end leaves none: export it again)")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise NotAZooRepoError(f"{path} is {size:,} bytes, too large for a zoo config: re-create the weights "
                                   f"folder")
        config = json.loads(path.read_bytes())
    except OSError as err:
        raise WeightsError(f"cannot read {path}: {(err.strerror or first_line(err)).lower()}: check the file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else first_line(err)
        raise NotAZooRepoError(f"{path} is not valid JSON ({reason}): re-create the weights folder") from None
    if not isinstance(config, dict) or "generator_class" not in config:
        raise NotAZooRepoError(f"{path} names no generator_class: it was not written by the zoo "
                               f"(save_weights, save_pretrained or `zoo publish`)")
    return config


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value can be the constructor argument annotated ``hint`` (unknown hints: yes)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def generator_init(config: dict, where: str | os.PathLike = CONFIG_FILE, *,
                   key: str = "generator_class") -> tuple[type, dict]:
    """The generator class ``config`` names and its constructor arguments, each checked against the signature
    (``key="encoder_class"``: the same for the encoder section of a config)."""
    name = config.get(key)
    if not isinstance(name, str):
        raise NotAZooRepoError(f"{where} has {key}={short_repr(name)}, not a class name: re-create the "
                               f"weights folder")
    cls = encoder_class(name) if key == "encoder_class" else generator_class(name)
    params = inspect.signature(cls.__init__).parameters
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 (an annotation this Python cannot evaluate: the constructor judges alone)
        hints = {}
    kwargs = {k: v for k, v in config.items() if k in params and k != "self"}
    for key, value in kwargs.items():
        if key in hints and not _fits(value, hints[key]):
            hint = hints[key]
            expected = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "").replace(
                "collections.abc.", "").replace("NoneType", "None")
            raise WeightsError(f"{where}: {key}={short_repr(value)} is not a valid {cls.__name__} argument (expected "
                               f"{expected}): fix {key} in {CONFIG_FILE} or re-create the weights folder")
    return cls, kwargs


class OverBudget(Exception):
    """Raised inside a constructor by ``AllocationBudget``; ``instantiate`` turns it into a one-line error."""


NEW_METHODS = (torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones, torch.Tensor.new_full)
#: The tensor factories that ``AllocationBudget`` counts.
FACTORIES = frozenset((torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full, torch.empty_strided,
                       torch.eye, torch.randint, *NEW_METHODS))


class AllocationBudget(torch.overrides.TorchFunctionMode):
    """While active, every tensor factory call (``torch.empty``, ``zeros``, ``randn``, ...) is counted before it runs,
    and the one that would take the total past ``limit`` bytes raises ``OverBudget`` instead of allocating.

    Building a network from a user's config under a budget derived from the weights file refuses a config that asks
    for a network far larger than the file (``width=65536``) without allocating it. Unlike a build on the meta
    device, the network is built for real, so its construction costs what it always did.
    """

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.used = limit, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES:
            dtype = kwargs.get("dtype") or (args[0].dtype if func in NEW_METHODS else torch.int64
                                            if func is torch.randint else torch.get_default_dtype())
            self.used += _numel(func, args, kwargs) * getattr(dtype, "itemsize", 8)
            if self.used > self.limit:
                raise OverBudget(self.used)
        return func(*args, **kwargs)


def _numel(func, args: tuple, kwargs: dict) -> int:
    """How many elements a factory call asks for (0 when its arguments are not understood)."""
    try:
        if func is torch.eye:
            n = kwargs.get("n", args[0] if args else 0)
            m = kwargs.get("m", args[1] if len(args) > 1 and isinstance(args[1], int) else n)
            return int(n) * int(m)
        if "size" in kwargs:
            size = kwargs["size"]
        elif func in (torch.full, torch.empty_strided):
            size = args[0]
        elif func is torch.Tensor.new_full:
            size = args[1]
        elif func in NEW_METHODS:
            size = args[1:]
        elif func is torch.randint:
            size = args[-1]
        else:  # empty, zeros, ones, rand, randn: (*size) or (size,)
            size = args
        if isinstance(size, int):
            size = (size,)
        if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
            size = size[0]
        return math.prod(int(d) for d in size)
    except (IndexError, TypeError, ValueError):
        return 0


def instantiate(cls: type, kwargs: dict, where: str | os.PathLike = CONFIG_FILE, *,
                budget: int | None = None) -> Generator:
    """``cls(**kwargs)``, with a one-line error for arguments the class refuses; with ``budget`` (bytes), built under
    an ``AllocationBudget`` so that a network larger than that is refused before it is allocated."""
    try:
        if budget is None:
            return cls(**kwargs)
        with AllocationBudget(budget):
            return cls(**kwargs)
    except OverBudget as err:
        raise WeightsError(f"{where} asks for a {cls.__name__} of more than {err.args[0]:,} bytes of tensors, far "
                           f"more than its weights file holds: fix {CONFIG_FILE} or re-create the weights folder"
                           ) from None
    except (ZooError, TypeError, ValueError, ArithmeticError, LookupError, RuntimeError, AttributeError,
            AssertionError) as err:
        what = "" if isinstance(err, ZooError) else f"{type(err).__name__}: "
        raise WeightsError(f"{where} does not build a {cls.__name__} ({what}{first_line(err)}): fix {CONFIG_FILE} "
                           f"or re-create the weights folder") from None


def build_generator(config: dict, where: str | os.PathLike = CONFIG_FILE) -> Generator:
    """Instantiate the generator class named in ``config`` from the config's init kwargs."""
    cls, kwargs = generator_init(config, where)
    return instantiate(cls, kwargs, where)


def read_safetensors_header(file: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{key: (dtype, shape)}`` of a safetensors file, checked against the file's size before any tensor is read.

    A truncated file, a corrupt header, an unknown dtype or offsets that do not match the shapes are one-line
    ``WeightsError``\\ s, so a header that declares huge tensors is refused without allocating them.
    """
    file = Path(file)
    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            prefix = handle.read(8)
            length = int.from_bytes(prefix, "little")
            if len(prefix) < 8 or length > size - 8 or length > MAX_HEADER_BYTES:
                raise WeightsError(
                    f"{file} is {size:,} bytes and declares a {length:,}-byte header: it is truncated or not a "
                    f"safetensors file; {REFETCH}" if len(prefix) == 8 else
                    f"{file} is {size:,} bytes: too short for a safetensors file (truncated?); {REFETCH}")
            raw = handle.read(length)
    except OSError as err:
        raise WeightsError(f"cannot read {file}: {(err.strerror or first_line(err)).lower()}: check the file") from None
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise WeightsError(f"{file} has a corrupt safetensors header (not JSON): {REFETCH}") from None
    if not isinstance(header, dict):
        raise WeightsError(f"{file} has a corrupt safetensors header (not a JSON object): {REFETCH}")
    data_bytes, covered = size - 8 - length, 0
    tensors = {}
    for key, entry in header.items():
        if key == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise WeightsError(f"{file} has a corrupt safetensors header (__metadata__ is not text): {REFETCH}")
            continue
        problem = _header_entry_problem(entry, data_bytes)
        if problem:
            raise WeightsError(f"{file}: tensor {short_repr(key)} {problem}; {REFETCH}")
        tensors[key] = (entry["dtype"], tuple(entry["shape"]))
        covered = max(covered, entry["data_offsets"][1])
    if covered != data_bytes:
        raise WeightsError(f"{file} holds {data_bytes:,} bytes of tensor data but its header covers {covered:,}: it "
                           f"is corrupt; {REFETCH}")
    return tensors


def _header_entry_problem(entry: Any, data_bytes: int) -> str | None:
    def ints(value, n=None):
        return (isinstance(value, list) and (n is None or len(value) == n)
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value))

    if not isinstance(entry, dict) or not ints(entry.get("shape")) or not ints(entry.get("data_offsets"), 2):
        return "has a corrupt header entry (dtype, shape, data_offsets)"
    dtype, shape, (begin, end) = entry.get("dtype"), entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        return f"has unknown dtype {short_repr(dtype)}"
    need = math.prod(shape) * DTYPE_BYTES[dtype]
    if end < begin or end - begin != need:
        return f"declares {dtype} {tuple(shape)} ({need:,} bytes) but its offsets span {end - begin:,} bytes"
    if end > data_bytes:
        return (f"ends at byte {end:,} of the data but the file holds {data_bytes:,}: the file is truncated or its "
                f"header altered")
    return None


def check_fits(model_state: dict[str, torch.Tensor], tensors: dict[str, tuple[str, tuple[int, ...]]],
               file: str | os.PathLike, model_name: str) -> None:
    """Refuse a file whose tensors are not exactly the model's: missing, unexpected, misshapen or of another kind
    (floating point may differ in precision; integers and booleans must match)."""
    missing = sorted(set(model_state) - set(tensors))
    unexpected = sorted(set(tensors) - set(model_state))
    common = sorted(set(model_state) & set(tensors))
    misshapen = [k for k in common if tuple(model_state[k].shape) != tensors[k][1]]
    mistyped = [k for k in common if k not in misshapen and not _dtype_fits(model_state[k].dtype, tensors[k][0])]
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:5]}")
    if unexpected:
        problems.append(f"unexpected keys {[k if len(k) <= 60 else k[:57] + '...' for k in unexpected[:5]]}")
    if misshapen:
        k = misshapen[0]
        problems.append(f"misshapen {k}: file {tensors[k][1]} vs model {tuple(model_state[k].shape)}")
    if mistyped:
        k = mistyped[0]
        problems.append(f"{k} is {tensors[k][0]} in the file but {TORCH_DTYPES.get(model_state[k].dtype)} in the model")
    if problems:
        raise WeightsError(f"{file} does not fit {model_name}: {'; '.join(problems)}")


def _dtype_fits(dtype: torch.dtype, stored: str) -> bool:
    name = TORCH_DTYPES.get(dtype)
    return stored == name or (dtype.is_floating_point and stored in FLOAT_DTYPES)


def load_state(model: torch.nn.Module, file: str | os.PathLike,
               tensors: dict[str, tuple[str, tuple[int, ...]]] | None = None) -> None:
    """Load safetensors into ``model``, refusing missing, unexpected, misshapen or mistyped keys with their names.

    The header is checked (``read_safetensors_header``) before any tensor is read.
    """
    tensors = read_safetensors_header(file) if tensors is None else tensors
    check_fits(model.state_dict(), tensors, file, type(model).__name__)
    try:
        state = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{file} is not a readable safetensors file ({first_line(err)}): {REFETCH}") from None
    model.load_state_dict(state)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_safetensors(state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """``safetensors.torch.save_file``, whose I/O failures (a full disk) surface as ``OSError`` with their errno."""
    try:
        save_file(state, str(path), metadata={"format": "pt"})
        os.chmod(path, 0o666 & ~_umask())  # safetensors writes 0600: exported weights are readable like other files
    except SafetensorError as err:
        code = re.search(r"os error (\d+)", str(err))
        if code:
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1)))) from None
        raise


def load_folder(
    folder: str | os.PathLike,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    sha256: dict[str, str] | None = None,
) -> Generator:
    """Build the generator of a weights folder, check its files' sha256, and return it in eval mode.

    ``sha256`` pins ``{file name: digest}``; without it, the digests a published repo's ``config.json`` records
    (``zoo.sha256``, written by ``zoo publish``) are checked. The generator's ``weights_source`` says what was
    loaded: ``{"spec", "path", "file", "sha256"}`` (callers that resolved a name or a Hub repo add to it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsNotFoundError(f"no such folder: {folder}")
    config = read_config(folder)
    weights = folder / (EMA_FILE if ema else RAW_FILE)
    if not weights.is_file():
        if not ema and (folder / EMA_FILE).is_file():
            raise WeightsNotFoundError(f"{folder} ships only the EMA generator: call load(..., ema=True)")
        raise WeightsNotFoundError(f"{weights} is missing: reinstall the package or re-download the weights folder")
    if sha256 is None:
        recorded = config.get("zoo", {}).get("sha256") if isinstance(config.get("zoo"), dict) else None
        sha256 = recorded if isinstance(recorded, dict) else {}
    if not all(isinstance(v, str) for v in sha256.values()):
        raise WeightsError(f"{folder / CONFIG_FILE} records zoo.sha256 values that are not hex digests: re-create "
                           f"the weights folder")
    verify_sha256(folder / CONFIG_FILE, sha256.get(CONFIG_FILE))
    digest = check_sha256(weights, sha256.get(weights.name))
    tensors = read_safetensors_header(weights)
    where = folder / CONFIG_FILE
    cls, kwargs = generator_init(config, where)
    # every tensor of the network is in the file, so it cannot need much more memory than the file's tensors
    file_bytes = sum(math.prod(shape) * DTYPE_BYTES[dtype] for dtype, shape in tensors.values())
    generator = instantiate(cls, kwargs, where, budget=4 * file_bytes + (64 << 20))
    load_state(generator, weights, tensors)
    if ENCODER_KEY in config:
        generator.attach_encoder(load_encoder(folder, config, sha256.get(ENCODER_FILE)))
    generator = generator.to(device).eval().requires_grad_(False)
    if generator.encoder is not None:
        generator.encoder.requires_grad_(False)
    generator.weights_source = {"spec": str(folder), "path": str(folder.resolve()), "file": weights.name,
                                "sha256": digest}
    return generator


def load_encoder(folder: str | os.PathLike, config: dict, sha256: str | None = None) -> Encoder:
    """The encoder that ``config``'s ``"encoder"`` section names, with the weights of ``folder``'s
    ``encoder.safetensors`` (checked against ``sha256`` when given), read as strictly as the generator."""
    folder = Path(folder)
    section, where = config[ENCODER_KEY], folder / CONFIG_FILE
    if not isinstance(section, dict):
        raise NotAZooRepoError(f"{where}: {ENCODER_KEY!r} is {short_repr(section)}, not an object naming "
                               f"encoder_class: re-create the weights folder")
    file = folder / ENCODER_FILE
    if not file.is_file():
        raise WeightsNotFoundError(f"{file} is missing but {CONFIG_FILE} names an encoder: reinstall the package or "
                                   f"re-download the weights folder")
    check_sha256(file, sha256)
    tensors = read_safetensors_header(file)
    cls, kwargs = generator_init(section, where, key="encoder_class")
    file_bytes = sum(math.prod(shape) * DTYPE_BYTES[dtype] for dtype, shape in tensors.values())
    encoder = instantiate(cls, kwargs, where, budget=4 * file_bytes + (64 << 20))
    load_state(encoder, file, tensors)
    return encoder.eval().requires_grad_(False)


def load_hub_repo(repo_id: str, revision: str = "main", *, ema: bool = True,
                  device: str | torch.device = "cpu") -> Generator:
    """Load a zoo repo on the Hub (written by ``zoo publish`` or ``save_pretrained``) through ``load_folder``.

    Both files come from the same commit (the one ``config.json`` resolved to), which ``weights_source`` records
    with the weights file's sha256.
    """
    from .hub import commit_of, hub_download

    try:
        config_path = hub_download(repo_id, CONFIG_FILE, revision)
    except HubEntryMissingError:
        raise NotAZooRepoError(f"{repo_id}@{revision} has no {CONFIG_FILE}: it is not a gan-zoo repo "
                               f"(publish one with `zoo publish NAME --repo-id {repo_id}`)") from None
    commit = commit_of(config_path, CONFIG_FILE)
    try:
        config = read_config(config_path.parent)
    except NotAZooRepoError:
        raise NotAZooRepoError(f"{repo_id}@{revision} is not a gan-zoo repo: its {CONFIG_FILE} names no "
                               f"generator_class (zoo.load('hf://...') reads repos written by `zoo publish`)") from None
    if ENCODER_KEY in config:
        hub_download(repo_id, ENCODER_FILE, commit)
    try:
        hub_download(repo_id, EMA_FILE if ema else RAW_FILE, commit)
    except HubEntryMissingError:
        if not ema:
            raise WeightsNotFoundError(f"{repo_id} ships only the EMA generator: call load(..., ema=True)") from None
        raise
    generator = load_folder(config_path.parent, ema=ema, device=device)
    generator.weights_source.update(spec=f"hf://{repo_id}@{revision}", repo_id=repo_id, revision=revision,
                                    commit=commit)
    return generator


def save_weights(
    folder: str | os.PathLike,
    generator_ema: Generator,
    generator_raw: Generator | None = None,
    *,
    encoder: Encoder | None = None,
    extra_config: dict | None = None,
) -> dict[str, str]:
    """Write a weights folder; return ``{file name: sha256}``.

    ``encoder`` (default: the one attached to ``generator_ema``, if any) goes to ``encoder.safetensors``, its class
    and constructor arguments to ``config.json``'s ``"encoder"`` section.

    Every file is first written and fsynced under a temporary name; only then are they renamed into place, the
    weights first and ``config.json`` last. A failure (a full disk is a one-line ``WriteError``) or a kill leaves
    each file either old and complete or new and complete, never half written, and removes the temporary files
    it can.
    """
    folder = Path(folder)
    encoder = encoder if encoder is not None else generator_ema.encoder
    config = {"generator_class": type(generator_ema).__name__, **generator_ema._hub_mixin_config,
              **(extra_config or {})}
    if encoder is not None:
        config[ENCODER_KEY] = {"encoder_class": type(encoder).__name__, **encoder.encoder_config}
    config_bytes = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    staged: list[tuple[Path, Path]] = []
    try:
        for name, module in ((EMA_FILE, generator_ema), (RAW_FILE, generator_raw), (ENCODER_FILE, encoder)):
            if module is None:
                continue
            state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
            staged.append((stage_file(folder / name, lambda tmp, s=state: save_safetensors(s, tmp)), folder / name))
        staged.append((stage_file(folder / CONFIG_FILE, lambda tmp: tmp.write_bytes(config_bytes)),
                       folder / CONFIG_FILE))
        for tmp, path in staged:
            commit_file(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    written = (CONFIG_FILE, EMA_FILE, RAW_FILE) + ((ENCODER_FILE,) if encoder is not None else ())
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.name in written}
