"""The zoo index: which families exist (code) and which weights exist (``zoo/index.json``).

Families register their LightningModule with ``@register_family("name")`` in their own file under
``zoo/families/``. Weights are entries in ``index.json``, keyed by timm-style names ``<family>-<dataset>[-<res>]``;
each records what the generator produces, where its weights are (bundled folder or Hub file, with sha256),
the recipe that trained it, and its scores with the protocol that measured them.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import re
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

from .errors import IndexFormatError, InvalidArgumentError, UnknownModelError, short_repr
from .hub import REVISION

INDEX_FILE = Path(__file__).with_name("index.json")
WEIGHTS_DIR = Path(__file__).with_name("weights")
FAMILIES: dict[str, type] = {}
#: Entry names are folder names under zoo/weights/: timm-style, nothing that could leave that folder.
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
SHA256 = re.compile(r"[0-9a-f]{64}")
#: A file's path inside a Hub repo: relative, '/'-separated, no control characters, no '.' or '..' parts.
REPO_PATH = re.compile(r"[^/\\\x00-\x1f]+(/[^/\\\x00-\x1f]+)*")
#: Each field of an entry, the JSON types it may hold (None: null allowed) and what that means in words.
FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "family": ((str,), "a string"), "paper": ((str,), "a string"), "dataset": ((str,), "a string"),
    "resolution": ((int,), "a positive integer"), "channels": ((int,), "a positive integer"),
    "latent_dim": ((int,), "a positive integer"), "weights": ((dict,), "an object"),
    "recipe": ((str, type(None)), "a string or null"), "num_classes": ((int,), "an integer >= 0"),
    "class_names": ((list, type(None)), "a list of strings or null"), "license": ((str,), "a string"),
    "description": ((str,), "a string"), "training": ((dict,), "an object"), "scores": ((list,), "a list"),
    "measurements": ((dict,), "an object"),
}


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or ".." in name:
        raise InvalidArgumentError(f"{name!r} is not a zoo name: use lower-case letters, digits, '.', '_' and '-', "
                                   f"e.g. dcgan-fmnist")
    return name


def register_family(name: str):
    """Class decorator: register a GANModule subclass as family ``name``."""

    def decorate(cls):
        if name in FAMILIES and FAMILIES[name] is not cls:
            raise ValueError(f"family {name!r} is registered twice ({FAMILIES[name].__qualname__}, {cls.__qualname__})")
        cls.family = name
        FAMILIES[name] = cls
        return cls

    return decorate


@dataclass
class ModelEntry:
    """One set of weights in the zoo."""

    name: str
    family: str
    paper: str
    dataset: str
    resolution: int
    channels: int
    latent_dim: int
    weights: dict[str, Any]
    recipe: str | None = None
    num_classes: int = 0
    class_names: list[str] | None = None
    license: str = "apache-2.0"
    description: str = ""  # for users: what the model is and how to call it
    provenance: str = ""  # for maintainers: where the weights came from and how their pins were found
    training: dict[str, Any] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    # the family's mechanism measured on this model or its training run (InfoGAN's code recovery, a classifier
    # head's accuracy), by name, each with the command that measured it
    measurements: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bundled_dir(self) -> Path | None:
        folder = self.weights.get("bundled")
        return WEIGHTS_DIR / folder if folder else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_index(cls, name: str, fields: Any, where: Path | None = None) -> ModelEntry:
        """The one way to build an entry from an index record; a malformed record is a one-line error."""
        where = where or INDEX_FILE
        if not isinstance(fields, dict):
            raise IndexFormatError(f"{where}: entry {short_repr(name)} is not a JSON object: fix or re-create the "
                                   f"index")
        unknown = sorted(set(fields) - {f.name for f in dataclass_fields(cls)} - {"name"})
        if unknown:
            raise IndexFormatError(f"{where}: entry {short_repr(name)} has unknown field(s) "
                                   f"{', '.join(short_repr(k) for k in unknown[:5])}: "
                                   f"fix the entry or upgrade gan-zoo")
        try:
            entry = cls(**{**fields, "name": name})
        except TypeError as err:
            raise IndexFormatError(f"{where}: entry {short_repr(name)} is incomplete ({err}): fix the entry") from None
        for key, (types, words) in FIELD_TYPES.items():
            value = getattr(entry, key)
            if (not isinstance(value, types) or isinstance(value, bool)
                    or key in ("resolution", "channels", "latent_dim") and value <= 0
                    or key == "num_classes" and value < 0
                    or key == "class_names" and value is not None and not all(isinstance(c, str) for c in value)):
                raise IndexFormatError(f"{where}: entry {short_repr(name)} has {key}={short_repr(value)}: expected "
                                       f"{words}; fix the entry")
        bundled = entry.weights.get("bundled")
        if not isinstance(name, str) or not NAME.fullmatch(name) or bundled is not None and (
                not isinstance(bundled, str) or not NAME.fullmatch(bundled) or ".." in bundled):
            raise IndexFormatError(f"{where}: entry {short_repr(name)} (bundled folder {short_repr(bundled)}) is not "
                                   f"a plain zoo name: fix the entry")
        problem = _weights_problem(entry.weights)
        if problem:
            raise IndexFormatError(f"{where}: entry {short_repr(name)} has weights.{problem}; fix the entry")
        return entry


def _weights_problem(weights: dict[str, Any]) -> str | None:
    """What is wrong with an entry's ``weights`` object (None: nothing). Digests are 64 lower-case hex digits;
    a Hub file names its repo, a relative path and, to be checked, a revision and a sha256."""
    def digest(value, allow_none=False):
        return (value is None and allow_none) or isinstance(value, str) and SHA256.fullmatch(value)

    unknown = sorted(set(weights) - {"bundled", "sha256", "hub", "converter", "converter_config"})
    if unknown:
        return f"{short_repr(unknown[0])}: not a field of weights (bundled, sha256, hub, converter, converter_config)"
    sha = weights.get("sha256")
    if sha is not None and not (isinstance(sha, dict) and all(isinstance(k, str) and digest(v) for k, v in
                                                              sha.items())):
        return f"sha256={short_repr(sha)}: expected {{file name: sha256 hex digest}}"
    for key in ("converter",):
        if weights.get(key) is not None and not isinstance(weights[key], str):
            return f"{key}={short_repr(weights[key])}: expected a string"
    if not isinstance(weights.get("converter_config", {}), dict):
        return f"converter_config={short_repr(weights['converter_config'])}: expected an object"
    hub = weights.get("hub")
    if hub is None:
        return None
    if not isinstance(hub, dict):
        return f"hub={short_repr(hub)}: expected an object with repo_id, filename, revision, sha256"
    repo_id, filename, revision = hub.get("repo_id"), hub.get("filename"), hub.get("revision")
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(REVISION.fullmatch(p) for p in
                                                                         repo_id.split("/")):
        return f"hub.repo_id={short_repr(repo_id)}: expected ORG/REPO"
    if (not isinstance(filename, str) or not REPO_PATH.fullmatch(filename) or not filename.isprintable()
            or {".", ".."} & set(filename.split("/"))):
        return f"hub.filename={short_repr(filename)}: expected a relative path in the repo"
    if revision is not None and (not isinstance(revision, str) or not REVISION.fullmatch(revision)
                                 or ".." in revision):
        return f"hub.revision={short_repr(revision)}: expected a branch, tag or commit sha (or null)"
    if not digest(hub.get("sha256"), allow_none=True):
        return f"hub.sha256={short_repr(hub.get('sha256'))}: expected a sha256 hex digest (or null)"
    return None


def read_index(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or INDEX_FILE
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_bytes())
    except OSError as err:
        raise IndexFormatError(f"cannot read {path} ({err.strerror or err}): check the file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        reason = "nested too deeply" if isinstance(err, RecursionError) else str(err).splitlines()[0]
        raise IndexFormatError(f"{path} is not valid JSON ({reason}): restore it with git or reinstall gan-zoo"
                               ) from None
    if not isinstance(index, dict):
        raise IndexFormatError(f"{path} is not a JSON object of entries: restore it with git or reinstall gan-zoo")
    return index


def write_index(index: dict[str, dict[str, Any]], path: Path | None = None) -> None:
    """Rewrite the index atomically (sorted keys, so diffs stay small)."""
    from .serialization import atomic_write_bytes

    atomic_write_bytes(path or INDEX_FILE, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


def _entries() -> dict[str, ModelEntry]:
    return {name: ModelEntry.from_index(name, fields) for name, fields in read_index().items()}


def list_models(pattern: str = "*", *, family: str | None = None, dataset: str | None = None,
                pretrained: bool = False) -> list[str]:
    """Names in the index matching a shell wildcard (``"dcgan*"``), optionally filtered by family or dataset.

    ``pretrained=True`` keeps only entries whose weights are on this machine (bundled), like timm's flag.
    """
    names = []
    for name, entry in sorted(_entries().items()):
        if not fnmatch.fnmatch(name, pattern):
            continue
        if family and entry.family != family or dataset and entry.dataset != dataset:
            continue
        if pretrained and not (entry.bundled_dir and entry.bundled_dir.is_dir()):
            continue
        names.append(name)
    return names


def get_entry(name: str) -> ModelEntry:
    entries = _entries()
    if not isinstance(name, str):
        raise UnknownModelError(f"a zoo name is a string, got {short_repr(name)}: list the models with `zoo list`")
    if name not in entries:
        close = difflib.get_close_matches(name, list(entries), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "list the models with `zoo list` or zoo.list_models()"
        raise UnknownModelError(f"unknown model {short_repr(name)}: {hint}")
    return entries[name]


def info(name: str) -> dict[str, Any]:
    """Everything the index records about ``name`` (a copy: changing it does not change the index)."""
    return copy.deepcopy(get_entry(name).to_dict())
