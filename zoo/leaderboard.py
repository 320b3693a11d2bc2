"""``zoo leaderboard``: score every zoo entry whose weights are on this machine, under one protocol.

Writes ``benchmarks/leaderboard.json`` (machine-readable, every row with its protocol record),
``benchmarks/LEADERBOARD.md`` (one table per dataset, sorted by FID, sample-grid thumbnails, real data scored the same
way as the floor), and each scored entry's ``scores`` in ``zoo/index.json`` (a score replaces an older one only when
their protocols match). With the same weights, seed and package versions a second run writes the same numbers.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import InvalidArgumentError
from .metrics.extractors import resolve_extractor
from .metrics.fidelity import DEFAULT_N, canonical_dataset, evaluate_generator, evaluate_real
from .metrics.protocol import protocol_key
from .metrics.reference import NATIVE_RESOLUTION
from .registry import INDEX_FILE, WEIGHTS_DIR, ModelEntry, read_index, write_index
from .serialization import EMA_FILE, GRID_FILE, atomic_write_bytes, load_folder

_REPO = Path(__file__).resolve().parents[1]
#: benchmarks/ of the source checkout; for an installed package (no checkout around it), ./benchmarks
BENCHMARKS_DIR = _REPO / "benchmarks" if (_REPO / "setup.cfg").is_file() else Path.cwd() / "benchmarks"
SCHEMA_VERSION = 1
ROUND = {"fid": 3, "is_mean": 3, "is_std": 3, "kid_mean": 6, "kid_std": 6, "precision": 4, "recall": 4,
         "kl_uniform": 4, "label_accuracy": 4}


def _rounded(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: round(v, ROUND[k]) if k in ROUND and isinstance(v, float) else v for k, v in values.items()}


def present_entries(pattern: str = "*", index_path: Path = INDEX_FILE, weights_dir: Path = WEIGHTS_DIR
                    ) -> list[ModelEntry]:
    """Index entries matching ``pattern`` whose bundled weights folder is on this machine."""
    entries = []
    for name, fields in sorted(read_index(index_path).items()):
        entry = ModelEntry.from_index(name, fields, index_path)
        folder = entry.weights.get("bundled")
        if fnmatch.fnmatch(name, pattern) and folder and (weights_dir / folder / EMA_FILE).is_file():
            entries.append(entry)
    return entries


def run_leaderboard(
    models: str = "*",
    *,
    extractor: str = "auto",
    extractor_weights: str | os.PathLike | None = None,
    n_samples: int = DEFAULT_N,
    seed: int = 0,
    out_dir: str | os.PathLike = BENCHMARKS_DIR,
    index_path: str | os.PathLike = INDEX_FILE,
    weights_dir: str | os.PathLike = WEIGHTS_DIR,
    update_index: bool = True,
    cache: str | os.PathLike | None = None,
    data_root: str | None = None,
    reference_count: int | None = None,
    progress: bool = True,
    baselines_dir: str | os.PathLike = BENCHMARKS_DIR,
    log=print,
) -> dict[str, Any]:
    """Evaluate, write the JSON and Markdown tables, update the index; return the JSON document.

    ``index_path``/``weights_dir`` default to the installed zoo; ``reference_count`` (default: the whole split) and
    ``n_samples`` trade accuracy for time. Baseline rows come from ``<baselines_dir>/baseline-*/scores.json`` (written
    by ``benchmarks/baseline_*.py`` with the same evaluation function) and appear only where their protocol is the
    table's.
    """
    index_path, weights_dir, out_dir = Path(index_path), Path(weights_dir), Path(out_dir)
    entries = present_entries(models, index_path, weights_dir)
    if not entries:
        raise InvalidArgumentError(
            f"no zoo entry matching {models!r} has its weights on this machine: see `zoo list` for the names")
    spec = resolve_extractor(extractor, extractor_weights)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        start = time.perf_counter()
        folder = weights_dir / entry.weights["bundled"]
        generator = load_folder(folder, sha256=entry.weights.get("sha256"))
        result = evaluate_generator(generator, dataset=entry.dataset, extractor=spec, n_samples=n_samples, seed=seed,
                                    weights_sha256=entry.weights.get("sha256"), cache=cache, data_root=data_root,
                                    reference_count=reference_count, progress=progress)
        grid = folder / GRID_FILE
        rows.append({"name": entry.name, "kind": "model", "family": entry.family, "dataset": canonical_dataset(
            entry.dataset), "resolution": generator.img_size, "conditional": bool(generator.num_classes),
            "grid": str(grid) if grid.is_file() else None, **_row_scores(result)})
        log(f"{entry.name}: {_summary(rows[-1])}  ({time.perf_counter() - start:.0f} s)")
    for dataset in sorted({r["dataset"] for r in rows}):
        resolution = NATIVE_RESOLUTION.get(dataset, next(r["resolution"] for r in rows if r["dataset"] == dataset))
        start = time.perf_counter()
        result = evaluate_real(dataset, resolution, extractor=spec, n_samples=n_samples, seed=seed, cache=cache,
                               data_root=data_root, reference_count=reference_count, progress=progress)
        name = f"real data ({result['protocol']['n_generated']} train images, {resolution}px)"
        rows.append({"name": name, "kind": "real", "family": None, "dataset": dataset, "resolution": resolution,
                     "conditional": False, "grid": None, **_row_scores(result)})
        log(f"{name}: {_summary(rows[-1])}  ({time.perf_counter() - start:.0f} s)")
    rows += baseline_rows(rows, baselines_dir, log)
    rows.sort(key=lambda r: (r["dataset"], r["kind"] != "real", r["metrics"]["fid"], r["name"]))
    document = {"schema_version": SCHEMA_VERSION,
                "command": f"zoo leaderboard --models '{models}' --extractor {spec.name} --n-samples {n_samples} "
                           f"--seed {seed}",
                "extractor": spec.to_dict(), "rows": rows}
    out_dir.mkdir(parents=True, exist_ok=True)
    json_rows = [{**r, "grid": _relative(r["grid"], out_dir)} for r in rows]
    atomic_write_bytes(out_dir / "leaderboard.json",
                       (json.dumps({**document, "rows": json_rows}, indent=2) + "\n").encode())
    atomic_write_bytes(out_dir / "LEADERBOARD.md", render_markdown(document, out_dir).encode())
    if update_index:
        write_scores(rows, index_path)
    return document


def baseline_rows(rows: list[dict[str, Any]], folder: str | os.PathLike, log=print) -> list[dict[str, Any]]:
    """The baseline scores whose protocol matches the models' of the same dataset (others are skipped, with a note)."""
    keys = {r["dataset"]: protocol_key(r["protocol"]) for r in rows if r["kind"] == "model"}
    found = []
    for path in sorted(Path(folder).glob("baseline-*/scores.json")):
        result = json.loads(path.read_text())
        dataset = canonical_dataset(result["protocol"]["reference"]["dataset"])
        if keys.get(dataset) != protocol_key(result["protocol"]):
            log(f"{path}: measured under another protocol than this table's, not shown (re-score it with "
                f"`python benchmarks/{path.parent.name.replace('-', '_')}.py --score-only`)")
            continue
        training = result.get("training", {})
        name = (f"baseline: plain PyTorch {path.parent.name.removeprefix('baseline-').upper()}, "
                f"{training.get('budget', '?')} ({training.get('iterations', '?')} iterations)")
        found.append({"name": name, "kind": "baseline", "family": None, "dataset": dataset,
                      "resolution": result["protocol"]["reference"]["resolution"], "conditional": False,
                      "grid": None, **_row_scores(result)})
        log(f"{name}: {_summary(found[-1])}")
    return found


