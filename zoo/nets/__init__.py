"""Every network of the zoo: torch only, so that loading a generator needs no training code. Importing this
package registers every Generator subclass."""

from . import acgan, autoencoder, biggan, biggan_deep, cgan, classifier, dcgan, improved_gan, infogan, mlp, sagan, sngan  # noqa: F401
