"""Fuzzing the parsers a user's input reaches (hypothesis, bounded): every input ends in a one-line ``ZooError`` or
loads / succeeds correctly; never another exception, a hang or a memory blow-up.

Targets: a weights folder's config.json and safetensors file (through ``load_folder``), index.json entries, recipe
files given to ``zoo fit --config``, Hub specs and other model specs, labels, truncation values, n and seeds.
Examples are derandomized (the same every run) and few, so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save

import zoo.registry
from zoo.cli.train import check_recipes
from zoo.errors import ZooError
from zoo.generator import Generator, parse_truncation, truncated_normal
from zoo.hub import parse_hf_spec
from zoo.nets.biggan import BigGANGenerator
from zoo.nets.biggan_deep import BigGANDeepGenerator
from zoo.nets.dcgan import DCGANGenerator
from zoo.registry import ModelEntry, read_index
from zoo.serialization import CONFIG_FILE, EMA_FILE, load_folder, save_weights
from zoo.weights import resolve

REPO = Path(__file__).resolve().parents[1]
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def zoo_error_or_result(call, *args, **kwargs):
    """``call(...)``'s result, or None after a ZooError whose message is one non-empty line; anything else fails."""
    try:
        return call(*args, **kwargs)
    except ZooError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1 and "\n" not in message and "\r" not in message, message
        return None


json_leaves = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) |
               st.text(max_size=12))
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


# ------------------------------------------------------------------------------------------- a weights folder
TINY = {"latent_dim": 8, "width": 4, "img_channels": 1, "img_size": 28}


class Blob(bytes):
    def __repr__(self) -> str:  # how hypothesis shows it in a failing example
        return f"<safetensors of a tiny DCGAN, {len(self)} bytes>"


@pytest.fixture(scope="module")
def tiny_state_bytes() -> bytes:
    torch.manual_seed(0)
    generator = DCGANGenerator(**TINY).eval()
    return Blob(save({k: v.contiguous() for k, v in generator.state_dict().items()}, metadata={"format": "pt"}))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-folder")


def load_with(folder: Path, config: bytes, weights: bytes):
    (folder / CONFIG_FILE).write_bytes(config)
    (folder / EMA_FILE).write_bytes(weights)
    generator = zoo_error_or_result(load_folder, folder)
    if generator is not None:  # it loaded: a working generator in eval mode whose source names the file
        assert isinstance(generator, Generator) and not generator.training
        assert generator.weights_source["file"] == EMA_FILE
    return generator


KWARG_VALUES = st.one_of(json_values, st.integers(-3, 64), st.integers(2**40, 2**62),
                         st.sampled_from([28, 56, 7 * 2**30, 4 * 2**40]))
configs = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"generator_class": st.sampled_from(["DCGANGenerator", "MLPGenerator", "SNGANGenerator"]) | json_values},
        optional={key: KWARG_VALUES for key in ("latent_dim", "width", "img_channels", "img_size", "hidden", "zoo")}),
    st.builds(lambda changes: {"generator_class": "DCGANGenerator", **TINY, **changes},
              st.dictionaries(st.sampled_from(sorted(TINY) + ["zoo"]), KWARG_VALUES, max_size=2)),
)


@FUZZ
@given(config=configs)
def test_fuzz_config_json(folder, tiny_state_bytes, config):
    load_with(folder, json.dumps(config).encode(), tiny_state_bytes)


