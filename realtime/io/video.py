"""Video in and out with PyAV: threaded decoding, timestamp- and rotation-preserving encoding, audio kept.

Frames travel as RGB uint8 arrays [H,W,3] in display orientation: the container's rotation is applied on read and
re-applied as metadata on write, so the stored pixels keep their original orientation. Timestamps travel as the
source's pts in the source time base, so variable frame rate survives a round trip.

Nothing is lost silently: the reader counts what it decoded against what the container announces (its frame count,
or its duration) and the packets and frames FFmpeg flags as damaged, and skips undecodable packets while counting
them (threaded decoding otherwise swallows the error of a cut-off last packet). A truncated or damaged input raises
an InputError once decoding ends, unless the reader was told to accept it (``allow_incomplete``); then
:attr:`VideoReader.report` says how much was decoded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.codec.hwaccel import HWAccel, hwdevices_available

from realtime.errors import InputError, OutputError, UsageError, UserError
from realtime.io.files import TempOutput, write_failure

__all__ = [
    "VIDEO_SUFFIXES",
    "DecodeReport",
    "DecodedFrame",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "probe",
    "read_frame",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
_FORMAT_BY_SUFFIX = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# Audio codecs each output format takes as they are; anything else is transcoded.
_COPYABLE_AUDIO: dict[str, set[str] | None] = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    "matroska": None,  # takes everything
    "webm": {"opus", "vorbis"},
    "avi": {"mp3", "ac3", "pcm_s16le"},
}
_TRANSCODE_AUDIO = {"webm": "libopus", "avi": "mp3"}  # default: aac
_END = object()
# What FFmpeg downloads device-decoded frames as (the device frames' software format): semi-planar 4:2:0 / 4:2:2,
# and planar 4:4:4 for NVDEC's 4:4:4 profiles; a CPU decoder gives 4:2:0 and 4:2:2 content in planar yuv420p...
_DEVICE_DOWNLOAD_FORMATS = frozenset({"nv12", "p010le", "p016le", "nv16", "p210le", "p216le", "yuv444p", "yuv444p16le"})
# The planar layout of each semi-planar one, same samples: swscale converts semi-planar frames to RGB on another path
# than planar ones, whose chroma interpolation differs (0.9 grey levels on average, up to 44 at edges, on the
# sample clip; on an H200, NVDEC's frames then failed to match the CPU decoder's), while re-laying the planes out
# is an exact copy. So device-decoded frames are made planar first and come out as the CPU decoder's, byte for byte.
_PLANAR_OF = {"nv12": "yuv420p", "p010le": "yuv420p10le", "p016le": "yuv420p16le", "nv16": "yuv422p",
              "p210le": "yuv422p10le", "p216le": "yuv422p16le"}  # fmt: skip


def frame_to_rgb(frame: av.VideoFrame, rotation: int = 0) -> np.ndarray:
    """A decoded frame as uint8 RGB [H, W, 3] in display orientation (``rotation``: the stream's, a multiple of 90
    degrees, see :func:`to_display`). Semi-planar frames (what a device decoder downloads) are laid out planar
    first, so the RGB is the same as the CPU decoder's for the same stream."""
    planar = _PLANAR_OF.get(frame.format.name)
    if planar is not None:
        frame = frame.reformat(format=planar)
    return to_display(frame.to_ndarray(format="rgb24"), rotation)


@dataclass(frozen=True)
class VideoInfo:
    """The first video stream's properties; width/height are the display size (after rotation)."""

    width: int
    height: int
    fps: Fraction
    time_base: Fraction
    frames: int  # the container's frame count (0 when unknown)
    duration: float  # seconds (0.0 when unknown)
    rotation: int  # display rotation, degrees counter-clockwise, one of 0, 90, 180, 270
    has_audio: bool
    codec: str


@dataclass
class DecodedFrame:
    """One decoded frame: RGB uint8 [H,W,3] upright, its pts in the stream's time base, seconds, and its index."""

    image: np.ndarray
    pts: int
    time: float
    index: int