def _row_scores(result: dict[str, Any]) -> dict[str, Any]:
    coverage = _rounded(result["coverage"])
    return {"metrics": _rounded(result["metrics"]), "coverage": coverage, "protocol": result["protocol"]}


def _summary(row: dict[str, Any]) -> str:
    m = row["metrics"]
    text = f"FID {m['fid']:.3f}  KID {m['kid_mean']:.6f}  P {m['precision']:.4f}  R {m['recall']:.4f}"
    return text + (f"  IS {m['is_mean']:.3f}" if "is_mean" in m else "")


def _relative(path: str | None, start: Path) -> str | None:
    return os.path.relpath(path, start).replace(os.sep, "/") if path else None


def write_scores(rows: list[dict[str, Any]], index_path: Path = INDEX_FILE) -> None:
    """Put each model row's score into its index entry, replacing only a score measured under the same protocol."""
    index = read_index(index_path)
    for row in rows:
        if row["kind"] != "model" or row["name"] not in index:
            continue
        score = {"metrics": row["metrics"], "coverage": row["coverage"], "protocol": row["protocol"]}
        key = protocol_key(row["protocol"])
        kept = [s for s in index[row["name"]].get("scores", [])
                if not ("protocol" in s and _same_protocol(s["protocol"], key))]
        index[row["name"]]["scores"] = kept + [score]
    write_index(index, index_path)


