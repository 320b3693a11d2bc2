"""Publishing to the Hugging Face Hub: a zoo entry's repo folder, its model card, and the upload as one commit.

    zoo publish dcgan-fmnist --repo-id ORG/dcgan-fmnist            # one commit; prints the sha to pin
    zoo publish dcgan-fmnist --repo-id ORG/dcgan-fmnist --dry-run out/   # only write the repo folder
    G = zoo.load("hf://ORG/dcgan-fmnist@<sha>")                    # any zoo repo, pinned

A published repo holds ``model.safetensors`` (G_ema) [+ ``model_noema.safetensors``], ``config.json`` (the
generator's init kwargs, ``generator_class`` and a ``zoo`` block: entry metadata and the weights' sha256),
``README.md`` (model card with ``model-index``), ``grid.png`` and ``recipe.yaml``. Downloads go through
``hf_hub_download`` into the normal Hub cache and honour ``HF_HUB_OFFLINE``; nothing is unpickled.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .errors import HubError, InvalidArgumentError, WeightsNotFoundError
from .generator import Generator
from .hub import first_line
from .images import image_grid
from .registry import ModelEntry, get_entry
from .serialization import (
    CARD_FILE,
    CONFIG_FILE,
    EMA_FILE,
    ENCODER_FILE,
    GRID_FILE,
    RAW_FILE,
    RECIPE_FILE,
    atomic_write_bytes,
    read_config,
    save_weights,
    sha256_file,
    verify_sha256,
)
from .weights import load

CARD_TEMPLATE = Path(__file__).with_name("model_card_template.md")
REPO_ROOT = Path(__file__).resolve().parents[1]

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
    from .version import __version__

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
    entry = get_entry(name)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = entry.bundled_dir
    if source is not None and out.resolve() == source.resolve():
        raise InvalidArgumentError(f"{out} is {name}'s bundled weights folder: write the repo folder somewhere else")
    for optional in (RAW_FILE, ENCODER_FILE, RECIPE_FILE):  # left over from an earlier dry run into the same folder
        (out / optional).unlink(missing_ok=True)
    generator = None
    if source is not None:
        if not (source / EMA_FILE).is_file():
            raise WeightsNotFoundError(f"{name}'s bundled weights {source / EMA_FILE} are missing: reinstall gan-zoo")
        expected = entry.weights.get("sha256") or {}
        for file in (EMA_FILE, RAW_FILE, ENCODER_FILE):
            if (source / file).is_file():
                verify_sha256(source / file, expected.get(file))
                atomic_write_bytes(out / file, (source / file).read_bytes())
        config = read_config(source)
    else:
        generator = load(name, weights=weights)
        with tempfile.TemporaryDirectory() as tmp:
            save_weights(tmp, generator)
            for file in (EMA_FILE, ENCODER_FILE):
                if (Path(tmp) / file).is_file():
                    atomic_write_bytes(out / file, (Path(tmp) / file).read_bytes())
            config = read_config(tmp)
    digests = {f: sha256_file(out / f) for f in (EMA_FILE, RAW_FILE, ENCODER_FILE) if (out / f).is_file()}
    from .version import __version__

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
    files = {f: sha256_file(out / f) for f in (EMA_FILE, RAW_FILE, ENCODER_FILE, CONFIG_FILE, GRID_FILE, RECIPE_FILE)
             if (out / f).is_file()}
    atomic_write_bytes(out / CARD_FILE, render_card(entry, repo_id, files, config).encode())
    files[CARD_FILE] = sha256_file(out / CARD_FILE)
    return files


def _grid_png(generator: Generator) -> bytes:
    from torchvision.utils import save_image

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
        raise HubError(f"uploading to {repo_id} failed ({first_line(err)}): {fix}") from None
    except Exception as err:  # connection errors of huggingface_hub's HTTP client (httpx2)
        if type(err).__module__.startswith("httpx"):
            raise HubError(f"cannot reach the Hub at {api.endpoint} ({err}): check the connection") from None
        raise
