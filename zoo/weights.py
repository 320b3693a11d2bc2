"""From a spec to a generator: ``resolve(spec)`` decides where weights come from, ``load(spec)`` loads them.

Specs, in the order they are tried:

1. ``hf://ORG/REPO[@REVISION]``: a zoo repo on the Hugging Face Hub (default revision ``main``).
2. A path: an ``os.PathLike``, or a string that contains ``/`` or starts with ``~``, e.g. ``./dcgan-fmnist`` or
   ``runs/dcgan-fmnist/version_0/weights``. It must be an existing weights folder.
3. ``zoo:NAME`` or a bare ``NAME``: an entry of the zoo index (``zoo list``). A bare name that is also a folder in the
   working directory is refused: say ``./NAME`` for the folder or ``zoo:NAME`` for the entry.

Every route ends in ``zoo.serialization.load_folder`` (config, safetensors, sha256 where one is known). Index entries
whose weights are not bundled come from a pinned Hub file or a local copy (``weights=``); entries with a
``converter`` are converted once (under a file lock, so two processes loading the same entry convert it once) and
kept under ``converted_cache_dir()``.

Every loaded generator says what it loaded in ``G.weights_source``, a plain dict: the ``spec``, then ``path`` +
``sha256`` of the weights file (a folder), ``name`` (an index entry), ``repo_id`` + ``revision`` + ``commit`` (the
sha a branch or tag resolved to) for Hub files, and ``converter`` + ``converted_path`` for converted entries.
``describe_source(G)`` prints it as one line (``zoo sample`` does).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch

from .errors import (
    HubEntryMissingError,
    InvalidArgumentError,
    NotAZooRepoError,
    UnknownModelError,
    WeightsError,
    WeightsNotFoundError,
    short_repr,
)
from .generator import Generator
from .hub import HF_PREFIX, commit_of, hub_download, parse_hf_spec
from .registry import ModelEntry, get_entry
from .serialization import (
    CONFIG_FILE,
    EMA_FILE,
    ENCODER_FILE,
    ENCODER_KEY,
    RAW_FILE,
    atomic_write_bytes,
    load_folder,
    load_hub_repo,
    read_config,
    save_weights,
    sha256_file,
    write_error,
)

logger = logging.getLogger(__name__)

ENTRY_PREFIX = "zoo:"
CACHE_INFO = "zoo_cache.json"


@dataclass(frozen=True)
class Source:
    """Where a spec's weights are: ``kind`` is "folder" (``path``), "hub" (``repo_id``, ``revision``) or "entry"."""

    kind: str
    path: Path | None = None
    repo_id: str | None = None
    revision: str | None = None
    entry: ModelEntry | None = None


def resolve(spec: str | os.PathLike) -> Source:
    """Decide where ``spec``'s weights come from (see the module docstring for the order); nothing is loaded."""
    if isinstance(spec, os.PathLike):
        return _folder(Path(spec))
    if not isinstance(spec, str) or not spec:
        raise InvalidArgumentError(f"a model spec is a zoo name, a folder or hf://ORG/REPO, got {short_repr(spec)}")
    if spec.startswith(HF_PREFIX):
        repo_id, revision = parse_hf_spec(spec)
        return Source("hub", repo_id=repo_id, revision=revision)
    if spec.startswith(ENTRY_PREFIX):
        return Source("entry", entry=get_entry(spec[len(ENTRY_PREFIX):]))
    if "/" in spec or os.sep in spec or spec.startswith("~"):
        try:
            path = Path(spec).expanduser()
        except RuntimeError:  # ~user of no such user
            raise WeightsNotFoundError(f"no such folder: {_shown(spec)}") from None
        return _folder(path)
    try:
        entry = get_entry(spec)
    except UnknownModelError:
        if _is_dir(Path(spec)):
            return _folder(Path(spec))
        raise
    if _is_dir(Path(spec)):
        raise InvalidArgumentError(f"{spec!r} is both a zoo name and a folder here: write ./{spec} for the folder "
                                   f"or {ENTRY_PREFIX}{spec} for the zoo's entry")
    return Source("entry", entry=entry)


def _shown(path: Path) -> str:
    """A path as a message shows it: as is when it is printable, else quoted (and cut) on one line."""
    text = str(path)
    return text if text.isprintable() and len(text) <= 200 else short_repr(text, 200)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def _folder(path: Path) -> Source:
    if not _is_dir(path):
        try:
            is_file = path.exists()
        except (OSError, ValueError):
            is_file = False
        raise WeightsNotFoundError(f"{path} is a file: pass the weights folder that holds {CONFIG_FILE}" if is_file
                                   else f"no such folder: {_shown(path)}")
    return Source("folder", path=path)


