"""Live video: cameras (or a file played as one), the newest-frame hand-off, background detection, sinks (virtual
camera, window, file, null) and the session loop behind ``python -m realtime.webcam``."""
