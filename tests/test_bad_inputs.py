"""README's table "Bad input and what it says", driven row by row: each input raises the error class and the one-line
message its row shows (``…`` stands for the parts that vary: paths, digests, sizes). The table and ``SCENARIOS`` must
name the same inputs, so neither can drift from the other.
"""

from __future__ import annotations

import errno
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import zoo
import zoo.errors
import zoo.registry
import zoo.serialization
from zoo.cli import main
from zoo.nets.biggan_deep import BigGANDeepGenerator
from zoo.nets.dcgan import DCGANGenerator
from zoo.serialization import CONFIG_FILE, EMA_FILE, save_weights

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = "### Bad input and what it says"


def table_rows() -> list[tuple[str, str, str]]:
    """(input, error class, message) of every row of the README's table."""
    text = README.read_text()
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    lines = text.split(HEADING, 1)[1].splitlines()
    rows = []
    for line in lines[1:]:
        if rows and not line.startswith("|"):
            break
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| input"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == 3, line
        what, cls, message = cells
        rows.append((what, cls.strip("`"), message.removeprefix("`` ").removesuffix(" ``")))
    return rows


def matches(pattern: str, message: str) -> bool:
    return re.fullmatch(".*?".join(re.escape(part) for part in pattern.split("…")), message) is not None


# ------------------------------------------------------------------------------------------- the inputs
class Context:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
        self.tmp, self.monkeypatch, self.capsys = tmp_path, monkeypatch, capsys
        monkeypatch.chdir(tmp_path)

    def folder(self, **config) -> Path:
        """A weights folder ``run/weights`` of a tiny DCGAN (EMA only), its config.json changed by ``config``."""
        folder = self.tmp / "run" / "weights"
        save_weights(folder, DCGANGenerator(latent_dim=8, width=4).eval())
        if config:
            data = json.loads((folder / CONFIG_FILE).read_text())
            (folder / CONFIG_FILE).write_text(json.dumps({**data, **config}))
        return folder

    def tiny_index(self, **entries) -> None:
        """An index with a copy of the bundled dcgan-fmnist (and ``entries``), in the temporary folder."""
        weights = self.tmp / "zoo-weights"
        shutil.copytree(zoo.registry.WEIGHTS_DIR / "dcgan-fmnist", weights / "dcgan-fmnist")
        index = {"dcgan-fmnist": zoo.registry.read_index()["dcgan-fmnist"], **entries}
        (self.tmp / "index.json").write_text(json.dumps(index))
        self.monkeypatch.setattr(zoo.registry, "INDEX_FILE", self.tmp / "index.json")
        self.monkeypatch.setattr(zoo.registry, "WEIGHTS_DIR", weights)

    def hub(self) -> None:
        """An offline Hub cache holding org/tiny (a zoo repo, at main and v1) and org/bert (not a zoo repo)."""
        from huggingface_hub import constants
        from test_hub import populate_cache

        cache = self.tmp / "hf-cache"
        cache.mkdir()
        self.monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        populate_cache(cache, "org/tiny", self.folder(), refs=("main", "v1"))
        bert = self.tmp / "bert"
        bert.mkdir()
        (bert / CONFIG_FILE).write_text('{"model_type": "bert"}')
        populate_cache(cache, "org/bert", bert)

    def cli(self, *argv: str) -> None:
        """Run the zoo command; raise its printed error (exit code 2, one line) as a ZooError to check."""
        self.capsys.readouterr()
        assert main(list(argv)) == 2
        err = self.capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        raise zoo.errors.ZooError(err.removeprefix("error: ").rstrip("\n"))


