"""benchmarks/gallery.py's extra figures, each only where the loaded model supports it: InfoGAN's latent traversals,
an encoder model's reconstructions; nothing more for a model with neither."""

import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import zoo
from zoo.nets.dcgan import DCGANEncoder, DCGANGenerator
from zoo.nets.infogan import InfoGANDiscriminator, InfoGANGenerator
from zoo.serialization import save_weights

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gallery", REPO / "benchmarks" / "gallery.py")
gallery = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gallery)


def exported(tmp_path, name, generator, encoder=None):
    """``generator`` (and ``encoder``) written as a weights folder and loaded back as the gallery loads a model."""
    save_weights(tmp_path / name, generator.eval(), encoder=encoder)
    (tmp_path / "out" / "gallery").mkdir(parents=True, exist_ok=True)
    return zoo.load(tmp_path / name)


def size(path):
    with Image.open(path) as image:
        return image.size


def test_infogan_gets_one_traversal_per_continuous_code_and_no_reconstruction(tmp_path):
    torch.manual_seed(0)
    reader = InfoGANDiscriminator(categorical=3, continuous=2, width=4, q_hidden=8).code_reader()
    G = exported(tmp_path, "infogan", InfoGANGenerator(noise_dim=4, categorical=3, continuous=2, width=4), reader)
    out = tmp_path / "out"
    lines = gallery.extra_sections("tiny-infogan", G, out)
    assert "![tiny-infogan traversal c1](gallery/tiny-infogan-traversal-c1.png)" in lines
    assert "![tiny-infogan traversal c2](gallery/tiny-infogan-traversal-c2.png)" in lines
    assert sorted(p.name for p in (out / "gallery").iterdir()) == ["tiny-infogan-traversal-c1.png",
                                                                   "tiny-infogan-traversal-c2.png"]
    # 3 categorical rows x 9 steps of 30px cells (+2 padding), drawn at 3x
    assert size(out / "gallery" / "tiny-infogan-traversal-c1.png") == ((9 * 30 + 2) * 3, (3 * 30 + 2) * 3)
    with Image.open(out / "gallery" / "tiny-infogan-traversal-c2.png") as image:
        want = gallery.image_grid(G.traversal(1, 9, seed=gallery.SEED), nrow=9)
        got = torch.from_numpy(np.array(image.convert("L"))).float() / 255
        assert (got[::3, ::3] - want[0]).abs().max() <= 1 / 255 + 1e-6  # the traversal, at seed 0, 3x


def test_an_encoder_model_gets_its_reconstructions(tmp_path):
    torch.manual_seed(0)
    G = exported(tmp_path, "enc", DCGANGenerator(8, 4), DCGANEncoder(8, width=4).eval())
    out = tmp_path / "out"
    lines = gallery.extra_sections("tiny-enc", G, out)
    assert lines[-2] == "![tiny-enc reconstruction](gallery/tiny-enc-reconstruction.png)"
    assert [p.name for p in (out / "gallery").iterdir()] == ["tiny-enc-reconstruction.png"]
    assert size(out / "gallery" / "tiny-enc-reconstruction.png") == ((8 * 30 + 2) * 3, (8 * 30 + 2) * 3)  # 4+4 rows


def test_a_model_with_neither_gets_nothing_more(tmp_path):
    G = exported(tmp_path, "plain", DCGANGenerator(8, 4))
    assert gallery.extra_sections("tiny-dcgan", G, tmp_path / "out") == []
    assert list((tmp_path / "out" / "gallery").iterdir()) == []
