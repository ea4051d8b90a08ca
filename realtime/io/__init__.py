"""Media input and output: videos (PyAV), images, and the error types that map to CLI exit codes."""
