"""Publishing to and loading from the Hugging Face Hub, without the network.

The Hub cache is a tmp dir laid out like huggingface_hub's (``models--ORG--REPO/{blobs,snapshots/<sha>,refs}``);
uploads and downloads go to a loopback stand-in of the Hub endpoints that huggingface_hub 2.4 calls.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, constants
from safetensors.torch import load_file, save_file

import zoo
import zoo.convert
import zoo.registry
from zoo.cli import main
from zoo.errors import HubError, InvalidArgumentError, NotAZooRepoError, WeightsError, WeightsNotFoundError, ZooError
from zoo.generator import Generator
from zoo.nets.dcgan import DCGANGenerator
from zoo.publish import REPO_ROOT, build_repo_folder, card_metrics, publish
from zoo.serialization import load_state, save_weights, sha256_file

REAL_BUNDLED = zoo.list_models(pretrained=True)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
PROTOCOL = {"extractor": "fmnist-cnn", "extractor_weights_sha256": "ab" * 32, "resize": "none", "n_generated": 10000,
            "reference": {"dataset": "fashion-mnist", "split": "test", "count": 10000, "resolution": 28}, "seed": 0,
            "date": "2026-11-23"}
# the layout zoo.metrics writes into the index
SCORES = [{"metrics": {"fid": 12.5, "kid_mean": 0.0125, "kid_std": 0.002, "is_mean": 3.25, "is_std": 0.05,
                       "precision": 0.7, "recall": 0.375},
           "coverage": {"classes_covered": 10, "num_classes": 10, "kl_uniform": 0.03, "class_histogram": [100] * 10},
           "protocol": PROTOCOL}]


def tiny_entry(weights: dict, **extra) -> dict:
    return dict(family="dcgan", paper="Radford et al., ICLR 2016, arXiv:1511.06434", dataset="fashion-mnist",
                resolution=28, channels=1, latent_dim=8, weights=weights, recipe="recipes/dcgan-fmnist.yaml",
                **extra)


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    """A temporary index with one bundled entry, ``tiny-fmnist`` (EMA and raw generators differ)."""
    torch.manual_seed(1)
    ema, raw = DCGANGenerator(latent_dim=8, width=4).eval(), DCGANGenerator(latent_dim=8, width=4).eval()
    weights_dir = tmp_path / "weights"
    sha = save_weights(weights_dir / "tiny", ema, raw)
    index_file = tmp_path / "index.json"
    monkeypatch.setattr(zoo.registry, "INDEX_FILE", index_file)
    monkeypatch.setattr(zoo.registry, "WEIGHTS_DIR", weights_dir)
    index = {"tiny-fmnist": tiny_entry({"bundled": "tiny", "sha256": sha}, scores=SCORES,
                                       training={"g_iters": 10})}
    zoo.registry.write_index(index)
    return index


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "zoo-cache"))
    return cache


def populate_cache(cache: Path, repo_id: str, folder: Path, commit: str = COMMIT, refs=("main",)) -> Path:
    """Lay ``folder``'s files out as huggingface_hub's cache does: blobs by etag, snapshot symlinks, refs."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for file in sorted(folder.iterdir()):
        data = file.read_bytes()
        etag = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / etag).write_bytes(data)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", etag))
    (repo / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (repo / "refs" / ref).write_text(commit)
    return snapshot


def same_samples(a: Generator, b: Generator) -> bool:
    return torch.equal(a.sample(16, seed=7), b.sample(16, seed=7))


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    return message


# ------------------------------------------------------------------------------------------- publish --dry-run
def test_dry_run_folder_loads_bit_identically(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "pub"
    assert main(["publish", "tiny-fmnist", "--repo-id", "org/tiny-fmnist", "--dry-run", str(out)]) == 0
    assert "dry run" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["README.md", "config.json", "grid.png", "model.safetensors", "model_noema.safetensors", "recipe.yaml"])
    bundled = zoo.registry.WEIGHTS_DIR / "tiny"
    for name in ("model.safetensors", "model_noema.safetensors"):
        assert (out / name).read_bytes() == (bundled / name).read_bytes()
    for ema in (True, False):
        assert same_samples(zoo.load("tiny-fmnist", ema=ema), zoo.load(out, ema=ema))
    assert not same_samples(zoo.load(out, ema=True), zoo.load(out, ema=False))
    config = json.loads((out / "config.json").read_text())
    assert config["generator_class"] == "DCGANGenerator" and config["width"] == 4 and config["latent_dim"] == 8
    assert config["zoo"]["name"] == "tiny-fmnist" and config["zoo"]["dataset"] == "fashion-mnist"
    assert config["zoo"]["sha256"]["model.safetensors"] == sha256_file(out / "model.safetensors")
    assert (out / "recipe.yaml").read_bytes() == (REPO_ROOT / "recipes/dcgan-fmnist.yaml").read_bytes()


def test_card_shows_metrics_with_protocol(tiny_zoo, tmp_path):
    build_repo_folder("tiny-fmnist", tmp_path / "pub", "org/tiny-fmnist")
    card = ModelCard.load(tmp_path / "pub" / "README.md")
    assert card.data.library_name == "gan-zoo" and card.data.license == "apache-2.0"
    assert card.data.datasets == ["zalando-datasets/fashion_mnist"]
    assert {"gan", "dcgan", "fashion-mnist"} <= set(card.data.tags)
    results = {r.metric_type: r for r in card.data.eval_results}
    assert {k: r.metric_value for k, r in results.items()} == {
        "fid": 12.5, "kid": 0.0125, "is": 3.25, "precision": 0.7, "recall": 0.375, "classes_covered": 10,
        "kl_uniform": 0.03}
    assert all(r.metric_args == PROTOCOL and r.dataset_split == "test" for r in results.values())
    assert results["fid"].metric_name == "FID" and results["is"].metric_name == "Inception Score"
    protocol_text = ("fmnist-cnn features (weights abababababab), 10,000 samples, seed 0, vs fashion-mnist test split "
                     "(10,000 images at 28 px), resize none, 2026-11-23")
    assert f"| FID | 12.5 | {protocol_text} |" in card.text
    assert "| Inception Score | 3.25 ± 0.05 |" in card.text and "| KID | 0.0125 ± 0.002 |" in card.text
    assert "hf://org/tiny-fmnist@" in card.text


def test_card_without_scores(tiny_zoo, tmp_path):
    tiny_zoo["tiny-fmnist"].update(scores=[], license="mit (upstream code; the data's own terms apply)")
    zoo.registry.write_index(tiny_zoo)
    build_repo_folder("tiny-fmnist", tmp_path / "pub", "org/tiny-fmnist")
    card = ModelCard.load(tmp_path / "pub" / "README.md")
    assert card.data.license == "mit" and "License: mit (upstream code; the data's own terms apply)." in card.text
    assert card.data.eval_results is None and "model-index" not in card.content
    assert "Not scored yet" in card.text


def test_card_lists_the_measurements_of_the_index_entry(tiny_zoo, tmp_path):
    build_repo_folder("tiny-fmnist", tmp_path / "pub", "org/tiny-fmnist")
    assert "beyond the image metrics" not in (tmp_path / "pub" / "README.md").read_text()
    recovery = {"accuracy": 0.9875, "n": 400, "command": "zoo recovery x"}
    tiny_zoo["tiny-fmnist"]["measurements"] = {"code_recovery": recovery}
    zoo.registry.write_index(tiny_zoo)
    build_repo_folder("tiny-fmnist", tmp_path / "pub2", "org/tiny-fmnist")
    card = (tmp_path / "pub2" / "README.md").read_text()
    assert "- code recovery: 0.9875 (400 samples), by `zoo recovery x`" in card


def test_card_metrics_accepts_the_score_layouts():
    protocol = {"extractor": "x"}
    rows = card_metrics([
        {"metrics": {"FID": 10, "IS": [2.5, 0.5], "note": "text", "hist": [1, 2, 3]}, "protocol": protocol},
        {"metric": "KID", "value": {"mean": 0.01, "std": 0.001}, "protocol": protocol},
        {"precision": 0.7, "recall": True},
        "garbage",
    ])
    assert [(r["metric"], r["value"], r["std"]) for r in rows] == [
        ("fid", 10.0, None), ("is", 2.5, 0.5), ("kid", 0.01, 0.001), ("precision", 0.7, None)]
    assert rows[0]["protocol"] == protocol and rows[3]["protocol"] == {}
    assert card_metrics([]) == [] and card_metrics(None) == []


@pytest.mark.parametrize("name", REAL_BUNDLED or [pytest.param(None, marks=pytest.mark.skip("no bundled entry yet"))])
def test_every_bundled_entry_publishes_and_loads_back(name, tmp_path, hub_cache):
    out = tmp_path / name
    publish(name, f"zoo/{name}", dry_run=out)
    reference = zoo.load(name)
    assert same_samples(reference, zoo.load(out))
    populate_cache(hub_cache, f"zoo/{name}", out)
    assert same_samples(reference, zoo.load(f"hf://zoo/{name}@{COMMIT}"))
    card = ModelCard.load(out / "README.md")
    expected = {r["metric"].lower() for r in card_metrics(zoo.info(name)["scores"])}
    assert {r.metric_type for r in card.data.eval_results or []} == expected


# ------------------------------------------------------------------------------------------- Hub cache, offline
def test_load_from_hand_populated_cache(tiny_zoo, tmp_path, hub_cache):
    assert constants.is_offline_mode()
    out = tmp_path / "pub"
    build_repo_folder("tiny-fmnist", out, "org/tiny")
    populate_cache(hub_cache, "org/tiny", out, refs=("main", "v1"))
    reference = zoo.load("tiny-fmnist")
    for spec in ("hf://org/tiny", f"hf://org/tiny@{COMMIT}", "hf://org/tiny@v1"):
        assert same_samples(reference, zoo.load(spec))
    assert same_samples(zoo.load("tiny-fmnist", ema=False), zoo.load("hf://org/tiny", ema=False))
    # the PyTorchModelHubMixin convention: a folder and a repo id give the same generator
    from_folder, from_repo = Generator.from_pretrained(out), Generator.from_pretrained("org/tiny", revision=COMMIT)
    assert type(from_repo) is DCGANGenerator and not from_repo.training
    assert same_samples(reference, from_folder) and same_samples(reference, from_repo)
    from_repo.save_pretrained(tmp_path / "resaved")
    assert same_samples(reference, zoo.load(tmp_path / "resaved"))
    # from_pretrained is strict: a weights file with a missing tensor is refused, not half-loaded
    state = load_file(out / "model.safetensors")
    state.pop(sorted(state)[0])
    save_file(state, str(tmp_path / "resaved" / "model.safetensors"))
    with pytest.raises(WeightsError, match=r"missing keys \['blocks.0.weight'\]"):
        Generator.from_pretrained(tmp_path / "resaved")


def test_hub_errors_are_one_line(tiny_zoo, tmp_path, hub_cache):
    out = tmp_path / "pub"
    build_repo_folder("tiny-fmnist", out, "org/tiny")
    populate_cache(hub_cache, "org/tiny", out)
    with pytest.raises(HubError) as excinfo:
        zoo.load("hf://org/absent@v2")
    message = one_line_error(excinfo)
    assert "org/absent/config.json at revision v2" in message and "unset HF_HUB_OFFLINE" in message
    with pytest.raises(HubError) as excinfo:
        zoo.load("hf://org/tiny@v9")
    assert "unknown revision 'v9' of org/tiny" in one_line_error(excinfo) and "main" in str(excinfo.value)
    with pytest.raises(InvalidArgumentError):
        zoo.load("hf://not-a-spec")
    # a repo whose config.json names no generator_class (a transformers repo, say)
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "bert"}')
    (other / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    populate_cache(hub_cache, "org/bert", other)
    with pytest.raises(NotAZooRepoError) as excinfo:
        zoo.load("hf://org/bert")
    assert "not a gan-zoo repo" in one_line_error(excinfo)
    # a cached blob that was altered no longer matches the sha256 in config.json
    blob = hub_cache / "models--org--tiny" / "blobs" / sha256_file(out / "model.safetensors")
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(WeightsError) as excinfo:
        zoo.load("hf://org/tiny")
    assert "sha256" in one_line_error(excinfo)
    # uploads are refused at once while offline
    assert main(["publish", "tiny-fmnist", "--repo-id", "org/tiny"]) == 2


# ------------------------------------------------------------------------------------------- index entries on the Hub
def hub_index_entry(out: Path, repo_id: str = "org/tiny", sha: str | None = None, **weights) -> dict:
    hub = {"repo_id": repo_id, "filename": "model.safetensors", "revision": COMMIT,
           "sha256": sha or sha256_file(out / "model.safetensors")}
    return tiny_entry({"hub": hub, **weights})


def test_hub_entry_pinned_and_checked(tiny_zoo, tmp_path, hub_cache):
    out = tmp_path / "pub"
    build_repo_folder("tiny-fmnist", out, "org/tiny")
    populate_cache(hub_cache, "org/tiny", out)
    tiny_zoo["tiny-hub"] = hub_index_entry(out)
    tiny_zoo["tiny-bad-sha"] = hub_index_entry(out, sha="0" * 64)
    tiny_zoo["tiny-uncached"] = hub_index_entry(out, repo_id="org/uncached")
    tiny_zoo["tiny-unpinned"] = hub_index_entry(out)
    tiny_zoo["tiny-unpinned"]["weights"]["hub"].update(revision=None, sha256=None)
    zoo.registry.write_index(tiny_zoo)
    assert same_samples(zoo.load("tiny-fmnist"), zoo.load("tiny-hub"))
    with pytest.raises(WeightsNotFoundError, match="pins no revision or sha256 .* allow_unpinned=True"):
        zoo.load("tiny-unpinned")  # refused before any download
    with pytest.warns(UserWarning, match=f"pins no revision or sha256 .* using commit {COMMIT[:12]}"):
        assert same_samples(zoo.load("tiny-fmnist"), zoo.load("tiny-unpinned", allow_unpinned=True))
    assert same_samples(zoo.load("tiny-fmnist", ema=False), zoo.load("tiny-hub", ema=False))
    with pytest.raises(WeightsError) as excinfo:
        zoo.load("tiny-bad-sha")
    assert "sha256" in one_line_error(excinfo) and "000000000000" in str(excinfo.value)
    with pytest.raises(HubError) as excinfo:
        zoo.load("tiny-uncached")
    message = one_line_error(excinfo)
    assert f"org/uncached/model.safetensors at revision {COMMIT}" in message
    assert "zoo.load('tiny-uncached', weights=PATH)" in message
    # a local copy is used without the index's sha256, and the warning names the file
    with pytest.warns(UserWarning, match=r"using local weights .*pub/model.safetensors .*matches the index"):
        local = zoo.load("tiny-uncached", weights=out / "model.safetensors")
    assert same_samples(zoo.load("tiny-fmnist"), local)


def test_converter_entry_converts_once_into_the_cache(tiny_zoo, tmp_path, hub_cache, monkeypatch):
    # an "upstream" checkpoint: a bare state dict in safetensors, rebuilt by a converter from its options
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    save_weights(upstream, zoo.load("tiny-fmnist"))
    (upstream / "config.json").unlink()
    (upstream / "model.safetensors").rename(upstream / "G_ema.safetensors")
    calls = []

    def convert_test(weights_file, config_file=None, **options):
        calls.append(Path(weights_file))
        generator = DCGANGenerator(**options)
        load_state(generator, weights_file)
        return generator

    monkeypatch.setitem(zoo.convert.CONVERTERS, "test-dcgan", convert_test)
    populate_cache(hub_cache, "upstream/gan", upstream)
    options = {"latent_dim": 8, "width": 4}
    tiny_zoo["tiny-converted"] = tiny_entry({
        "hub": {"repo_id": "upstream/gan", "filename": "G_ema.safetensors", "revision": COMMIT,
                "sha256": sha256_file(upstream / "G_ema.safetensors")},
        "converter": "test-dcgan", "converter_config": options})
    zoo.registry.write_index(tiny_zoo)
    reference = zoo.load("tiny-fmnist")
    assert same_samples(reference, zoo.load("tiny-converted"))
    assert same_samples(reference, zoo.load("tiny-converted"))
    assert len(calls) == 1  # the second load read the converted folder
    digest = sha256_file(upstream / "G_ema.safetensors")
    folder = tmp_path / "zoo-cache" / "converted" / "tiny-converted" / digest[:16]
    assert json.loads((folder / "zoo_cache.json").read_text())["converter_config"] == options
    assert same_samples(reference, zoo.load(folder))
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    with pytest.warns(UserWarning, match="using local weights"):
        assert same_samples(reference, zoo.load("tiny-converted", weights=upstream / "G_ema.safetensors"))
    assert len(calls) == 1  # same file, same converter: the cache serves it
    # a converted entry publishes as a plain zoo repo (no converter needed to load it back)
    with pytest.warns(UserWarning, match="using local weights"):
        publish("tiny-converted", "org/converted", dry_run=tmp_path / "pub", weights=upstream / "G_ema.safetensors")
    assert same_samples(reference, zoo.load(tmp_path / "pub"))
    assert "converted from the upstream checkpoint `upstream/gan/G_ema.safetensors`" in (
        tmp_path / "pub" / "README.md").read_text()


# ------------------------------------------------------------------------------------------- upload, loopback Hub
class FakeHub(BaseHTTPRequestHandler):
    """The endpoints huggingface_hub 2.4 calls for create_repo, create_commit (legacy LFS path) and downloads."""

    requests: list  # (method, path, body)
    lfs: dict  # oid -> bytes
    commits: dict  # sha -> {path: bytes}

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    return data
                data += chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, payload=None, headers=None, body: bytes | None = None):
        data = body if body is not None else json.dumps(payload).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                           **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_POST(self):
        body = self._body()
        self.requests.append(("POST", self.path, body))
        endpoint = f"http://{self.headers['Host']}"
        if self.path == "/api/repos/create":
            payload = json.loads(body)
            return self._reply(200, {"url": f"{endpoint}/{payload['organization']}/{payload['name']}"})
        if self.path == "/api/validate-yaml":
            return self._reply(200, {})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            return self._reply(200, {"files": [
                {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith((".safetensors", ".png")) else "regular",
                 "shouldIgnore": False} for f in files]})
        if self.path.endswith(".git/info/lfs/objects/batch"):
            objects = json.loads(body)["objects"]
            return self._reply(200, {"transfer": "basic", "objects": [
                {**o, "actions": {"upload": {"href": f"{endpoint}/lfs-upload/{o['oid']}"}}} for o in objects]})
        if "/commit/" in self.path:
            lines = [json.loads(line) for line in body.splitlines()]
            files = {}
            for line in lines[1:]:
                value = line["value"]
                files[value["path"]] = (base64.b64decode(value["content"]) if line["key"] == "file"
                                        else self.lfs[value["oid"]])
            sha = hashlib.sha1(body).hexdigest()
            self.commits[sha] = files
            repo = self.path.split("/api/models/")[1].split("/commit/")[0]
            return self._reply(200, {"commitUrl": f"{endpoint}/{repo}/commit/{sha}", "commitOid": sha,
                                     "pullRequestUrl": None})
        return self._reply(404, {"error": "unknown endpoint"})

    def do_PUT(self):
        body = self._body()
        self.requests.append(("PUT", self.path, body))
        self.lfs[self.path.rsplit("/", 1)[1]] = body
        return self._reply(200, {})

    def _resolve(self):
        # /{org}/{repo}/resolve/{revision}/{filename}
        self.requests.append((self.command, self.path, b""))
        parts = self.path.split("/")
        if len(parts) < 6 or parts[3] != "resolve":
            return self._reply(404, {"error": "unknown endpoint"})
        revision, filename = parts[4], "/".join(parts[5:])
        sha = next(iter(self.commits)) if revision == "main" and self.commits else revision
        if sha not in self.commits:
            return self._reply(404, {"error": "Invalid rev id"}, headers={"X-Error-Code": "RevisionNotFound"})
        if filename not in self.commits[sha]:
            return self._reply(404, {"error": "Entry not found"},
                               headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha})
        data = self.commits[sha][filename]
        return self._reply(200, body=data, headers={
            "X-Repo-Commit": sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "Content-Type": "application/octet-stream"})

    do_HEAD = do_GET = _resolve