@dataclass(frozen=True)
class DecodeReport:
    """How a decode went: ``decoded`` frames of ``expected`` (the container's frame count, or its duration times the
    frame rate; None when the container says neither), the seconds decoded of ``duration`` (0.0 when unknown),
    packets the demuxer flagged as corrupt, frames the decoder flagged as corrupt, and packets that failed to
    decode (skipped)."""

    decoded: int
    expected: int | None
    decoded_seconds: float
    duration: float
    corrupt_packets: int
    corrupt_frames: int
    decode_errors: int

    @property
    def complete(self) -> bool:
        """No damage flagged and nothing missing: the frames decoded are within one of the announced count and
        their time within half a second of the announced duration. When the container announces both, both must
        show the loss (some muxers, AVI's among them, count time-base ticks rather than frames)."""
        if self.corrupt_packets or self.corrupt_frames or self.decode_errors:
            return False
        short_count = self.expected is not None and self.decoded < self.expected - 1
        short_time = self.duration > 0 and self.decoded_seconds < self.duration - 0.5
        if self.expected is not None and self.duration > 0:
            return not (short_count and short_time)
        return not (short_count or short_time)

    def describe(self) -> str:
        """One phrase: "decoded 88 of 180 frames (1 corrupt packet)"."""
        if self.expected is not None:
            head = f"decoded {self.decoded} of {self.expected} frames"
        elif self.duration > 0:
            head = f"decoded {self.decoded} frames, {self.decoded_seconds:.1f} of {self.duration:.1f} s"
        else:
            head = f"decoded {self.decoded} frames"
        damage = [
            f"{n} {what}{'s' if n != 1 else ''}"
            for n, what in ((self.corrupt_packets, "corrupt packet"), (self.corrupt_frames, "corrupt frame"),
                            (self.decode_errors, "undecodable packet"))
            if n
        ]  # fmt: skip
        return head + (f" ({', '.join(damage)})" if damage else "")


