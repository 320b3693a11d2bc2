"""One module per GAN family (the training side; the networks are in ``zoo.nets``). Importing this package
registers every family."""

from . import (  # noqa: F401
    acgan,
    began,
    bigan,
    biggan,
    cgan,
    dcgan,
    dragan,
    ebgan,
    fgan,
    gan,
    improved_gan,
    infogan,
    lsgan,
    modereg,
    pacgan,
    rgan,
    sagan,
    sngan,
    triplegan,
    tvgan,
    unrolled,
    vaegan,
    wgan,
    wgan_gp,
)
