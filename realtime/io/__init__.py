"""Media input and output: videos (PyAV), images, metadata and atomic output files."""
