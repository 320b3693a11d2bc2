"""Weights folders: ``config.json`` + ``model.safetensors`` (G_ema) [+ ``model_noema.safetensors`` (raw G)].

The one strict reader of the zoo: every way of loading a generator (a folder, a zoo repo on the Hub, a bundled or
converted index entry, ``Generator.from_pretrained``) ends in ``load_folder``. Nothing here unpickles: tensors come
from safetensors only, and every file can be checked against a sha256.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .errors import HubEntryMissingError, NotAZooRepoError, WeightsError, WeightsNotFoundError
from .generator import Generator, generator_class

# The file names of a weights folder / zoo repo, used everywhere else through these constants.
EMA_FILE = "model.safetensors"
RAW_FILE = "model_noema.safetensors"
CONFIG_FILE = "config.json"
GRID_FILE = "grid.png"
TRAINING_FILE = "training.json"
CARD_FILE = "README.md"
RECIPE_FILE = "recipe.yaml"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str | None) -> None:
    """Raise a one-line error if ``path`` does not hash to ``expected`` (None skips the check)."""
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"{path} has sha256 {actual[:12]}... but the zoo index expects {expected[:12]}...: the file is altered or "
            f"truncated; delete it and reinstall or re-download it")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a file so that a crash leaves either the old or the new file, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make exported files private to their writer
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_config(folder: str | os.PathLike) -> dict:
    """Read a weights folder's ``config.json``; it must name the generator class."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"{folder} has no {CONFIG_FILE}: it is not a zoo weights folder")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NotAZooRepoError(f"{path} is not valid JSON ({err}): re-create the weights folder") from None
    if not isinstance(config, dict) or "generator_class" not in config:
        raise NotAZooRepoError(f"{path} names no generator_class: it was not written by the zoo "
                               f"(save_weights, save_pretrained or `zoo publish`)")
    return config


def build_generator(config: dict) -> Generator:
    """Instantiate the generator class named in ``config`` from the config's init kwargs."""
    cls = generator_class(config.get("generator_class"))
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in config.items() if k in params and k != "self"}
    return cls(**kwargs)


def load_state(model: torch.nn.Module, file: str | os.PathLike) -> None:
    """Load safetensors into ``model``, refusing missing, unexpected or misshapen keys with their names."""
    state = load_file(str(file))
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"missing keys {missing[:5]}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:5]}")
    if misshapen:
        k = misshapen[0]
        problems.append(f"misshapen {k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}")
    if problems:
        raise WeightsError(f"{file} does not fit {type(model).__name__}: {'; '.join(problems)}")
    model.load_state_dict(state)


def load_folder(
    folder: str | os.PathLike,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    sha256: dict[str, str] | None = None,
) -> Generator:
    """Build the generator of a weights folder, check its files' sha256, and return it in eval mode.

    ``sha256`` pins ``{file name: digest}``; without it, the digests a published repo's ``config.json`` records
    (``zoo.sha256``, written by ``zoo publish``) are checked.
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
    verify_sha256(folder / CONFIG_FILE, sha256.get(CONFIG_FILE))
    verify_sha256(weights, sha256.get(weights.name))
    generator = build_generator(config)
    load_state(generator, weights)
    return generator.to(device).eval().requires_grad_(False)


def load_hub_repo(repo_id: str, revision: str = "main", *, ema: bool = True,
                  device: str | torch.device = "cpu") -> Generator:
    """Load a zoo repo on the Hub (written by ``zoo publish`` or ``save_pretrained``) through ``load_folder``.

    Both files come from the same commit (the one ``config.json`` resolved to).
    """
    from .hub import commit_of, hub_download

    try:
        config_path = hub_download(repo_id, CONFIG_FILE, revision)
    except HubEntryMissingError:
        raise NotAZooRepoError(f"{repo_id}@{revision} has no {CONFIG_FILE}: it is not a gan-zoo repo "
                               f"(publish one with `zoo publish NAME --repo-id {repo_id}`)") from None
    commit = commit_of(config_path, CONFIG_FILE)
    try:
        read_config(config_path.parent)
    except NotAZooRepoError:
        raise NotAZooRepoError(f"{repo_id}@{revision} is not a gan-zoo repo: its {CONFIG_FILE} names no "
                               f"generator_class (zoo.load('hf://...') reads repos written by `zoo publish`)") from None
    try:
        hub_download(repo_id, EMA_FILE if ema else RAW_FILE, commit)
    except HubEntryMissingError:
        if not ema:
            raise WeightsNotFoundError(f"{repo_id} ships only the EMA generator: call load(..., ema=True)") from None
        raise
    return load_folder(config_path.parent, ema=ema, device=device)


def save_weights(
    folder: str | os.PathLike,
    generator_ema: Generator,
    generator_raw: Generator | None = None,
    *,
    extra_config: dict | None = None,
) -> dict[str, str]:
    """Write a weights folder atomically file by file; return ``{file name: sha256}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"generator_class": type(generator_ema).__name__, **generator_ema._hub_mixin_config,
              **(extra_config or {})}
    atomic_write_bytes(folder / CONFIG_FILE, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    for name, module in ((EMA_FILE, generator_ema), (RAW_FILE, generator_raw)):
        if module is None:
            continue
        state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
        tmp = folder / f".{name}.tmp"
        save_file(state, str(tmp), metadata={"format": "pt"})
        os.chmod(tmp, 0o666 & ~_umask())  # safetensors writes 0600
        os.replace(tmp, folder / name)
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.name in (CONFIG_FILE, EMA_FILE, RAW_FILE)}
