"""``python -m realtime.batch`` (in progress): many videos and long videos across worker processes. Today:
:mod:`segments`, splitting a long video at keyframes into parts swapped independently (each warmed up on the
frames before it) and joined without re-encoding, with the source's audio."""