@FUZZ
@given(raw=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_fuzz_config_bytes(folder, tiny_state_bytes, raw):
    load_with(folder, raw, tiny_state_bytes)


def test_config_edge_cases(folder, tiny_state_bytes):
    good = {"generator_class": "DCGANGenerator", **TINY}
    assert load_with(folder, json.dumps(good).encode(), tiny_state_bytes) is not None
    cases = [
        b"[" * 100_000 + b"]" * 100_000,  # nested deeper than the JSON parser's recursion
        json.dumps({**good, "width": "4"}).encode(),  # a kwarg of the wrong type is named
        json.dumps({**good, "img_size": 7 * 2**60}).encode(),  # a huge network: refused on the meta device
        json.dumps({**good, "width": 2**40}).encode(),
        json.dumps({**good, "generator_class": "BigGANDeepGenerator"}).encode(),  # a real class, other tensors
        json.dumps({**good, "zoo": {"sha256": {EMA_FILE: 5}}}).encode(),
        b"\xff\xfe\x00",
    ]
    for config in cases:
        assert load_with(folder, config, tiny_state_bytes) is None
    (folder / CONFIG_FILE).write_text(json.dumps({**good, "width": "4"}))
    with pytest.raises(ZooError, match=r"width='4' is not a valid DCGANGenerator argument \(expected int\)"):
        load_folder(folder)


# ------------------------------------------------------------------------------------------- safetensors files
def parse(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def build(header: dict, body: bytes, pad: int = 0) -> bytes:
    raw = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(raw)) + raw + body


def mutate_entry(entry: dict, how: str, value) -> dict:
    entry = dict(entry)
    if how == "dtype":
        entry["dtype"] = value
    elif how == "shape":
        entry["shape"] = value
    elif how == "offsets":
        entry["data_offsets"] = value
    else:
        entry = value
    return entry


MUTATION = st.tuples(st.sampled_from(["dtype", "shape", "offsets", "entry"]), st.one_of(
    st.sampled_from(["F16", "F64", "I64", "I8", "BOOL", "BF16", "U8", "X9"]),
    st.lists(st.integers(-1, 2**40) | st.sampled_from([2**62, 2**64]), max_size=4), json_values))


@FUZZ
@given(data=st.data())
def test_fuzz_safetensors(folder, tiny_state_bytes, data):
    config = json.dumps({"generator_class": "DCGANGenerator", **TINY}).encode()
    header, body = parse(tiny_state_bytes)
    kind = data.draw(st.sampled_from(["truncate", "flip", "header", "keys", "garbage"]))
    if kind == "truncate":
        weights = tiny_state_bytes[:data.draw(st.integers(0, len(tiny_state_bytes) - 1))]
    elif kind == "flip":
        weights = bytearray(tiny_state_bytes)
        for position in data.draw(st.lists(st.integers(0, len(weights) - 1), min_size=1, max_size=4)):
            weights[position] ^= data.draw(st.integers(1, 255))
        weights = bytes(weights)
    elif kind == "header":
        keys = sorted(k for k in header if k != "__metadata__")
        key = data.draw(st.sampled_from(keys))
        header = {**header, key: mutate_entry(header[key], *data.draw(MUTATION))}
        weights = build(header, body)
    elif kind == "keys":
        header = dict(header)
        if data.draw(st.booleans()):
            header.pop(data.draw(st.sampled_from(sorted(k for k in header if k != "__metadata__"))))
        else:
            header[data.draw(st.text(max_size=10))] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
        weights = build(header, body)
    else:
        weights = data.draw(st.binary(max_size=200))
    load_with(folder, config, weights)


def test_huge_declared_sizes_are_refused_before_allocating(folder, tiny_state_bytes):
    config = json.dumps({"generator_class": "DCGANGenerator", **TINY}).encode()
    header, body = parse(tiny_state_bytes)
    key = sorted(k for k in header if k != "__metadata__")[0]
    huge = [
        build({**header, key: {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}, body),  # offsets lie
        struct.pack("<Q", 2**62) + b"{}",  # a header of 4 EiB
        build({key: {"dtype": "F64", "shape": [2**31, 2**31], "data_offsets": [0, 2**65]}}, b"x" * 64),
        build({key: {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 2**66]}}, b""),
    ]
    for weights in huge:
        assert load_with(folder, config, weights) is None
    # a file that is complete but declares a 1 TB model in its config: refused on the meta device
    big = json.dumps({"generator_class": "DCGANGenerator", **TINY, "width": 2**20}).encode()
    assert load_with(folder, big, tiny_state_bytes) is None


def test_wrong_dtypes(folder, tiny_state_bytes):
    config = json.dumps({"generator_class": "DCGANGenerator", **TINY}).encode()
    state = DCGANGenerator(**TINY).state_dict()
    as_double = save({k: (v.double() if v.is_floating_point() else v).contiguous() for k, v in state.items()})
    assert load_with(folder, config, as_double) is not None  # float64 weights load into float32, cast
    as_int = save({k: v.to(torch.int32).contiguous() for k, v in state.items()})
    with pytest.raises(ZooError, match="is I32 in the file but F32 in the model"):
        (folder / EMA_FILE).write_bytes(as_int)
        load_folder(folder)


# ------------------------------------------------------------------------------------------- index.json
VALID_ENTRY = dict(family="dcgan", paper="p", dataset="fashion-mnist", resolution=28, channels=1, latent_dim=8,
                   weights={"bundled": "tiny"})
ENTRY_FIELDS = ["family", "paper", "dataset", "resolution", "channels", "latent_dim", "weights", "recipe",
                "num_classes", "class_names", "license", "description", "training", "scores", "unknown"]
WEIGHTS_VALUES = st.one_of(st.fixed_dictionaries({}, optional={
    "bundled": json_values | st.sampled_from(["tiny", "../x", "a/b"]),
    "sha256": json_values | st.just({EMA_FILE: "0" * 64}),
    "hub": json_values | st.fixed_dictionaries({}, optional={
        "repo_id": json_values | st.sampled_from(["org/repo", "org/../x", "a/b/c"]),
        "filename": json_values | st.sampled_from(["model.safetensors", "../x", "a/b.pth", "/abs"]),
        "revision": json_values | st.sampled_from(["main", "a" * 40, "../x", "v1.0"]),
        "sha256": json_values | st.just("f" * 64)}),
    "converter": json_values | st.just("studiogan-biggan"),
    "converter_config": json_values}), json_values)


@FUZZ
@given(changes=st.just({}) | st.dictionaries(st.sampled_from(ENTRY_FIELDS), json_values, max_size=2),
       weights=WEIGHTS_VALUES, name=st.sampled_from(["tiny", "x"]) | st.text(max_size=10))
def test_fuzz_index_entry(tmp_path, monkeypatch, changes, weights, name):
    fields = {**VALID_ENTRY, "weights": weights, **changes}
    entry = zoo_error_or_result(ModelEntry.from_index, name, fields)
    if entry is None:
        return
    # an entry that passes is usable: listing it, describing it and loading it end in a result or a ZooError
    index = tmp_path / "index.json"
    index.write_text(json.dumps({name: fields}))
    monkeypatch.setattr(zoo.registry, "INDEX_FILE", index)
    monkeypatch.setattr(zoo.registry, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    assert zoo.registry.list_models() == [name]
    assert zoo.registry.info(name)["name"] == name
    assert zoo_error_or_result(zoo.load, f"zoo:{name}") is None  # no weights here: a one-line error


@FUZZ
@given(raw=st.binary(max_size=80) | json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_read_index(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("index") / "index.json"
    path.write_bytes(raw)
    index = zoo_error_or_result(read_index, path)
    if index is not None:
        assert isinstance(index, dict)
        for name, fields in index.items():
            zoo_error_or_result(ModelEntry.from_index, name, fields, path)


# ------------------------------------------------------------------------------------------- recipes
@FUZZ
@given(text=st.text(max_size=60) | st.sampled_from(["a: [1,", "\tx: 1", "- 1\n- 2", "{a: 1", "a: b: c", "'"]))
def test_fuzz_recipe_yaml(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("recipe") / "recipe.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))
    zoo_error_or_result(check_recipes, ["--config", str(path)])


BAD_RECIPES = {
    "unclosed.yaml": ("model:\n  init_args: {width: [1,\n", "is not valid YAML"),
    "tab.yaml": ("trainer:\n\tmax_steps: 3\n", "is not valid YAML (found character '\\t' that cannot start any token"),
    "list.yaml": ("- trainer\n- model\n", "is not a YAML mapping of sections"),
    "missing.yaml": (None, "does not exist: pass a recipe file"),
}


@pytest.mark.parametrize("name", sorted(BAD_RECIPES))
def test_bad_recipe_through_the_cli_is_one_line(tmp_path, name):
    text, expected = BAD_RECIPES[name]
    if text is not None:
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "zoo", "fit", "--config", name], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith(f"error: recipe {name} ") and result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------- specs
PART = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True) | st.text(max_size=6)
HUB_BODIES = st.text(max_size=30) | st.sampled_from(["org/repo", "org/repo@main", "org/repo@../x", "org/repo@",
                                                     "a/b/c", "org/repo@v1/..", "org/re po", "-org/repo"]) | st.builds(
    lambda org, repo, rev: f"{org}/{repo}" + (f"@{rev}" if rev is not None else ""), PART, PART, st.none() | PART)


@FUZZ
@given(body=HUB_BODIES)
def test_fuzz_hf_spec(body):
    parsed = zoo_error_or_result(parse_hf_spec, "hf://" + body)
    if parsed is not None:
        repo_id, revision = parsed
        assert repo_id.count("/") == 1 and ".." not in revision and "@" not in revision
        source = resolve("hf://" + body)
        assert (source.kind, source.repo_id, source.revision) == ("hub", repo_id, revision)


@FUZZ
@given(spec=st.text(max_size=40) | st.sampled_from(["a" * 300, "x/" + "a" * 300, "~nosuchuser/x", "zoo:", "zoo:..",
                                                    "a\x00b", "./a\x00", ""]) | json_leaves)
def test_fuzz_resolve(tmp_path, monkeypatch, spec):
    monkeypatch.chdir(tmp_path)
    source = zoo_error_or_result(resolve, spec)
    if source is not None:
        assert source.kind in ("folder", "hub", "entry")


def test_fuzz_offline_hub_load(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    for spec in ("hf://org/repo", "hf://org/repo@v1", "hf://org/repo@" + "a" * 40, "hf://o/" + "r" * 200):
        assert zoo_error_or_result(zoo.load, spec) is None


# ------------------------------------------------------------------------------------------- labels, truncation, n
@pytest.fixture(scope="module")
def conditional() -> BigGANGenerator:
    torch.manual_seed(0)
    return BigGANGenerator(latent_dim=4, shared_dim=4, num_classes=3, img_size=8, width=1, channel_multipliers=[1, 1],
                           attention_at=None, class_names=["Cat", "Dog", "Bird"]).eval()


@pytest.fixture(scope="module")
def unconditional() -> DCGANGenerator:
    return DCGANGenerator(**TINY).eval()


one_label = (st.integers(-5, 8) | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.booleans() |
             st.sampled_from(["Cat", "dog", "BIRD", "Cta", "", "3", "\n"]) | st.text(max_size=6) | st.none() |
             st.builds(torch.tensor, st.integers(0, 5)) | st.builds(np.int64, st.integers(-2, 5)))
labels_strategy = one_label | st.lists(one_label | json_values, max_size=5) | st.builds(
    torch.tensor, st.lists(st.integers(0, 4), min_size=1, max_size=5)) | st.builds(
    torch.tensor, st.lists(st.floats(-2, 5), min_size=1, max_size=5)) | json_values


@FUZZ
@given(labels=labels_strategy, n=st.integers(1, 5))
def test_fuzz_labels(conditional, unconditional, labels, n):
    y = zoo_error_or_result(conditional.resolve_labels, labels, n)
    if y is not None:
        assert y.shape == (n,) and y.dtype == torch.long and 0 <= int(y.min()) and int(y.max()) < 3
        assert conditional.sample(n, seed=0, labels=labels).shape == (n, 3, 8, 8)
    if labels is not None:
        assert zoo_error_or_result(unconditional.sample, n, labels=labels) is None


def test_label_edge_cases(conditional):
    assert conditional.resolve_labels(["cat", "Dog", 2, 1.0, torch.tensor(0)], 5).tolist() == [0, 1, 2, 1, 0]
    for bad in (2.5, True, float("nan"), [None] * 2, [[1], [2]], 3, -1, "Cta"):
        assert zoo_error_or_result(conditional.resolve_labels, bad, 2) is None


truncations = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 2**70) | st.text(max_size=6) |
               st.booleans() | st.sampled_from([1e-300, 5e-324, 1e-8, 0.01, 1e308]) | json_values)


@FUZZ
@given(truncation=truncations)
def test_fuzz_truncation(unconditional, truncation):
    z = zoo_error_or_result(unconditional.sample_latent, 64, truncation=truncation,
                            generator=torch.Generator().manual_seed(0))
    if z is not None:
        bound = parse_truncation(truncation) if truncation is not None else math.inf
        assert z.shape == (64, 8) and torch.isfinite(z).all() and float(z.abs().max()) <= bound


@FUZZ
@given(truncation=truncations)
def test_fuzz_truncation_biggan_deep(truncation):
    deep = BigGANDeepGenerator(latent_dim=4, embed_dim=4, num_classes=2, img_size=8, width=4, layers=[[True, 1, 1]],
                               attention_position=None)
    t = zoo_error_or_result(deep.check_truncation, truncation)
    if t is not None:
        assert 0 < t <= 1


def test_tiny_truncation_does_not_hang():
    z = truncated_normal((1000, 64), 1e-6, torch.Generator().manual_seed(0))
    assert float(z.abs().max()) <= 1e-6 and torch.isfinite(z).all()
    # ordinary bounds give exactly the stream they always gave (the fallback is never reached)
    assert float(truncated_normal((4, 8), 0.5, torch.Generator().manual_seed(0)).abs().max()) <= 0.5


@FUZZ
@given(n=st.integers(-3, 6) | st.integers(10**13, 10**19) | st.floats() | st.booleans() | st.text(max_size=3),
       seed=st.none() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=4))
def test_fuzz_n_and_seed(unconditional, n, seed):
    x = zoo_error_or_result(unconditional.sample, n, seed=seed)
    if x is not None:
        assert x.shape == (n, 1, 28, 28)


@pytest.mark.parametrize("name", zoo.list_models(pretrained=True))
def test_the_allocation_budget_sees_every_tensor_of_a_network(name):
    """load_folder builds a network under an AllocationBudget: it must count (nearly) all of the network's tensors,
    or a config asking for a huge network would get past it."""
    from zoo.serialization import AllocationBudget

    generator = zoo.load(name)
    with AllocationBudget(10**15) as budget:
        type(generator)(**generator._hub_mixin_config)
    state_bytes = sum(t.numel() * t.element_size() for t in generator.state_dict().values())
    assert budget.used >= 0.99 * state_bytes


def test_the_allocation_budget_refuses_before_allocating():
    from zoo.serialization import AllocationBudget, OverBudget

    with pytest.raises(OverBudget), AllocationBudget(1 << 20):
        torch.empty(1 << 40)  # 4 TiB: refused, not allocated
    with pytest.raises(OverBudget), AllocationBudget(1 << 20):
        torch.zeros(4) + DCGANGenerator(latent_dim=8, width=1 << 16).project[0].weight.sum()
    with AllocationBudget(1 << 20) as budget:
        torch.randn(2, 3), torch.full((4,), 1.0), torch.randint(5, (6,)), torch.ones(3).new_zeros(7), torch.eye(3)
    assert budget.used == 4 * (6 + 4 + 3 + 7 + 9) + 8 * 6  # float32 everywhere but randint's int64


def test_save_weights_round_trip_still_exact(tmp_path, unconditional):
    save_weights(tmp_path / "w", unconditional)
    loaded = load_folder(tmp_path / "w")
    assert torch.equal(loaded.sample(4, seed=0), unconditional.sample(4, seed=0))
