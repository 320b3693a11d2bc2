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

from .errors import IndexFormatError, InvalidArgumentError, UnknownModelError

INDEX_FILE = Path(__file__).with_name("index.json")
WEIGHTS_DIR = Path(__file__).with_name("weights")
FAMILIES: dict[str, type] = {}
#: Entry names are folder names under zoo/weights/: timm-style, nothing that could leave that folder.
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


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
            raise IndexFormatError(f"{where}: entry {name!r} is not a JSON object: fix or re-create the index")
        unknown = sorted(set(fields) - {f.name for f in dataclass_fields(cls)} - {"name"})
        if unknown:
            raise IndexFormatError(f"{where}: entry {name!r} has unknown field(s) {', '.join(unknown)}: "
                                   f"fix the entry or upgrade gan-zoo")
        try:
            entry = cls(**{**fields, "name": name})
        except TypeError as err:
            raise IndexFormatError(f"{where}: entry {name!r} is incomplete ({err}): fix the entry") from None
        if not isinstance(entry.weights, dict):
            raise IndexFormatError(f"{where}: entry {name!r} has weights={entry.weights!r}: expected an object")
        bundled = entry.weights.get("bundled")
        if not NAME.fullmatch(name) or bundled is not None and (not isinstance(bundled, str) or
                                                                not NAME.fullmatch(bundled) or ".." in bundled):
            raise IndexFormatError(f"{where}: entry {name!r} (bundled folder {bundled!r}) is not a plain zoo name: "
                                   f"fix the entry")
        return entry


def read_index(path: Path | None = None) -> dict[str, dict[str, Any]]:
    path = path or INDEX_FILE
    if not path.is_file():
        return {}
    try:
        index = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(f"{path} is not valid JSON ({err}): restore it with git or reinstall gan-zoo") from None
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
    if name not in entries:
        close = difflib.get_close_matches(name, list(entries), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "list the models with `zoo list` or zoo.list_models()"
        raise UnknownModelError(f"unknown model {name!r}: {hint}")
    return entries[name]


def info(name: str) -> dict[str, Any]:
    """Everything the index records about ``name`` (a copy: changing it does not change the index)."""
    return copy.deepcopy(get_entry(name).to_dict())
