"""Every network of the zoo: torch only, so that loading a generator needs no training code. Importing this
package registers every Generator subclass."""

from . import (  # noqa: F401
    acgan,
    autoencoder,
    bigan,
    biggan,
    biggan_deep,
    cgan,
    classifier,
    dcgan,
    improved_gan,
    infogan,
    mlp,
    sagan,
    sngan,
    vaegan,
)
