"""The Hugging Face Hub: publish a zoo entry as a repo, load zoo repos and Hub-hosted index entries back.

    zoo publish dcgan-fmnist --repo-id ORG/dcgan-fmnist            # one commit; prints the sha to pin
    zoo publish dcgan-fmnist --repo-id ORG/dcgan-fmnist --dry-run out/   # only write the repo folder
    G = zoo.load("hf://ORG/dcgan-fmnist@<sha>")                    # any zoo repo, pinned

A published repo holds ``model.safetensors`` (G_ema) [+ ``model_noema.safetensors``], ``config.json`` (the
generator's init kwargs, ``generator_class`` and a ``zoo`` block: entry metadata and the weights' sha256),
``README.md`` (model card with ``model-index``), ``grid.png`` and ``recipe.yaml``. Downloads go through
``hf_hub_download`` into the normal Hub cache and honour ``HF_HUB_OFFLINE``; nothing is unpickled.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from .cli import command
from .errors import InvalidArgumentError, WeightsError, WeightsNotFoundError
from .generator import Generator
from .registry import ModelEntry, get_entry
from .serialization import (
    CONFIG_FILE,
    EMA_FILE,
    GRID_FILE,
    RAW_FILE,
    atomic_write_bytes,
    load_folder,
    read_config,
    save_weights,
    sha256_file,
    verify_sha256,
)

logger = logging.getLogger(__name__)

CARD_FILE = "README.md"
RECIPE_FILE = "recipe.yaml"
CARD_TEMPLATE = Path(__file__).with_name("model_card_template.md")
REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_INFO = "zoo_cache.json"

#: Hub dataset ids for the ``datasets:`` field of the card (other dataset names are written as they are).
HUB_DATASETS = {
    "fashion-mnist": "zalando-datasets/fashion_mnist",
    "fmnist": "zalando-datasets/fashion_mnist",
    "mnist": "ylecun/mnist",
    "cifar10": "uoft-cs/cifar10",
    "cifar-10": "uoft-cs/cifar10",
    "imagenet": "ILSVRC/imagenet-1k",
    "imagenet-1k": "ILSVRC/imagenet-1k",
}


class HubError(WeightsNotFoundError):
    """A Hub file that cannot be had right now: offline and not cached, unknown revision, missing repo or file."""


class NotAZooRepoError(WeightsError):
    """A Hub repo without a zoo ``config.json`` (one naming ``generator_class``)."""


# ============================================================================ loading
def parse_hf_spec(spec: str) -> tuple[str, str]:
    """``"hf://ORG/REPO[@REV]"`` -> ``("ORG/REPO", REV or "main")``."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    body = spec[len("hf://"):] if spec.startswith("hf://") else spec
    repo_id, _, revision = body.partition("@")
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = ""
    if repo_id.count("/") != 1 or (body.count("@") and not revision):
        raise InvalidArgumentError(f"{spec!r} is not a Hub spec: write hf://ORG/REPO or hf://ORG/REPO@REVISION")
    return repo_id, revision or "main"


