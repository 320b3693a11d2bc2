"""One module per GAN family (the training side; the networks are in ``zoo.nets``). Importing this package
registers every family."""

from . import began, biggan, dcgan, dragan, ebgan, fgan, gan, lsgan, rgan, sagan, sngan, tvgan, wgan, wgan_gp  # noqa: F401