def load(
    spec: str | os.PathLike,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    weights: str | os.PathLike | None = None,
    allow_unpinned: bool = False,
    channels_last: bool = True,
) -> Generator:
    """Load the generator ``spec`` names, ready to sample (``zoo.load``).

    Args:
        spec: a zoo name (``zoo list``), a weights folder, or ``hf://ORG/REPO[@REVISION]`` (see the module docstring).
        ema: the EMA generator (default, what the scores refer to) or the raw one where it is shipped.
        device: where to put it.
        weights: a local copy of the upstream file for index entries whose weights are not bundled.
        allow_unpinned: download an index entry's Hub file although the index pins no revision and sha256 for it
            (the load then reports the commit and sha256 to pin).
        channels_last: store the weights channels-last (``Generator.optimize_for_inference``; default yes).
    """
    source = resolve(spec)
    if weights is not None and source.kind != "entry":
        raise InvalidArgumentError("weights= is a local copy of an index entry's upstream file: pass it with a zoo "
                                   "name, or load the folder directly")
    if source.kind == "folder":
        generator = load_folder(source.path, ema=ema, device=device)
    elif source.kind == "hub":
        generator = load_hub_repo(source.repo_id, source.revision, ema=ema, device=device)
    elif source.entry.bundled_dir is not None and weights is None:
        entry = source.entry
        generator = load_folder(entry.bundled_dir, ema=ema, device=device, sha256=entry.weights.get("sha256") or {})
        generator.weights_source.update(name=entry.name, bundled=True)
    else:
        generator = load_entry_weights(source.entry, ema=ema, device=device, weights=weights,
                                       allow_unpinned=allow_unpinned)
    generator.weights_source["spec"] = os.fspath(spec)
    return generator.optimize_for_inference(channels_last=channels_last)


def describe_source(generator: Generator) -> str:
    """``G.weights_source`` as one line: ``spec key=value ...`` (digests and commits shortened to 12 digits)."""
    source = dict(getattr(generator, "weights_source", None) or {})
    spec = source.pop("spec", "?")
    parts = []
    for key, value in source.items():
        text = str(value)
        if key in ("sha256", "commit", "source_sha256", "converted_sha256") and len(text) > 12:
            text = text[:12]
        parts.append(f"{key}={text}")
    return " ".join([str(spec), *parts])


def converted_cache_dir() -> Path:
    """Where converted upstream checkpoints are kept: ``$ZOO_CACHE/converted`` or ``~/.cache/gan-zoo/converted``."""
    return Path(os.environ.get("ZOO_CACHE") or "~/.cache/gan-zoo").expanduser() / "converted"


def load_entry_weights(
    entry: ModelEntry,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    weights: str | os.PathLike | None = None,
    allow_unpinned: bool = False,
) -> Generator:
    """Load an index entry whose weights are not bundled.

    The file is the user's local copy ``weights`` if given (its sha256 is then reported, not required), else the
    pinned Hub file (``weights.hub``: repo_id, filename, revision, sha256), checked against its sha256. Entries
    with a ``converter`` are converted once and kept as a zoo weights folder under ``converted_cache_dir()``;
    otherwise the file is a zoo ``model.safetensors`` with its ``config.json`` beside it.
    """
    spec = entry.weights
    hub = spec.get("hub") or {}
    if weights is None and not hub:
        raise WeightsNotFoundError(f"{entry.name} has neither bundled nor Hub weights in the index: "
                                   f"pass zoo.load({entry.name!r}, weights=PATH) with a local copy")
    hint = f"; or pass zoo.load({entry.name!r}, weights=PATH) with a local copy"
    if weights is not None:
        file = Path(weights).expanduser()
        if _is_dir(file) and not spec.get("converter"):
            generator = load_folder(file, ema=ema, device=device)
            generator.weights_source.update(name=entry.name)
            return generator
        if not file.is_file():
            raise WeightsNotFoundError(f"weights={str(weights)!r} is not a file: pass the path of the downloaded "
                                       f"{hub.get('filename', 'weights file')}")
        digest = sha256_file(file)
        expected = hub.get("sha256")
        note = ("matches the index" if digest == expected else
                "differs from the index's pinned file" if expected else "not pinned in the index")
        warnings.warn(f"{entry.name}: using local weights {file} (sha256 {digest[:12]}..., {note})", stacklevel=3)
        source = {"name": entry.name, "weights": str(file.resolve()), "sha256": digest}
    else:
        unpinned = [k for k in ("revision", "sha256") if not hub.get(k)]
        if unpinned and not allow_unpinned:
            raise WeightsNotFoundError(
                f"{entry.name}: the index pins no {' or '.join(unpinned)} for {hub['repo_id']}/{hub['filename']}, so "
                f"the file cannot be checked: pass allow_unpinned=True (zoo: --allow-unpinned) to download it anyway "
                f"and see the commit and sha256 to pin, or weights=PATH with a copy you trust")
        file = hub_download(hub["repo_id"], hub["filename"], hub.get("revision") or "main", hint=hint)
        digest = sha256_file(file)
        if unpinned:
            warnings.warn(f"{entry.name}: the index pins no {' or '.join(unpinned)} for {hub['repo_id']}/"
                          f"{hub['filename']}; using commit {commit_of(file, hub['filename'])[:12]} "
                          f"(sha256 {digest[:12]}...) unchecked", stacklevel=3)
        if hub.get("sha256") and digest != hub["sha256"]:
            raise WeightsError(f"{hub['repo_id']}/{hub['filename']}@{hub.get('revision')} has sha256 "
                               f"{digest[:12]}... but the zoo index pins {hub['sha256'][:12]}...: the cached file is "
                               f"altered or the pin is wrong; delete {file} and load again, or fix the index")
        source = {"name": entry.name, "repo_id": hub["repo_id"], "filename": hub["filename"],
                  "revision": hub.get("revision") or "main", "commit": commit_of(file, hub["filename"]),
                  "sha256": digest}
    if spec.get("converter"):
        generator = _load_converted(entry, file, digest, ema=ema, device=device)
        converted = generator.weights_source
        generator.weights_source = {**source, "converter": spec["converter"], "converted_path": converted["path"],
                                    "converted_sha256": converted["sha256"]}
        return generator
    # a zoo weights file: its config.json (and model_noema.safetensors for ema=False) sit beside it
    if file.name != EMA_FILE:
        raise WeightsNotFoundError(f"{file} is not a zoo {EMA_FILE}: pass the weights folder (config.json + "
                                   f"{EMA_FILE}) as weights=, or give the index entry a converter")
    if weights is None:
        commit = commit_of(file, hub["filename"])
        for sibling in [CONFIG_FILE] + ([] if ema else [RAW_FILE]):
            path_in_repo = str(PurePosixPath(hub["filename"]).with_name(sibling))
            try:
                hub_download(hub["repo_id"], path_in_repo, commit, hint=hint)
            except HubEntryMissingError:
                if sibling == RAW_FILE:
                    raise WeightsNotFoundError(
                        f"{entry.name} ships only the EMA generator: call load(..., ema=True)") from None
                raise NotAZooRepoError(f"{hub['repo_id']}@{commit} has no {path_in_repo} beside {hub['filename']}: "
                                       f"it is not a zoo weights folder; give the index entry a converter") from None
        if ENCODER_KEY in read_config(file.parent):  # an encoder family's model: its encoder comes with it
            hub_download(hub["repo_id"], str(PurePosixPath(hub["filename"]).with_name(ENCODER_FILE)), commit,
                         hint=hint)
    elif not (file.parent / CONFIG_FILE).is_file():
        raise WeightsNotFoundError(f"{file} has no {CONFIG_FILE} beside it: put the repo's {CONFIG_FILE} next to it "
                                   f"or pass the whole weights folder as weights=")
    generator = load_folder(file.parent, ema=ema, device=device)
    generator.weights_source.update(source)
    return generator


