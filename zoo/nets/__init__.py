"""Every network of the zoo: torch only, so that loading a generator needs no training code. Importing this
package registers every Generator subclass."""

from . import autoencoder, bigan, biggan, biggan_deep, classifier, dcgan, improved_gan, mlp, sagan, sngan, vaegan  # noqa: F401
