"""One module per GAN family. Importing this package registers every family and generator class."""

from . import dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: F401
