"""GAN losses over discriminator (critic) outputs, and the WGAN-GP gradient penalty."""

__all__ = []
