"""Every load says what it loaded: ``G.weights_source`` (spec, file sha256, and for the Hub the commit a branch or tag
resolved to), and ``zoo sample`` prints it as one line. Runs on test_hub's offline fake Hub (a hand-filled Hub cache
with HF_HUB_OFFLINE=1, and the loopback Hub for a branch resolved online)."""

from __future__ import annotations

import json

import pytest
from test_hub import (  # noqa: F401  (fixtures)
    COMMIT,
    fake_hub,
    hub_cache,
    hub_index_entry,
    populate_cache,
    tiny_entry,
    tiny_zoo,
)

import zoo
import zoo.convert
import zoo.registry
from zoo.cli import main
from zoo.generator import Generator
from zoo.nets.dcgan import DCGANGenerator
from zoo.publish import build_repo_folder
from zoo.serialization import EMA_FILE, RAW_FILE, load_state, save_weights, sha256_file
from zoo.weights import describe_source


@pytest.fixture
def repo(tiny_zoo, tmp_path, hub_cache):  # noqa: F811
    out = tmp_path / "pub"
    build_repo_folder("tiny-fmnist", out, "org/tiny")
    populate_cache(hub_cache, "org/tiny", out, refs=("main", "v1"))
    return out


def test_hub_loads_record_repo_commit_and_sha256(repo):
    digest = sha256_file(repo / EMA_FILE)
    for spec, revision in (("hf://org/tiny", "main"), ("hf://org/tiny@v1", "v1"), (f"hf://org/tiny@{COMMIT}", COMMIT)):
        source = zoo.load(spec).weights_source
        assert source["spec"] == spec and source["repo_id"] == "org/tiny" and source["revision"] == revision
        assert source["commit"] == COMMIT and source["sha256"] == digest and source["file"] == EMA_FILE
    raw = zoo.load("hf://org/tiny", ema=False).weights_source
    assert raw["file"] == RAW_FILE and raw["sha256"] == sha256_file(repo / RAW_FILE)
    assert Generator.from_pretrained("org/tiny").weights_source["commit"] == COMMIT


def test_pinned_index_entry_records_the_pin_and_the_commit(tiny_zoo, repo):  # noqa: F811
    tiny_zoo["tiny-hub"] = hub_index_entry(repo)
    zoo.registry.write_index(tiny_zoo)
    source = zoo.load("tiny-hub").weights_source
    assert source == {"spec": "tiny-hub", "name": "tiny-hub", "repo_id": "org/tiny", "filename": EMA_FILE,
                      "revision": COMMIT, "commit": COMMIT, "sha256": sha256_file(repo / EMA_FILE),
                      "path": source["path"], "file": EMA_FILE}
    assert source["path"].endswith(f"snapshots/{COMMIT}")


def test_bundled_entry_and_folder_record_the_file_sha256(tiny_zoo, tmp_path):  # noqa: F811
    bundled = zoo.registry.WEIGHTS_DIR / "tiny"
    source = zoo.load("tiny-fmnist").weights_source
    assert source == {"spec": "tiny-fmnist", "name": "tiny-fmnist", "bundled": True, "path": str(bundled.resolve()),
                      "file": EMA_FILE, "sha256": tiny_zoo["tiny-fmnist"]["weights"]["sha256"][EMA_FILE]}
    source = zoo.load(bundled).weights_source
    assert source["spec"] == str(bundled) and source["sha256"] == sha256_file(bundled / EMA_FILE)
    assert "name" not in source and "commit" not in source


def test_converted_entry_records_upstream_and_converted_files(tiny_zoo, tmp_path, hub_cache, monkeypatch):  # noqa: F811
    upstream = tmp_path / "upstream"
    save_weights(upstream, zoo.load("tiny-fmnist"))
    (upstream / "config.json").unlink()
    (upstream / EMA_FILE).rename(upstream / "G.safetensors")

    def convert_test(weights_file, config_file=None, **options):
        generator = DCGANGenerator(**options)
        load_state(generator, weights_file)
        return generator

    monkeypatch.setitem(zoo.convert.CONVERTERS, "test-dcgan", convert_test)
    populate_cache(hub_cache, "upstream/gan", upstream)
    digest = sha256_file(upstream / "G.safetensors")
    tiny_zoo["tiny-converted"] = tiny_entry({
        "hub": {"repo_id": "upstream/gan", "filename": "G.safetensors", "revision": COMMIT, "sha256": digest},
        "converter": "test-dcgan", "converter_config": {"latent_dim": 8, "width": 4}})
    zoo.registry.write_index(tiny_zoo)
    for _ in range(2):  # converting, then from the cache: the same record
        source = zoo.load("tiny-converted").weights_source
        assert source["sha256"] == digest and source["commit"] == COMMIT and source["converter"] == "test-dcgan"
        assert source["converted_sha256"] == sha256_file(f"{source['converted_path']}/{EMA_FILE}")
    with pytest.warns(UserWarning, match="using local weights"):
        local = zoo.load("tiny-converted", weights=upstream / "G.safetensors").weights_source
    assert local["weights"] == str((upstream / "G.safetensors").resolve()) and local["sha256"] == digest
    assert "commit" not in local


def test_zoo_sample_prints_what_it_loaded(repo, tmp_path, capsys):
    assert main(["sample", "hf://org/tiny", "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    weights = [line for line in lines if line.startswith("weights: ")]
    assert weights == [f"weights: hf://org/tiny path={weights[0].split('path=')[1].split()[0]} file={EMA_FILE} "
                       f"sha256={sha256_file(repo / EMA_FILE)[:12]} repo_id=org/tiny revision=main "
                       f"commit={COMMIT[:12]}"]
    assert describe_source(zoo.load("hf://org/tiny")) == weights[0].removeprefix("weights: ")


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # inside huggingface_hub's LFS PUT
def test_a_branch_is_resolved_to_its_commit_online(tiny_zoo, hub_cache, fake_hub, capsys):  # noqa: F811
    assert main(["publish", "tiny-fmnist", "--repo-id", "org/tiny"]) == 0
    (sha, files), = fake_hub.commits.items()
    source = zoo.load("hf://org/tiny").weights_source  # "main" on the loopback Hub
    assert source["revision"] == "main" and source["commit"] == sha
    assert source["sha256"] == json.loads(files["config.json"])["zoo"]["sha256"][EMA_FILE]