def truncate_weights(c: Context) -> None:
    folder = c.folder()
    data = (folder / EMA_FILE).read_bytes()
    (folder / EMA_FILE).write_bytes(data[:len(data) // 2])
    zoo.load("run/weights")


def corrupt_weights(c: Context) -> None:
    folder = c.folder()
    (folder / EMA_FILE).write_bytes(bytes(range(256)) * 4)
    zoo.load("run/weights")


def alter_bundled(c: Context) -> None:
    c.tiny_index()
    file = zoo.registry.WEIGHTS_DIR / "dcgan-fmnist" / EMA_FILE
    data = bytearray(file.read_bytes())
    data[-1] ^= 1
    file.write_bytes(bytes(data))
    zoo.load("dcgan-fmnist")


def wrong_dtype(c: Context) -> None:
    folder = c.folder()
    state = DCGANGenerator(latent_dim=8, width=4).state_dict()
    save_file({k: v.to(torch.int32).contiguous() for k, v in state.items()}, str(folder / EMA_FILE))
    zoo.load("run/weights")


def disk_full(c: Context) -> None:
    def full(state, path, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    c.monkeypatch.setattr(zoo.serialization, "save_file", full)
    save_weights("run/weights", DCGANGenerator(latent_dim=8, width=4))


def interrupted_export(c: Context) -> None:
    folder = c.folder()
    (folder / CONFIG_FILE).unlink()  # config.json is renamed into place last
    zoo.load("run/weights")


def pinned_sha_mismatch(c: Context) -> None:
    from test_hub import COMMIT

    c.hub()
    hub = {"repo_id": "org/tiny", "filename": EMA_FILE, "revision": COMMIT, "sha256": "0" * 64}
    c.tiny_index(**{"tiny-hub": dict(family="dcgan", paper="p", dataset="fashion-mnist", resolution=28, channels=1,
                                     latent_dim=8, weights={"hub": hub})})
    zoo.load("tiny-hub")


def bad_index_field(c: Context) -> None:
    c.tiny_index(x=dict(family="dcgan", paper="p", dataset="d", resolution="28", channels=1, latent_dim=8,
                        weights={}))
    zoo.list_models()


def broken_index(c: Context) -> None:
    (c.tmp / "index.json").write_text('{"dcgan-fmnist": {')
    c.monkeypatch.setattr(zoo.registry, "INDEX_FILE", c.tmp / "index.json")
    zoo.list_models()


def missing_data(c: Context) -> None:
    from zoo.data import load_fashion_mnist

    load_fashion_mnist("train", root=c.tmp)


def biggan_deep() -> BigGANDeepGenerator:
    return BigGANDeepGenerator(latent_dim=4, embed_dim=4, num_classes=2, img_size=8, width=4, layers=[[True, 1, 1]],
                               attention_position=None).eval()


def recipe(c: Context, text: str) -> Path:
    (c.tmp / "bad.yaml").write_text(text)
    return c.tmp / "bad.yaml"


SCENARIOS = {
    '`zoo.load("nothing-like-it")`': lambda c: zoo.load("nothing-like-it"),
    '`zoo.load("dcgan-fmnsit")` (a typo)': lambda c: zoo.load("dcgan-fmnsit"),
    "`zoo.load(42)`": lambda c: zoo.load(42),
    '`zoo.load("./no-such-run")`': lambda c: zoo.load("./no-such-run"),
    '`zoo.load("dcgan-fmnist")` where `./dcgan-fmnist/` is a folder': lambda c: (
        (c.tmp / "dcgan-fmnist").mkdir(), zoo.load("dcgan-fmnist")),
    '`zoo.load("./grid.png")` (a file)': lambda c: ((c.tmp / "grid.png").write_bytes(b"png"), zoo.load("./grid.png")),
    '`zoo.load("hf://not-a-spec")`': lambda c: zoo.load("hf://not-a-spec"),
    '`zoo.load("hf://org/tiny@../main")`': lambda c: zoo.load("hf://org/tiny@../main"),
    '`zoo.load("hf://org/absent")` offline, not in the Hub cache': lambda c: (c.hub(), zoo.load("hf://org/absent")),
    '`zoo.load("hf://org/tiny@v9")` offline, an unknown revision': lambda c: (c.hub(), zoo.load("hf://org/tiny@v9")),
    '`zoo.load("hf://org/bert")`, a repo that is not a zoo repo': lambda c: (c.hub(), zoo.load("hf://org/bert")),
    '`zoo.load("biggan-128")` offline, its pinned Hub file not cached': lambda c: (c.hub(), zoo.load("biggan-128")),
    '`zoo.load("biggan-deep-128")`, an index entry with no pinned revision/sha256': lambda c: zoo.load(
        "biggan-deep-128"),
    "an index entry whose pinned sha256 does not match the Hub file": pinned_sha_mismatch,
    '`zoo.load("run/weights", weights="G.pth")`': lambda c: (c.folder(), zoo.load("run/weights", weights="G.pth")),
    "a bundled model.safetensors altered by one bit": alter_bundled,
    "`model.safetensors` cut in half": truncate_weights,
    "`model.safetensors` that is not safetensors at all": corrupt_weights,
    "`model.safetensors` missing": lambda c: ((c.folder() / EMA_FILE).unlink(), zoo.load("run/weights")),
    '`zoo.load("run/weights", ema=False)` for a folder with only G_ema': lambda c: (
        c.folder(), zoo.load("run/weights", ema=False)),
    "an export interrupted before its end (no `config.json` yet)": interrupted_export,
    "`config.json` that is not JSON": lambda c: (
        (c.folder() / CONFIG_FILE).write_text("{generator_class: DCGAN"), zoo.load("run/weights")),
    '`config.json` naming `"generator_class": "NoSuchGenerator"`': lambda c: (
        c.folder(generator_class="NoSuchGenerator"), zoo.load("run/weights")),
    '`config.json` with `"width": "wide"`': lambda c: (c.folder(width="wide"), zoo.load("run/weights")),
    '`config.json` with `"img_size": 30`': lambda c: (c.folder(img_size=30), zoo.load("run/weights")),
    '`config.json` with `"width": 6` (weights of another shape)': lambda c: (
        c.folder(width=6), zoo.load("run/weights")),
    '`config.json` with `"width": 65536` (a 550 GB network)': lambda c: (
        c.folder(width=65536), zoo.load("run/weights")),
    "weights stored as int32": wrong_dtype,
    '`G.sample(4, labels="Sneakr")` (biggan-fmnist)': lambda c: zoo.load("biggan-fmnist").sample(4, labels="Sneakr"),
    "`G.sample(4, labels=10)` (biggan-fmnist)": lambda c: zoo.load("biggan-fmnist").sample(4, labels=10),
    "`G.sample(4, labels=2.5)` (biggan-fmnist)": lambda c: zoo.load("biggan-fmnist").sample(4, labels=2.5),
    "`G.sample(4, labels=[1, 2])` (biggan-fmnist)": lambda c: zoo.load("biggan-fmnist").sample(4, labels=[1, 2]),
    "`G.sample(4, labels=1)` (dcgan-fmnist, unconditional)": lambda c: zoo.load("dcgan-fmnist").sample(4, labels=1),
    "`G.sample(4, truncation=0.5)` (dcgan-fmnist: no truncation trick)": lambda c: zoo.load("dcgan-fmnist").sample(
        4, truncation=0.5),
    "`G.sample(4, truncation=0)` (biggan-fmnist)": lambda c: zoo.load("biggan-fmnist").sample(4, truncation=0),
    '`G.sample(4, truncation="high")` (biggan-fmnist)': lambda c: zoo.load("biggan-fmnist").sample(
        4, truncation="high"),
    "`G.sample(4, truncation=1.5)` (BigGAN-deep: t in (0, 1])": lambda c: biggan_deep().sample(4, truncation=1.5),
    "`G.sample(0)`": lambda c: zoo.load("dcgan-fmnist").sample(0),
    "`G.sample(10**12)` (more than the memory holds)": lambda c: zoo.load("dcgan-fmnist").sample(10**12),
    '`G.sample(4, seed="abc")`': lambda c: zoo.load("dcgan-fmnist").sample(4, seed="abc"),
    "a data root without Fashion-MNIST (`load_fashion_mnist(root=...)`, or `FashionMNIST(root=...)` in a recipe)":
        missing_data,
    "`zoo fit --config bad.yaml` (a YAML error)": lambda c: c.cli("fit", "--config", str(recipe(c, "model: [1,\n"))),
    "`zoo fit --config missing.yaml`": lambda c: c.cli("fit", "--config", "missing.yaml"),
    "`zoo fit --config bad.yaml` (a list, not sections)": lambda c: c.cli(
        "fit", "--config", str(recipe(c, "- trainer\n- model\n"))),
    "`zoo fit --config recipes/dcgan-fmnist.yaml --model.init_args.widht 4`": lambda c: c.cli(
        "fit", "--config", str(README.parent / "recipes" / "dcgan-fmnist.yaml"), "--model.init_args.widht", "4"),
    "a full disk while exporting (`save_weights`, a checkpoint, `training.json`)": disk_full,
    "`index.json` that is not valid JSON": broken_index,
    '`index.json` entry with `"resolution": "28"`': bad_index_field,
}

ROWS = table_rows()


def test_the_table_and_the_scenarios_name_the_same_inputs():
    assert len(ROWS) >= 25
    assert [what for what, _, _ in ROWS] == list(SCENARIOS), "README's table and SCENARIOS differ: keep them in sync"


@pytest.mark.filterwarnings("ignore:LightningCLI's args parameter")  # pytest's own argv, not the row's
@pytest.mark.parametrize("what,cls,pattern", ROWS, ids=[what for what, _, _ in ROWS])
def test_bad_input_says_what_the_table_says(what, cls, pattern, tmp_path, monkeypatch, capsys):
    assert what in SCENARIOS, f"README row {what!r} has no scenario in SCENARIOS"
    with pytest.raises(zoo.errors.ZooError) as excinfo:
        SCENARIOS[what](Context(tmp_path, monkeypatch, capsys))
    message = str(excinfo.value)
    assert message and "\n" not in message, message
    assert matches(pattern, message), f"\n  table: {pattern}\n  said:  {message}"
    if not what.startswith("`zoo fit"):  # the CLI rows see the printed line, not the class
        assert type(excinfo.value).__name__ == cls or cls in [k.__name__ for k in type(excinfo.value).__mro__]