def _same_protocol(record: dict[str, Any], key: tuple) -> bool:
    try:
        return protocol_key(record) == key
    except (KeyError, TypeError):
        return False


def _fmt(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_markdown(document: dict[str, Any], out_dir: Path) -> str:
    """LEADERBOARD.md: per dataset one table sorted by FID, real data first; protocol summary below each table."""
    ext = document["extractor"]
    lines = ["# Leaderboard", "",
             "Generated by `" + document["command"] + "` from the zoo's weights; do not edit by hand. Lower FID/KID "
             "is better, higher IS/precision/recall is better. Numbers are comparable only within one protocol "
             "(below each table); `leaderboard.json` holds the full protocol record of every row.", ""]
    datasets = sorted({r["dataset"] for r in document["rows"]})
    for dataset in datasets:
        rows = [r for r in document["rows"] if r["dataset"] == dataset]
        models = [r for r in rows if r["kind"] == "model"]
        proto = (models or rows)[0]["protocol"]
        real = [r["protocol"]["sampling"] for r in rows if r["kind"] == "real"]
        ref = proto["reference"]
        lines += [f"## {dataset}", "",
                  f"Reference: the {ref['split']} split ({ref['count']:,} images, {ref['resolution']}px). The *real "
                  f"data* row scores {proto['n_generated']:,} train-split images the same way: the floor a model can "
                  "reach. The *baseline* row is a plain PyTorch DCGAN trained for 10 minutes on 2 CPU cores "
                  "(`benchmarks/baseline_dcgan.py`): every model should beat it; *FID / baseline* below 1 says by how "
                  "much.", "",
                  "| # | model | samples | FID | FID / baseline | KID x 1e3 | IS (10 splits) | precision | recall "
                  "| classes covered | KL(class ‖ uniform) | label acc. |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        rank = 0
        baseline = next((r["metrics"]["fid"] for r in rows if r["kind"] == "baseline"), None)
        for r in rows:
            m, c = r["metrics"], r["coverage"] or {}
            if r["kind"] != "model":
                label, place = f"*{r['name']}*", "-"
            else:
                rank += 1
                label, place = f"`{r['name']}` ({r['resolution']}px)", str(rank)
            rel = _relative(r["grid"], out_dir)
            thumb = f'<a href="{rel}"><img src="{rel}" width="240"></a>' if rel else ""
            kid = f"{m['kid_mean'] * 1e3:.3f} ± {m['kid_std'] * 1e3:.3f}"
            inception = f"{m['is_mean']:.3f} ± {m['is_std']:.3f}" if "is_mean" in m else "-"
            covered = f"{c['classes_covered']}/{c['num_classes']}" if c else "-"
            ratio = f"{m['fid'] / baseline:.2f}" if baseline and r["kind"] == "model" else "-"
            lines.append(f"| {place} | {label} | {thumb} | {m['fid']:.3f} | {ratio} | {kid} | {inception} | "
                         f"{m['precision']:.4f} | {m['recall']:.4f} | {covered} | {_fmt(c.get('kl_uniform'), 4)} | "
                         f"{_fmt(c.get('label_accuracy'), 4)} |")
        versions = ", ".join(f"{k} {v}" for k, v in proto["versions"].items())
        settings = proto["metric_settings"]
        lines += ["", "Protocol: "
                  f"extractor `{ext['name']}` (weights sha256 `{(ext['weights_sha256'] or '-')[:16]}...`); "
                  f"{proto['n_generated']:,} samples per model, seed {proto['seed']}; models: {proto['sampling']}; "
                  f"real data: {real[0] if real else '-'}; "
                  f"resize: {ext['resize']}; IS over {settings['isc_splits']} splits; KID over "
                  f"{settings['kid_subsets']} subsets of {settings['kid_subset_size']}; precision/recall with "
                  f"k={settings['prc_neighborhood']}; classes covered = classes receiving at least 10% of their "
                  f"uniform share; {versions}; {proto['date']}.", ""]
    return "\n".join(lines)