@pytest.fixture
def fake_hub(monkeypatch):
    handler = type("Handler", (FakeHub,), {"requests": [], "lfs": {}, "commits": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    # online, but only towards the loopback server; the legacy LFS path (no Xet storage server to emulate)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr("huggingface_hub._commit_api.is_xet_available", lambda: False)
    monkeypatch.setattr("huggingface_hub.file_download.is_xet_available", lambda: False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    yield handler
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")  # inside huggingface_hub's LFS PUT
def test_upload_sends_one_commit_to_a_loopback_hub(tiny_zoo, tmp_path, hub_cache, fake_hub, capsys):
    out = tmp_path / "dry"
    build_repo_folder("tiny-fmnist", out, "org/tiny")
    assert main(["publish", "tiny-fmnist", "--repo-id", "org/tiny", "--private"]) == 0
    printed = capsys.readouterr().out
    (sha, files), = fake_hub.commits.items()
    assert f"commit {sha}" in printed and f"hf://org/tiny@{sha}" in printed
    assert json.dumps({"repo_id": "org/tiny", "filename": "model.safetensors", "revision": sha,
                       "sha256": sha256_file(out / "model.safetensors")}) in printed
    # exactly the dry-run folder, in one commit
    assert sorted(files) == sorted(p.name for p in out.iterdir())
    for name, data in files.items():
        assert data == (out / name).read_bytes(), name
    posts = [(path, body) for method, path, body in fake_hub.requests if method == "POST"]
    assert [p.split("?")[0] for p, _ in posts] == [
        "/api/repos/create", "/api/validate-yaml", "/api/models/org/tiny/preupload/main",
        "/org/tiny.git/info/lfs/objects/batch", "/api/models/org/tiny/commit/main"]
    assert json.loads(posts[0][1]) == {"name": "tiny", "organization": "org", "visibility": "private"}
    assert json.loads(posts[1][1])["content"] == (out / "README.md").read_text()
    batch = json.loads(posts[3][1])["objects"]
    lfs_files = ["grid.png", "model.safetensors", "model_noema.safetensors"]
    assert sorted(o["oid"] for o in batch) == sorted(sha256_file(out / f) for f in lfs_files)
    assert sorted(path for method, path, _ in fake_hub.requests if method == "PUT") == sorted(
        f"/lfs-upload/{sha256_file(out / f)}" for f in lfs_files)
    commit_lines = [json.loads(line) for line in posts[4][1].splitlines()]
    assert commit_lines[0] == {"key": "header",
                               "value": {"summary": "Publish tiny-fmnist (gan-zoo)", "description": ""}}
    assert sorted(line["key"] for line in commit_lines[1:]) == ["file"] * 3 + ["lfsFile"] * 3
    # ... and it downloads back, pinned, into an empty cache, then loads offline from that cache
    reference = zoo.load("tiny-fmnist")
    assert same_samples(reference, zoo.load(f"hf://org/tiny@{sha}"))
    with pytest.raises(HubError) as excinfo:
        zoo.load("hf://org/tiny@deadbeef")
    assert "org/tiny has no revision 'deadbeef'" in one_line_error(excinfo)
    with pytest.raises(NotAZooRepoError):
        fake_hub.commits["f" * 40] = {"model.safetensors": files["model.safetensors"]}
        zoo.load(f"hf://org/tiny@{'f' * 40}")
    constants.HF_HUB_OFFLINE = True  # restored by monkeypatch
    assert same_samples(reference, zoo.load(f"hf://org/tiny@{sha}"))


def test_errors_are_zoo_errors():
    assert issubclass(HubError, ZooError) and issubclass(NotAZooRepoError, WeightsError)
