"""One module per GAN family. Importing this package registers every family and generator class."""

from . import biggan, biggan_deep, dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: F401