def _load_converted(entry: ModelEntry, file: Path, digest: str, *, ema: bool, device) -> Generator:
    """Convert ``file`` with the entry's converter once; later loads read the cached zoo weights folder.

    A file lock (``<sha256[:16]>.lock`` beside the folder) makes concurrent loads of the same entry, in threads or
    processes, wait for one conversion instead of each running its own.
    """
    from filelock import FileLock

    converter = entry.weights["converter"]
    options = entry.weights.get("converter_config", {})
    provenance = {"source_sha256": digest, "converter": converter, "converter_config": options}
    folder = converted_cache_dir() / entry.name / digest[:16]
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(folder.parent, err) from None
    with FileLock(folder.parent / f"{folder.name}.lock"):
        files = _cached_files(folder, provenance)
        if files is None:
            if folder.exists():
                shutil.rmtree(folder)  # converted with other options, or left incomplete: redo
            files = _convert_into(folder, file, provenance)
        return load_folder(folder, ema=ema, device=device, sha256=files)


def _cached_files(folder: Path, provenance: dict) -> dict[str, str] | None:
    """The ``{file: sha256}`` of a finished conversion with this provenance in ``folder``, else None."""
    try:
        cached = json.loads((folder / CACHE_INFO).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cached, dict) or {k: cached.get(k) for k in provenance} != provenance:
        return None
    files = cached.get("files")
    return files if isinstance(files, dict) else None


def _convert_into(folder: Path, file: Path, provenance: dict) -> dict[str, str]:
    """Run the converter and move its zoo weights folder into place as ``folder``; return ``{file: sha256}``."""
    from . import convert

    converter, options = provenance["converter"], provenance["converter_config"]
    logger.info("converting %s with %s (once; cached in %s)", file, converter, folder)
    generator = convert.convert(converter, file, None, **options)
    try:
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError as err:
        raise write_error(folder.parent, err) from None
    try:
        files = save_weights(tmp, generator.cpu().eval())
        atomic_write_bytes(tmp / CACHE_INFO, json.dumps({**provenance, "files": files}, indent=2).encode())
        try:
            os.replace(tmp, folder)
        except OSError as err:  # another process (without a working lock: some network file systems) finished first
            theirs = _cached_files(folder, provenance)
            if theirs is None:
                raise write_error(folder, err) from None
            files = theirs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files
