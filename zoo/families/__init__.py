"""One module per GAN family (the training side; the networks are in ``zoo.nets``). Importing this package
registers every family."""

from . import biggan, dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: F401
