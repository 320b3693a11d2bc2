"""One module per GAN family. Importing this package registers every family and generator class."""

from .. import nets  # noqa: F401  (every generator class, BigGAN-deep's too, which has no family)
from . import biggan, dcgan, gan, lsgan, sngan, wgan, wgan_gp  # noqa: F401
