"""Training of the SimSwap-style generator of :mod:`realtime.models`: data (prepare, data), losses, discriminator,
the loop, and the command lines ``python -m training.prepare``, ``training.train`` and ``training.evaluate``."""
