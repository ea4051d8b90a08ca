"""Real-time face swapping: video/image pipeline, face analysis, swappers and the custom operators they run on."""

__version__ = "0.1.0"
