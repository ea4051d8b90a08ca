"""Real-time face swapping: video/image pipeline, face analysis, swappers and the custom operators they run on."""

from realtime.threads import prefer_passive_waiting

prefer_passive_waiting()  # before anything imports torch: see realtime.threads

__version__ = "0.1.0"
