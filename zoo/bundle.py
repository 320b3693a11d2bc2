"""``zoo bundle``: turn a training run's exported weights folder into a bundled zoo entry.

    zoo bundle dcgan-fmnist --from runs/dcgan-fmnist/version_0/weights --recipe recipes/dcgan-fmnist.yaml \
        --dataset fashion-mnist

copies the folder to ``zoo/weights/<name>/`` and writes the index entry: what the generator produces (read from its
config.json), the sha256 of every file (computed here), the recipe, and the run's training record (training.json
written by ``ExportWeights``). Fields of an existing entry that are not given (description) are kept, and so are
its scores measured on these same weights; scores of replaced weights are dropped.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from . import families  # noqa: F401  (each family registers itself in FAMILIES on import)
from .errors import InvalidArgumentError, WeightsNotFoundError
from .registry import FAMILIES, WEIGHTS_DIR, check_name, read_index, write_index
from .serialization import (
    CONFIG_FILE,
    EMA_FILE,
    ENCODER_FILE,
    GRID_FILE,
    RAW_FILE,
    TRAINING_FILE,
    build_generator,
    load_folder,
    read_config,
    sha256_file,
)

BUNDLED_FILES = (CONFIG_FILE, EMA_FILE, RAW_FILE, ENCODER_FILE, GRID_FILE, TRAINING_FILE)
#: the files whose sha256 the index pins (zoo.load refuses an altered one)
PINNED_FILES = (CONFIG_FILE, EMA_FILE, RAW_FILE, ENCODER_FILE)
MAX_BYTES = 10 * 1024 * 1024


def family_of_recipe(recipe: Path) -> str:
    """The registered family whose class the recipe's ``model.class_path`` names."""
    import yaml

    class_path = yaml.safe_load(recipe.read_text())["model"]["class_path"]
    for name, cls in FAMILIES.items():
        if class_path in (f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__):
            return name
    raise InvalidArgumentError(f"{recipe}: model.class_path {class_path!r} is not a registered family")


def paper_of(family_class: type) -> str:
    """The citation that opens the family module's docstring (its first paragraph)."""
    doc = sys.modules[family_class.__module__].__doc__ or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def bundle(name: str, source: Path, recipe: Path, dataset: str, *, description: str | None = None,
           class_names: list[str] | None = None) -> dict:
    check_name(name)
    source, recipe = Path(source), Path(recipe)
    if not (source / EMA_FILE).is_file():
        raise WeightsNotFoundError(f"{source} has no {EMA_FILE}: pass the run's weights folder (<log_dir>/weights)")
    config = read_config(source)
    generator = build_generator(config)
    family = family_of_recipe(recipe)
    target = WEIGHTS_DIR / name
    target.mkdir(parents=True, exist_ok=True)
    for file in BUNDLED_FILES:
        if (source / file).is_file():
            if (source / file).stat().st_size > MAX_BYTES:
                raise InvalidArgumentError(f"{source / file} is over 10 MB: bundle a smaller model or publish it")
            shutil.copyfile(source / file, target / file)
    if hasattr(generator, "save_traversal_grids"):  # InfoGAN ships its latent traversals beside grid.png
        load_folder(target).save_traversal_grids(target)
    index = read_index()
    entry = index.get(name, {})
    entry.update(
        family=family,
        paper=entry.get("paper") or paper_of(FAMILIES[family]),
        dataset=dataset,
        resolution=generator.img_size,
        channels=generator.img_channels,
        latent_dim=generator.latent_dim,
        num_classes=generator.num_classes,
        class_names=class_names or generator.class_names or entry.get("class_names"),  # config.json has them
        weights={"bundled": name,
                 "sha256": {f: sha256_file(target / f) for f in PINNED_FILES
                            if (target / f).is_file()}},
        recipe=recipe.as_posix(),
        training=json.loads((target / TRAINING_FILE).read_text()) if (target / TRAINING_FILE).is_file() else {},
    )
    if description is not None:
        entry["description"] = description
    # a score measured on other weights describes a model that is gone: keep only this file's (and unpinned) scores
    entry["scores"] = [s for s in entry.get("scores", [])
                       if (s.get("protocol") or {}).get("weights_sha256") in (None, entry["weights"]["sha256"])]
    index[name] = entry
    write_index(index)
    return entry