def hub_download(repo_id: str, filename: str, revision: str, *, hint: str = "") -> Path:
    """``hf_hub_download`` into the normal Hub cache, with one-line errors that say what to fetch or set.

    ``hint`` is appended to the offline message (e.g. how to pass a local copy instead).
    """
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}/{filename} at revision {revision}"
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except RevisionNotFoundError:
        raise HubError(f"{repo_id} has no revision {revision!r}: pin a branch, tag or commit sha that exists "
                       f"(see {constants.ENDPOINT}/{repo_id}/commits/main)") from None
    except RepositoryNotFoundError:
        raise HubError(f"the Hub has no repo {repo_id} you can read: check the name, or log in "
                       f"(`hf auth login` or HF_TOKEN) if it is private or gated") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as err:
        if not constants.is_offline_mode():
            raise HubError(f"cannot download {where} and it is not in the Hub cache ({constants.HF_HUB_CACHE}): "
                           f"check the connection{hint}") from None
        cached = cached_revisions(repo_id)
        if cached and revision not in cached and not any(sha.startswith(revision) for sha in cached):
            raise HubError(f"unknown revision {revision!r} of {repo_id}: the Hub cache has only "
                           f"{', '.join(sorted(cached))}; use one of those, or unset HF_HUB_OFFLINE to look it up"
                           ) from None
        if cached and isinstance(err, LocalEntryNotFoundError) and _known_missing(repo_id, revision, filename):
            raise EntryMissing(repo_id, filename, revision) from None
        raise HubError(f"{where} is not in the Hub cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE=1: unset "
                       f"HF_HUB_OFFLINE to download it, or fetch it once with `hf download {repo_id} {filename} "
                       f"--revision {revision}`{hint}") from None
    except EntryNotFoundError:
        raise EntryMissing(repo_id, filename, revision) from None
    except HfHubHTTPError as err:
        raise HubError(f"the Hub refused {where}: {_first_line(err)}") from None


class EntryMissing(HubError):
    """A file that the repo does not have at that revision."""

    def __init__(self, repo_id: str, filename: str, revision: str):
        super().__init__(f"{repo_id} has no file {filename} at revision {revision}")
        self.repo_id, self.filename, self.revision = repo_id, filename, revision


def cached_revisions(repo_id: str) -> set[str]:
    """Branch/tag names and commit shas of ``repo_id`` in the Hub cache (empty if the repo is not cached)."""
    folder = _storage_folder(repo_id)
    refs, snapshots = folder / "refs", folder / "snapshots"
    names = {p.relative_to(refs).as_posix() for p in refs.rglob("*") if p.is_file()} if refs.is_dir() else set()
    return names | ({p.name for p in snapshots.iterdir() if p.is_dir()} if snapshots.is_dir() else set())


def _storage_folder(repo_id: str) -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE) / ("models--" + repo_id.replace("/", "--"))


def _known_missing(repo_id: str, revision: str, filename: str) -> bool:
    """True if huggingface_hub cached the fact that ``filename`` does not exist at ``revision``."""
    folder = _storage_folder(repo_id)
    ref = folder / "refs" / revision
    sha = ref.read_text().strip() if ref.is_file() else revision
    return (folder / ".no_exist" / sha / filename).exists()


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _commit_of(path: Path, filename: str) -> str:
    """The commit sha of a cached file ``.../snapshots/<sha>/<filename>``."""
    return path.parents[len(Path(filename).parts) - 1].name


def load_from_hub(spec: str, *, ema: bool = True, device: str | torch.device = "cpu") -> Generator:
    """Load any zoo repo on the Hub: ``"hf://ORG/REPO[@REVISION]"`` (default revision ``main``).

    Both files are taken from the same commit (the one ``config.json`` resolved to); the weights are checked
    against the sha256 that ``zoo publish`` wrote into ``config.json``.
    """
    repo_id, revision = parse_hf_spec(spec)
    try:
        config_path = hub_download(repo_id, CONFIG_FILE, revision)
    except EntryMissing:
        raise NotAZooRepoError(f"{repo_id}@{revision} has no {CONFIG_FILE}: it is not a gan-zoo repo "
                               f"(publish one with `zoo publish NAME --repo-id {repo_id}`)") from None
    config = _zoo_config(config_path, f"{repo_id}@{revision}")
    commit = _commit_of(config_path, CONFIG_FILE)
    weights_name = EMA_FILE if ema else RAW_FILE
    try:
        weights = hub_download(repo_id, weights_name, commit)
    except EntryMissing:
        if not ema:
            raise WeightsNotFoundError(f"{repo_id} ships only the EMA generator: call load(..., ema=True)") from None
        raise
    return load_folder(weights.parent, ema=ema, device=device,
                       sha256=config.get("zoo", {}).get("sha256"))