def to_display(stored: np.ndarray, rotation: int) -> np.ndarray:
    """Stored pixels → display orientation (rotate counter-clockwise by ``rotation`` degrees)."""
    return np.ascontiguousarray(np.rot90(stored, k=(rotation // 90) % 4)) if rotation else stored


def to_stored(display: np.ndarray, rotation: int) -> np.ndarray:
    """Inverse of :func:`to_display`."""
    return np.ascontiguousarray(np.rot90(display, k=-(rotation // 90) % 4)) if rotation else display


def _open_input(path: str | os.PathLike[str], hwaccel: HWAccel | None = None) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise InputError(f"input not found: {p}")
    if p.is_dir():
        raise InputError(f"input is a folder, not a video: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"input is empty (0 bytes): {p}")
    try:
        return av.open(str(p), hwaccel=hwaccel)
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read video {p}: {exc}") from exc


def _open_decoding(path: str | os.PathLike[str], hwaccel: str | None) -> tuple[av.container.InputContainer, str]:
    """The container, opened to decode on the ``hwaccel`` device type ("cuda": NVDEC) when given and FFmpeg can
    open that device, else on the CPU; and which of the two it is, with the reason when the device was wanted but
    could not be had (a machine without the GPU or driver)."""
    if hwaccel is None:
        return _open_input(path), "cpu"
    if hwaccel not in hwdevices_available():
        return _open_input(path), f"cpu (this FFmpeg has no {hwaccel} decoding)"
    try:  # FFmpeg's own CPU decoder takes over a stream the device cannot decode (allow_software_fallback)
        return _open_input(path, HWAccel(device_type=hwaccel, allow_software_fallback=True)), hwaccel
    except InputError as exc:
        container = _open_input(path)  # the file itself unreadable: that error, not the device's
        return container, f"cpu ({hwaccel} decoding unavailable: {exc.__cause__ or exc})"


class VideoReader:
    """Decode the first video stream of ``path`` on a background thread into a bounded queue.

    Iterating yields :class:`DecodedFrame` in presentation order. ``queue_size`` bounds the decoded frames held
    in memory. Opening decodes the first frame (to learn the rotation and to fail early on unreadable files). When
    the stream ends, :attr:`report` holds the :class:`DecodeReport`; an incomplete decode (truncated or damaged
    input) then raises InputError unless ``allow_incomplete``. ``threads``: decoder threads (0: FFmpeg's choice).
    ``seek_pts``: start at the keyframe at or before this presentation time (stream time base) instead of the
    first frame (a segment of a long video; frame indices then count from there, and the report compares with
    the whole video, so such readers take ``allow_incomplete``). ``hwaccel``: decode on that FFmpeg device type
    ("cuda": NVDEC) where it can be opened, on the CPU otherwise; :attr:`decoder` says which, and why not.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        queue_size: int = 8,
        allow_incomplete: bool = False,
        threads: int = 0,
        seek_pts: int | None = None,
        hwaccel: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.allow_incomplete = allow_incomplete
        self.report: DecodeReport | None = None
        self._corrupt_packets = self._corrupt_frames = self._decode_errors = 0
        self.container, self.decoder = _open_decoding(path, hwaccel)
        videos = [s for s in self.container.streams if s.type == "video"]
        if not videos:
            self.container.close()
            raise InputError(f"no video stream in {self.path}")
        self.stream = videos[0]
        self.stream.thread_type = "AUTO"
        self.stream.codec_context.thread_count = max(0, threads)
        self._frames = self._decode()
        try:
            self._first = next(self._frames)
        except (StopIteration, av.error.FFmpegError) as exc:
            self.container.close()
            raise InputError(f"no decodable video frame in {self.path} (truncated or corrupt)") from exc
        if self.decoder == hwaccel:  # asked for and opened: did the device decode?
            if not self.stream.codec_context.is_hwaccel:
                self.decoder = f"cpu ({hwaccel} has no decoder for {self.stream.codec_context.name})"
            elif self._first.format.name not in _DEVICE_DOWNLOAD_FORMATS:
                # FFmpeg fell back to its CPU decoder (no NVDEC library, or a profile NVDEC lacks): frames it decodes
                # come in the codec's own planar format, frames downloaded from the device semi-planar
                self.decoder = f"cpu ({hwaccel} decoding fell back to the CPU decoder)"
        rotation = round(getattr(self._first, "rotation", 0) or 0) % 360
        rotation = (rotation + 45) // 90 * 90 % 360
        stored_w, stored_h = self._first.width, self._first.height
        width, height = (stored_h, stored_w) if rotation in (90, 270) else (stored_w, stored_h)
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(30)
        duration = float(self.stream.duration * self.stream.time_base) if self.stream.duration else 0.0
        if not duration and self.container.duration:
            duration = self.container.duration / av.time_base
        self.info = VideoInfo(
            width=width,
            height=height,
            fps=Fraction(rate),
            time_base=Fraction(self.stream.time_base),
            frames=int(self.stream.frames or 0),
            duration=duration,
            rotation=rotation,
            has_audio=any(s.type == "audio" for s in self.container.streams),
            codec=self.stream.codec_context.name,
        )
        if seek_pts is not None and (self._first.pts is None or seek_pts > self._first.pts):
            try:
                self.container.seek(seek_pts, stream=self.stream, backward=True)
                self._frames = self._decode()
                self._first = next(self._frames)
            except (StopIteration, av.error.FFmpegError) as exc:
                self.container.close()
                raise InputError(f"cannot seek to {seek_pts} in {self.path}: {exc}") from exc
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _decode(self) -> Iterator[av.VideoFrame]:
        """Every decodable frame; damaged packets and frames are counted, undecodable packets skipped."""
        for packet in self.container.demux(self.stream):
            self._corrupt_packets += bool(packet.is_corrupt)
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                self._decode_errors += 1
                continue
            for frame in frames:
                self._corrupt_frames += bool(frame.is_corrupt)
                yield frame

    def _produce(self) -> None:
        index, last = 0, None
        try:
            for frame in itertools.chain([self._first], self._frames):  # the first frame was decoded at open
                if self._stop.is_set():
                    return
                last = self._convert(frame, index)
                self._put(last)
                index += 1
            self.report = self._report(index, last)
            if not self.report.complete and not self.allow_incomplete:
                self._put(InputError(
                    f"{self.path} is truncated or damaged: {self.report.describe()} "
                    "(--allow-truncated processes what decodes)"
                ))  # fmt: skip
        except av.error.FFmpegError as exc:
            self._put(InputError(f"reading {self.path} failed after frame {index}: {exc}"))
        except BaseException as exc:  # hand every failure to the consumer thread
            self._put(exc)
        finally:
            self._put(_END)

    def _report(self, decoded: int, last: DecodedFrame | None) -> DecodeReport:
        """Compare what was decoded with what the container announces: the video stream's duration (Matroska keeps
        it as the track's DURATION tag); the container's overall duration only when it holds no other stream,
        since audio may run longer."""
        duration = float(self.stream.duration * self.stream.time_base) if self.stream.duration else 0.0
        if not duration:
            duration = _tag_seconds(self.stream.metadata.get("DURATION", ""))
        if not duration and self.container.duration and len(self.container.streams) == 1:
            duration = self.container.duration / av.time_base
        start = float(self.stream.start_time * self.stream.time_base) if self.stream.start_time else 0.0
        period = 1.0 / float(self.info.fps) if self.info.fps else 0.0
        seconds = (last.time - start + period) if last is not None else 0.0
        return DecodeReport(
            decoded=decoded,
            expected=self.info.frames or None,
            decoded_seconds=seconds,
            duration=duration,
            corrupt_packets=self._corrupt_packets,
            corrupt_frames=self._corrupt_frames,
            decode_errors=self._decode_errors,
        )

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _convert(self, frame: av.VideoFrame, index: int) -> DecodedFrame:
        pts = frame.pts if frame.pts is not None else index
        image = frame_to_rgb(frame, self.info.rotation)
        return DecodedFrame(image=image, pts=int(pts), time=float(pts * self.info.time_base), index=index)

    def __iter__(self) -> Iterator[DecodedFrame]:
        if self._thread is not None:
            raise RuntimeError("VideoReader can be iterated once")
        self._thread = threading.Thread(target=self._produce, name="video-decode", daemon=True)
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, DecodedFrame)
            yield item

    def close(self) -> None:
        """Stop the decoder thread and close the file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _tag_seconds(text: str) -> float:
    """Seconds from a "HH:MM:SS.fraction" duration tag; 0.0 when absent or malformed."""
    try:
        hours, minutes, seconds = text.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return 0.0


def read_frame(path: str | os.PathLike[str], index: int) -> DecodedFrame:
    """Frame ``index`` (0-based; past the end: the last frame that decodes) of a video, as display-oriented RGB
    uint8 [H,W,3]: a seek to the keyframe before it, then decoding forward, so a frame late in a long video costs
    about one keyframe interval of decoding (for previews, not scans). InputError when the file cannot be read."""
    with VideoReader(path, allow_incomplete=True) as reader:
        info = reader.info
        period = 1.0 / float(info.fps or 30)
        start = float(reader.stream.start_time * info.time_base) if reader.stream.start_time else 0.0
        wanted = start + max(0, index) * period
        chosen = reader._first
        if index > 0:
            with contextlib.suppress(av.error.FFmpegError):  # a damaged tail: the last frame that decoded
                reader.container.seek(round(wanted / info.time_base), stream=reader.stream, backward=True)
                for frame in reader._decode():
                    if frame.pts is None:
                        continue
                    if float(frame.pts * info.time_base) > wanted + period / 2:
                        break
                    chosen = frame
        seconds = float(chosen.pts * info.time_base) if chosen.pts is not None else start
        image = frame_to_rgb(chosen, info.rotation)
        return DecodedFrame(image, int(chosen.pts or 0), seconds, round((seconds - start) / period))


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """A video's :class:`VideoInfo` (decodes one frame); raises InputError when it cannot be read."""
    with VideoReader(path, queue_size=1, allow_incomplete=True) as reader:
        return reader.info


class VideoWriter:
    """Encode display-oriented RGB frames to ``path`` with the source's timestamps, rotation and audio.

    The file is written under a temporary name and renamed onto ``path`` by :meth:`close`; :meth:`abort` (or an
    exception inside ``with``) deletes it. Audio from ``audio_source`` is copied when the output format accepts
    its codec, transcoded otherwise, and interleaved with the video by time.

    Args:
        path: output file; its suffix picks the container (.mp4, .mov, .mkv, .webm, .avi).
        info: the source's :class:`VideoInfo` (size, rate, time base, rotation).
        audio_source: file whose first audio stream is carried over (None: no audio).
        codec: video encoder (libx264 by default); crf, preset: its quality/speed settings.
        threads: encoder threads (0: FFmpeg's choice).
        metadata: container-level tags (e.g. a synthetic-media marker).
        codec_options: further encoder options (FFmpeg's "bf": "0" (no B-frames) for segments that are joined later).
        template: copy mode: an already encoded video stream whose packets :meth:`write_packet` takes as they are
            (joining segments without re-encoding); codec, crf, preset and codec_options are then unused.
        finish: called with the complete file before it is renamed onto ``path`` (signing it with Content
            Credentials); when it raises, nothing is written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: VideoInfo,
        *,
        audio_source: str | os.PathLike[str] | None = None,
        codec: str = "libx264",
        crf: int = 18,
        preset: str = "veryfast",
        threads: int = 0,
        metadata: dict[str, str] | None = None,
        codec_options: dict[str, str] | None = None,
        template: av.video.stream.VideoStream | None = None,
        finish: Callable[[Path], None] | None = None,
    ) -> None:
        suffix = Path(path).suffix.lower()
        if suffix not in _FORMAT_BY_SUFFIX:
            raise UsageError(f"unsupported output video extension {suffix!r}; use one of {sorted(_FORMAT_BY_SUFFIX)}")
        if codec not in av.codecs_available:
            raise UsageError(f"video codec {codec!r} is not available in this PyAV build")
        self.format = _FORMAT_BY_SUFFIX[suffix]
        self.info = info
        self._temp = TempOutput(path, finish)
        self._audio_in: av.container.InputContainer | None = None
        self.container: av.container.OutputContainer | None = None
        try:
            self._open(path, info, codec, crf, preset, threads, metadata, audio_source, codec_options, template)
        except BaseException as exc:  # an interrupt too: nothing may stay behind at the temporary path
            if self.container is not None:
                with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
                    self.container.close()
            self._close_audio_input()
            self._temp.__exit__(type(exc), exc, None)
            if isinstance(exc, (av.error.FFmpegError, OSError)) and not isinstance(exc, UserError):
                raise OutputError(f"cannot write {path}: {exc}") from exc
            raise
        self._closed = False

    def _open(
        self,
        path: str | os.PathLike[str],
        info: VideoInfo,
        codec: str,
        crf: int,
        preset: str,
        threads: int,
        metadata: dict[str, str] | None,
        audio_source: str | os.PathLike[str] | None,
        codec_options: dict[str, str] | None = None,
        template: av.video.stream.VideoStream | None = None,
    ) -> None:
        """Open the container, the video stream and the audio carried over (see the class)."""
        # MP4/MOV keep free-form tags (such as the synthetic-media marker) only with use_metadata_tags
        options = {"movflags": "use_metadata_tags"} if self.format in ("mp4", "mov") else {}
        self.container = av.open(str(self._temp.path), "w", format=self.format, options=options)
        for key, value in (metadata or {}).items():
            self.container.metadata[key] = value
        stored_w, stored_h = (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)
        if template is not None:
            self.stream = self.container.add_stream_from_template(template)
            self.stream.time_base = info.time_base
        else:
            self.stream = self.container.add_stream(codec, rate=info.fps)
            self.stream.width, self.stream.height = stored_w, stored_h
            # 4:2:0 needs even sides; odd-sized videos keep their exact size in 4:4:4 instead of being cropped
            self.stream.pix_fmt = "yuv420p" if stored_w % 2 == 0 and stored_h % 2 == 0 else "yuv444p"
            self.stream.time_base = info.time_base
            self.stream.codec_context.time_base = info.time_base
            if codec in ("libx264", "libx265"):
                self.stream.options = {"crf": str(crf), "preset": preset, **(codec_options or {})}
            if threads > 0:
                self.stream.codec_context.thread_count = threads
        self._copying = template is not None
        if info.rotation:
            self.stream.set_display_rotation(info.rotation)
        self._audio_packets: Iterator[av.Packet] | None = None
        self._pending: av.Packet | None = None
        self._audio_out = None
        self._transcode = False
        if audio_source is not None:
            self._setup_audio(audio_source)

    def _setup_audio(self, source: str | os.PathLike[str]) -> None:
        container = av.open(str(source))
        audios = [s for s in container.streams if s.type == "audio"]
        if not audios:
            container.close()
            return
        audio_in = audios[0]
        allowed = _COPYABLE_AUDIO.get(self.format)
        name = audio_in.codec_context.name
        if allowed is None or name in allowed:
            self._audio_out = self.container.add_stream_from_template(audio_in)
        else:
            self._transcode = True
            self._audio_out = self.container.add_stream(
                _TRANSCODE_AUDIO.get(self.format, "aac"), rate=audio_in.codec_context.sample_rate or 48000
            )
        self._audio_in = container
        self._audio_packets = iter(container.demux(audio_in))

    def _mux_audio_until(self, seconds: float | None) -> None:
        """Write source audio packets up to ``seconds`` (all remaining when None)."""
        if self._audio_packets is None:
            return
        while True:
            packet = self._pending or next(self._audio_packets, None)
            self._pending = None
            if packet is None:
                self._audio_packets = None
                return
            if packet.dts is None and not self._transcode:
                continue  # demuxer flush packet
            t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            if seconds is not None and t > seconds:
                self._pending = packet
                return
            if self._transcode:
                for frame in packet.decode():
                    frame.pts = None
                    for out in self._audio_out.encode(frame):
                        self.container.mux(out)
            else:
                packet.stream = self._audio_out
                self.container.mux(packet)

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one display-oriented RGB uint8 [H,W,3] frame with presentation time ``pts`` (source time base)."""
        if image.shape[:2] != (self.info.height, self.info.width):
            raise ValueError(
                f"frame is {image.shape[1]}x{image.shape[0]}, the video is {self.info.width}x{self.info.height}"
            )
        frame = av.VideoFrame.from_ndarray(to_stored(image, self.info.rotation), format="rgb24")
        frame.pts = pts
        frame.time_base = self.info.time_base
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self._mux_audio_until(float(pts * self.info.time_base) + 0.5)
        except OSError as exc:
            raise self._failed(exc) from exc

    def write_packet(self, packet: av.Packet) -> None:
        """Copy mode: mux one encoded video packet of the template's codec (pts/dts in the source time base)."""
        packet.stream = self.stream
        try:
            self.container.mux(packet)
            if packet.pts is not None:
                self._mux_audio_until(float(packet.pts * self.info.time_base) + 0.5)
        except OSError as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        """Flush the encoders, finish the file and rename it onto the target path."""
        if self._closed:
            return
        try:
            for packet in [] if self._copying else self.stream.encode(None):
                self.container.mux(packet)
            self._mux_audio_until(None)
            if self._transcode and self._audio_out is not None:
                for packet in self._audio_out.encode(None):
                    self.container.mux(packet)
            self.container.close()
        except OSError as exc:
            raise self._failed(exc) from exc
        except BaseException:
            self.abort()
            raise
        self._close_audio_input()
        self._closed = True
        self._temp.__exit__(None, None, None)

    def _failed(self, exc: OSError) -> UserError:
        """Discard the partial file after a failed write; the error to raise, naming the output path."""
        self.abort()
        return write_failure(exc, self._temp.target) or OutputError(f"cannot write {self._temp.target}: {exc}")

    def abort(self) -> None:
        """Discard the partial file (the target path is left untouched)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
            self.container.close()
        self._close_audio_input()
        self._temp.__exit__(RuntimeError, None, None)

    def _close_audio_input(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