def _zoo_config(path: Path, where: str) -> dict:
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        config = None
    if not isinstance(config, dict) or "generator_class" not in config:
        raise NotAZooRepoError(f"{where} is not a gan-zoo repo: its {CONFIG_FILE} names no generator_class "
                               f"(zoo.load('hf://...') reads repos written by `zoo publish`)")
    return config


def converted_cache_dir() -> Path:
    """Where converted upstream checkpoints are kept: ``$ZOO_CACHE/converted`` or ``~/.cache/gan-zoo/converted``."""
    return Path(os.environ.get("ZOO_CACHE") or "~/.cache/gan-zoo").expanduser() / "converted"


def load_entry_weights(
    entry: ModelEntry,
    *,
    ema: bool = True,
    device: str | torch.device = "cpu",
    weights: str | os.PathLike | None = None,
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
        if file.is_dir() and not spec.get("converter"):
            return load_folder(file, ema=ema, device=device)
        if not file.is_file():
            raise WeightsNotFoundError(f"weights={str(weights)!r} is not a file: pass the path of the downloaded "
                                       f"{hub.get('filename', 'weights file')}")
        digest = sha256_file(file)
        expected = hub.get("sha256")
        note = ("matches the index" if digest == expected else
                "differs from the index's pinned file" if expected else "not pinned in the index")
        warnings.warn(f"{entry.name}: using local weights {file} (sha256 {digest[:12]}..., {note})", stacklevel=3)
    else:
        file = hub_download(hub["repo_id"], hub["filename"], hub.get("revision") or "main", hint=hint)
        digest = sha256_file(file)
        unpinned = [k for k in ("revision", "sha256") if not hub.get(k)]
        if unpinned:
            commit = _commit_of(file, hub["filename"])
            warnings.warn(f"{entry.name}: the index pins no {' or '.join(unpinned)} for {hub['repo_id']}/"
                          f"{hub['filename']}; using commit {commit[:12]} (sha256 {digest[:12]}...) unchecked",
                          stacklevel=3)
        if hub.get("sha256") and digest != hub["sha256"]:
            raise WeightsError(f"{hub['repo_id']}/{hub['filename']}@{hub.get('revision')} has sha256 "
                               f"{digest[:12]}... but the zoo index pins {hub['sha256'][:12]}...: the cached file is "
                               f"altered or the pin is wrong; delete {file} and load again, or fix the index")
    if spec.get("converter"):
        return _load_converted(entry, file, digest, ema=ema, device=device)
    # a zoo weights file: its config.json (and model_noema.safetensors for ema=False) sit beside it
    if file.name != EMA_FILE:
        raise WeightsNotFoundError(f"{file} is not a zoo {EMA_FILE}: pass the weights folder (config.json + "
                                   f"{EMA_FILE}) as weights=, or give the index entry a converter")
    if weights is None:
        commit = _commit_of(file, hub["filename"])
        for sibling in [CONFIG_FILE] + ([] if ema else [RAW_FILE]):
            path_in_repo = str(PurePosixPath(hub["filename"]).with_name(sibling))
            try:
                hub_download(hub["repo_id"], path_in_repo, commit, hint=hint)
            except EntryMissing:
                if sibling == RAW_FILE:
                    raise WeightsNotFoundError(
                        f"{entry.name} ships only the EMA generator: call load(..., ema=True)") from None
                raise NotAZooRepoError(f"{hub['repo_id']}@{commit} has no {path_in_repo} beside {hub['filename']}: "
                                       f"it is not a zoo weights folder; give the index entry a converter") from None
    elif not (file.parent / CONFIG_FILE).is_file():
        raise WeightsNotFoundError(f"{file} has no {CONFIG_FILE} beside it: put the repo's {CONFIG_FILE} next to it "
                                   f"or pass the whole weights folder as weights=")
    return load_folder(file.parent, ema=ema, device=device)


def _load_converted(entry: ModelEntry, file: Path, digest: str, *, ema: bool, device) -> Generator:
    """Convert ``file`` with the entry's converter once; later loads read the cached zoo weights folder."""
    from . import convert

    converter = entry.weights["converter"]
    options = entry.weights.get("converter_config", {})
    provenance = {"source_sha256": digest, "converter": converter, "converter_config": options}
    folder = converted_cache_dir() / entry.name / digest[:16]
    info = folder / CACHE_INFO
    if info.is_file():
        try:
            cached = json.loads(info.read_text())
        except json.JSONDecodeError:
            cached = {}
        if {k: cached.get(k) for k in provenance} == provenance and "files" in cached:
            return load_folder(folder, ema=ema, device=device, sha256=cached["files"])
        shutil.rmtree(folder)  # converted with other options: redo
    logger.info("converting %s with %s (once; cached in %s)", file, converter, folder)
    generator = convert.convert(converter, file, None, **options)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        files = save_weights(tmp, generator.cpu().eval())
        atomic_write_bytes(tmp / CACHE_INFO, json.dumps({**provenance, "files": files}, indent=2).encode())
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same conversion first: use theirs
            if not info.is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return load_folder(folder, ema=ema, device=device, sha256=json.loads(info.read_text())["files"])


# ============================================================================ publishing
#: Display names of the metrics ``zoo.metrics`` records (others are shown as they are named).
METRIC_NAMES = {"fid": "FID", "kid": "KID", "is": "Inception Score", "precision": "precision", "recall": "recall",
                "classes_covered": "classes covered", "kl_uniform": "class-histogram KL from uniform",
                "label_accuracy": "accuracy of the requested label"}


def card_metrics(scores: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Flatten the entry's ``scores`` into rows ``{"metric", "name", "value", "std", "protocol"}``.

    A score is ``{"metrics": {...}, "coverage": {...}, "protocol": {...}}`` as ``zoo.metrics`` writes it
    (``kid_mean``/``kid_std`` pairs become one row with a std); ``{"metric": name, "value": v, "protocol": {...}}``
    and flat ``{name: value}`` records are read too. Lists (class histograms) and non-numbers are left out.
    """
    rows = []
    for record in scores or []:
        if not isinstance(record, dict):
            continue
        protocol = record.get("protocol") if isinstance(record.get("protocol"), dict) else {}
        if isinstance(record.get("metrics"), dict):
            values = dict(record["metrics"])
            coverage = record.get("coverage") if isinstance(record.get("coverage"), dict) else {}
            values.update({k: v for k, v in coverage.items() if k != "num_classes"})
        elif "value" in record and (record.get("metric") or record.get("name")):
            values = {record.get("metric") or record.get("name"): record["value"]}
        else:
            values = {k: v for k, v in record.items() if k not in ("protocol", "coverage")}
        for key, value in values.items():
            key = str(key)
            if key.endswith("_std") and key[:-4] + "_mean" in values:
                continue  # shown with its mean
            base = key[:-5] if key.endswith("_mean") else key
            number, std = _number(value)
            if number is None:
                continue
            if key.endswith("_mean"):
                std = _number(values.get(base + "_std"))[0]
            rows.append({"metric": base.lower(), "name": METRIC_NAMES.get(base.lower(), base), "value": number,
                         "std": std, "protocol": protocol})
    return rows


def _number(value: Any) -> tuple[float | None, float | None]:
    """(value, std) of a number, ``{"mean", "std"}`` or ``[mean, std]``; (None, None) for anything else."""
    def real(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if real(value):
        return float(value), None
    if isinstance(value, dict) and real(value.get("mean")):
        return float(value["mean"]), float(value["std"]) if real(value.get("std")) else None
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(real(x) for x in value):
        return float(value[0]), float(value[1])
    return None, None


def _protocol_text(protocol: dict[str, Any]) -> str:
    """A protocol record in one line: the fields that decide comparability, or every field if it is not
    ``zoo.metrics``' record."""
    ref = protocol.get("reference")
    if protocol.get("extractor") and isinstance(ref, dict) and "n_generated" in protocol:
        sha = protocol.get("extractor_weights_sha256")
        text = (f"{protocol['extractor']} features{f' (weights {sha[:12]})' if isinstance(sha, str) else ''}, "
                f"{_count(protocol['n_generated'])} samples, seed {protocol.get('seed')}, vs {ref.get('dataset')} "
                f"{ref.get('split')} split ({_count(ref.get('count'))} images at {ref.get('resolution')} px), "
                f"resize {protocol.get('resize')}")
        return text + (f", {protocol['date']}" if protocol.get("date") else "")
    parts = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            parts.append(f"{prefix}={value}")

    walk("", protocol)
    return "; ".join(parts) or "not recorded"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _yaml_safe(value: Any) -> Any:
    """Protocol values as YAML-friendly scalars (lists and dicts kept, anything else as str)."""
    if isinstance(value, dict):
        return {str(k): _yaml_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_safe(v) for v in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def render_card(entry: ModelEntry, repo_id: str, files: dict[str, str], config: dict[str, Any]) -> str:
    """The repo's README.md: YAML front matter (with model-index) + the body of ``model_card_template.md``."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    dataset_id = HUB_DATASETS.get(entry.dataset.lower(), entry.dataset)
    task = "unconditional-image-generation" if not entry.num_classes else "class-conditional-image-generation"
    metrics = card_metrics(entry.scores)
    eval_results = []
    for row in metrics:
        protocol = row["protocol"]
        split = protocol.get("reference_split") or protocol.get("split") or _nested(protocol, "reference", "split")
        eval_results.append(EvalResult(
            task_type=task, dataset_type=dataset_id, dataset_name=entry.dataset,
            dataset_split=str(split) if split else None,
            metric_type=row["metric"], metric_value=row["value"], metric_name=row["name"],
            metric_args=_yaml_safe(protocol) or None,
        ))
    card_data = ModelCardData(
        model_name=entry.name,
        library_name="gan-zoo",
        license=license_id(entry.license),
        tags=sorted({"gan", "gan-zoo", "image-generation", "pytorch", entry.family, entry.dataset}),
        datasets=[dataset_id],
        pipeline_tag="unconditional-image-generation" if not entry.num_classes else None,
        eval_results=eval_results or None,
    )
    for row in metrics:
        row["protocol_text"] = _protocol_text(row["protocol"])
    from . import __version__

    card = ModelCard.from_template(
        card_data,
        template_path=str(CARD_TEMPLATE),
        entry=entry,
        repo_id=repo_id,
        metrics=metrics,
        files=files,
        config={k: f"({len(v)} entries: see config.json)" if isinstance(v, list) and len(v) > 20 else v
                for k, v in config.items() if k != "zoo"},
        has_raw=RAW_FILE in files,
        has_recipe=RECIPE_FILE in files,
        zoo_version=__version__,
    )
    return str(card)


def license_id(text: str) -> str:
    """The Hub licence id at the start of an entry's licence text ("mit (upstream terms ...)" -> "mit")."""
    first = (text or "").split(" ", 1)[0].strip().lower()
    return first if re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", first) else "other"


def _nested(mapping: dict, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _recipe_path(entry: ModelEntry) -> Path | None:
    if not entry.recipe:
        return None
    recipe = Path(entry.recipe)
    for candidate in (recipe, REPO_ROOT / recipe, REPO_ROOT / "recipes" / recipe.name):
        if candidate.is_file():
            return candidate
    return None


def build_repo_folder(name: str, out_dir: str | os.PathLike, repo_id: str,
                      weights: str | os.PathLike | None = None) -> dict[str, str]:
    """Write the repo folder of zoo entry ``name`` into ``out_dir``; return ``{file: sha256}`` of what was written.

    Bundled weights are copied byte for byte (so the repo loads bit-identically); other entries are loaded with
    ``zoo.load(name, weights=weights)`` (converted if needed) and saved.
    """
    from . import load

    entry = get_entry(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = entry.bundled_dir
    if source is not None and out.resolve() == source.resolve():
        raise InvalidArgumentError(f"{out} is {name}'s bundled weights folder: write the repo folder somewhere else")
    for optional in (RAW_FILE, RECIPE_FILE):  # left over from an earlier dry run into the same folder
        (out / optional).unlink(missing_ok=True)
    generator = None
    if source is not None:
        if not (source / EMA_FILE).is_file():
            raise WeightsNotFoundError(f"{name}'s bundled weights {source / EMA_FILE} are missing: reinstall gan-zoo")
        expected = entry.weights.get("sha256") or {}
        for file in (EMA_FILE, RAW_FILE):
            if (source / file).is_file():
                verify_sha256(source / file, expected.get(file))
                atomic_write_bytes(out / file, (source / file).read_bytes())
        config = read_config(source)
    else:
        generator = load(name, weights=weights)
        with tempfile.TemporaryDirectory() as tmp:
            save_weights(tmp, generator)
            atomic_write_bytes(out / EMA_FILE, (Path(tmp) / EMA_FILE).read_bytes())
            config = read_config(tmp)
    digests = {f: sha256_file(out / f) for f in (EMA_FILE, RAW_FILE) if (out / f).is_file()}
    from . import __version__

    config["zoo"] = {
        "name": entry.name, "family": entry.family, "paper": entry.paper, "dataset": entry.dataset,
        "resolution": entry.resolution, "channels": entry.channels, "latent_dim": entry.latent_dim,
        "num_classes": entry.num_classes, "class_names": entry.class_names, "license": entry.license,
        "sha256": digests, "gan_zoo_version": __version__,
        "output": "float images [n, C, H, W] in [-1, 1]",
    }
    atomic_write_bytes(out / CONFIG_FILE, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    if source is not None and (source / GRID_FILE).is_file():
        atomic_write_bytes(out / GRID_FILE, (source / GRID_FILE).read_bytes())
    else:
        atomic_write_bytes(out / GRID_FILE, _grid_png(generator or load(name, weights=weights)))
    recipe = _recipe_path(entry)
    if recipe is not None:
        atomic_write_bytes(out / RECIPE_FILE, recipe.read_bytes())
    else:
        warnings.warn(f"{name}: recipe {entry.recipe!r} not found; the repo will have no {RECIPE_FILE}", stacklevel=2)
    files = {f: sha256_file(out / f) for f in (EMA_FILE, RAW_FILE, CONFIG_FILE, GRID_FILE, RECIPE_FILE)
             if (out / f).is_file()}
    atomic_write_bytes(out / CARD_FILE, render_card(entry, repo_id, files, config).encode())
    files[CARD_FILE] = sha256_file(out / CARD_FILE)
    return files


def _grid_png(generator: Generator) -> bytes:
    from torchvision.utils import save_image

    from .callbacks import image_grid

    labels = [(i // 8) % generator.num_classes for i in range(64)] if generator.num_classes else None
    buffer = io.BytesIO()
    save_image(image_grid(generator.sample(64, seed=0, labels=labels)), buffer, format="png")
    return buffer.getvalue()


def publish(
    name: str,
    repo_id: str,
    *,
    private: bool = False,
    dry_run: str | os.PathLike | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    weights: str | os.PathLike | None = None,
) -> tuple[Path | None, Any]:
    """Assemble ``name``'s repo folder and upload it to ``repo_id`` as one commit.

    Returns ``(folder, CommitInfo)``; with ``dry_run`` only the folder is written (``(folder, None)``).
    ``weights`` is a local copy of the upstream file for entries that are not bundled.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        repo_id = ""
    if repo_id.count("/") != 1:
        raise InvalidArgumentError("--repo-id must be ORG/REPO (a user or organisation, then the repo name)")
    if dry_run is not None:
        build_repo_folder(name, dry_run, repo_id, weights)
        return Path(dry_run), None
    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as tmp:
        files = build_repo_folder(name, tmp, repo_id, weights)
        return None, upload_folder_as_commit(Path(tmp), files, repo_id, private=private, revision=revision,
                                             commit_message=commit_message or f"Publish {name} (gan-zoo)",
                                             endpoint=endpoint, token=token)


def upload_folder_as_commit(folder: Path, files: dict[str, str], repo_id: str, *, private: bool,
                            revision: str | None, commit_message: str, endpoint: str | None,
                            token: str | None) -> Any:
    """``create_repo(exist_ok=True)`` then one ``create_commit`` adding ``files`` from ``folder``."""
    from huggingface_hub import CommitOperationAdd, HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if constants.is_offline_mode():
        raise HubError("HF_HUB_OFFLINE=1 blocks uploads: unset HF_HUB_OFFLINE, or write the folder only with "
                       "--dry-run OUT_DIR")
    api = HfApi(endpoint=endpoint, token=token)
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(folder / f)) for f in sorted(files)]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        return api.create_commit(repo_id, operations, commit_message=commit_message, revision=revision)
    except OfflineModeIsEnabled:
        raise HubError("HF_HUB_OFFLINE=1 blocks uploads: unset HF_HUB_OFFLINE or use --dry-run OUT_DIR") from None
    except HfHubHTTPError as err:
        status = getattr(err.response, "status_code", None)
        fix = ("log in with `hf auth login` or set HF_TOKEN to a token with write access"
               if status in (401, 403) else "check --repo-id and --revision (the branch must exist)")
        raise HubError(f"uploading to {repo_id} failed ({_first_line(err)}): {fix}") from None
    except Exception as err:  # connection errors of huggingface_hub's HTTP client (httpx2)
        if type(err).__module__.startswith("httpx"):
            raise HubError(f"cannot reach the Hub at {api.endpoint} ({err}): check the connection") from None
        raise


# ============================================================================ CLI
def _publish_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="zoo model name (see `zoo list`)")
    p.add_argument("--repo-id", required=True, help="ORG/REPO on the Hugging Face Hub")
    p.add_argument("--private", action="store_true", help="create the repo private (if it does not exist)")
    p.add_argument("--dry-run", metavar="OUT_DIR", help="only write the repo folder to OUT_DIR; upload nothing")
    p.add_argument("--revision", help="branch to commit to (default main; the branch must exist)")
    p.add_argument("--commit-message", help="default: 'Publish NAME (gan-zoo)'")
    p.add_argument("--weights", help="local copy of the upstream file, for entries whose weights are not bundled")


@command("publish", "publish a model to the Hugging Face Hub as one commit (or --dry-run a folder)", _publish_args)
def cmd_publish(args: argparse.Namespace) -> int:
    folder, commit = publish(args.name, args.repo_id, private=args.private, dry_run=args.dry_run,
                             revision=args.revision, commit_message=args.commit_message, weights=args.weights)
    if commit is None:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                print(f"  {path.name:<26} {path.stat().st_size:>10,d} B")
        print(f"wrote {folder}: the repo folder of {args.name} for {args.repo_id} (dry run, nothing uploaded)")
        print(f"check it: zoo sample {folder} --out grid.png")
        return 0
    sha = commit.oid
    print(f"committed {args.name} to {args.repo_id}: {commit.commit_url}")
    print(f"commit {sha}")
    print(f"pin it:  zoo.load('hf://{args.repo_id}@{sha}')")
    entry = get_entry(args.name)
    digest = _weights_sha(entry)
    if digest:
        hub = {"repo_id": args.repo_id, "filename": EMA_FILE, "revision": sha, "sha256": digest}
        print(f"index record: \"hub\": {json.dumps(hub)}")
    return 0


def _weights_sha(entry: ModelEntry) -> str | None:
    if entry.bundled_dir is not None and (entry.bundled_dir / EMA_FILE).is_file():
        return (entry.weights.get("sha256") or {}).get(EMA_FILE) or sha256_file(entry.bundled_dir / EMA_FILE)
    return None


__all__ = [
    "load_from_hub", "load_entry_weights", "publish", "build_repo_folder", "render_card", "card_metrics",
    "parse_hf_spec", "hub_download", "converted_cache_dir", "HubError", "NotAZooRepoError",
]
