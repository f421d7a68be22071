"""The app's one ffmpeg path: PyAV (FFmpeg's libraries in the `av` wheel) for span cuts and captions.

Why PyAV: `telme.media.decode` already reads every clip through it, it is in the lock with its own
FFmpeg build (no binary to find, no subprocess, errors arrive as Python exceptions), and drawing a
caption is a numpy/PIL step between decode and encode. Both jobs are one function, `transcode`:
decode [start, end), optionally draw on each frame, re-encode H.264 + AAC (or 16-bit WAV when
there is no video), so cuts are frame-exact and browser recordings without a duration work too.
"""

import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from telme.media.errors import MediaError

CAPTION_MIN_HEIGHT = 360  # px: smaller clips are upscaled so burned captions stay readable
MIN_SPAN = 0.05  # s, shortest cut written
VIDEO_CODEC = "libx264"
VIDEO_OPTIONS = {"preset": "ultrafast", "movflags": "+faststart"}
AUDIO_CODEC = "aac"
AUDIO_RATE = 44100  # Hz of exported AAC / WAV audio
PROBES_KEPT = 64  # clips whose MediaInfo is remembered


class ExportFailed(MediaError):
    """FFmpeg could not read or write a clip while cutting or captioning it."""

    def __init__(self, path, error):
        super().__init__(f"{Path(path).name} could not be re-encoded: {error}")


class ProbeOnce:
    """A `telme.media.decode`-like decoder that probes each file once (keyed by path, size, mtime).

    Shared by every user (it is a cache of facts about files, not user state); the pipeline, the
    media loader and the app all ask it, so one analysis opens the container for probing once.
    """

    def __init__(self, decoder=None, kept=PROBES_KEPT):
        from telme.media import decode

        self.decoder = decoder or decode
        self.kept = kept
        self.probes = 0  # real probes run (tests count them)
        self._infos = OrderedDict()
        self._lock = threading.Lock()

    def probe(self, path):
        stat = Path(path).stat() if Path(path).is_file() else None
        key = (str(Path(path).resolve()), stat and stat.st_size, stat and stat.st_mtime_ns)
        with self._lock:
            if key in self._infos:
                self._infos.move_to_end(key)
                return self._infos[key]
        info = self.decoder.probe(path)
        with self._lock:
            self.probes += 1
            self._infos[key] = info
            while len(self._infos) > self.kept:
                self._infos.popitem(last=False)
        return info

    def __getattr__(self, name):  # decode_audio_native, decode_frames, cut_audio: the decoder's own
        return getattr(self.decoder, name)


def cut_span(path, start, end, out_path, has_video=True):
    """The [start, end] seconds of a clip as a small file the browser can play (mp4, or wav)."""
    return transcode(path, out_path, start=max(0.0, start), end=max(start + MIN_SPAN, end), video=has_video)


def burn_captions(path, captions, out_path):
    """The clip with `captions(time) -> (text, colour) | None` drawn over each frame (mp4)."""
    return transcode(path, out_path, draw=lambda image, time: draw_caption(image, captions(time)),
                     min_height=CAPTION_MIN_HEIGHT)


def transcode(path, out_path, start=0.0, end=None, video=True, draw=None, min_height=0):
    """Re-encode [start, end) s of `path` to `out_path`; `draw(PIL image, time)` edits frames."""
    try:
        with av.open(str(path)) as source, av.open(str(out_path), "w") as target:
            streams = _open_streams(source, target, video, min_height)
            for stream, frame in _frames_between(source, streams, start, end):
                packets = _encode_video(frame, stream, draw) if stream["kind"] == "video" else \
                    _encode_audio(frame, stream, start)
                target.mux(packets)
            for stream in streams.values():
                target.mux(stream["out"].encode(None))
    except (av.error.FFmpegError, ValueError) as error:
        Path(out_path).unlink(missing_ok=True)
        raise ExportFailed(path, error) from error
    return out_path


def _open_streams(source, target, video, min_height):
    """{input stream index: {"kind", "out": output stream, ...}} for the streams copied."""
    streams = {}
    video_in = source.streams.video[0] if video and source.streams.video else None
    if video_in is not None:
        width, height = video_in.codec_context.width, video_in.codec_context.height
        if height < min_height:
            width, height = round(width * min_height / height), min_height
        rate = Fraction(video_in.average_rate or video_in.guessed_rate or 25).limit_denominator(1001)
        out = target.add_stream(VIDEO_CODEC, rate=rate, options=VIDEO_OPTIONS)
        out.width, out.height, out.pix_fmt = width + width % 2, height + height % 2, "yuv420p"
        streams[video_in.index] = {"kind": "video", "in": video_in, "out": out, "rate": rate, "next": 0}
    if source.streams.audio:
        audio_in = source.streams.audio[0]
        out = target.add_stream(AUDIO_CODEC if video_in is not None else "pcm_s16le", rate=AUDIO_RATE, layout="mono")
        resampler = av.AudioResampler(format=out.format.name, layout="mono", rate=AUDIO_RATE)
        streams[audio_in.index] = {"kind": "audio", "in": audio_in, "out": out, "resampler": resampler, "next": 0}
    if not streams:
        raise ValueError("it has no audio or video stream to write")
    return streams


def _frames_between(source, streams, start, end):
    """(stream, frame) of the copied streams for the frames shown in [start, end) s."""
    if start > 1.0:
        source.seek(int((start - 1.0) * av.time_base), backward=True)  # the keyframe before the cut
    for packet in source.demux([stream["in"] for stream in streams.values()]):
        stream = streams[packet.stream.index]
        for frame in packet.decode():
            time = float(frame.time) if frame.time is not None else 0.0
            length = frame.samples / frame.sample_rate if stream["kind"] == "audio" else 0.0
            if time + length > start and (end is None or time < end):
                yield stream, frame


def _encode_video(frame, stream, draw):
    out = stream["out"]
    image = frame.to_image()
    if image.size != (out.width, out.height):
        image = image.resize((out.width, out.height))
    if draw is not None:
        image = draw(image, float(frame.time or 0.0))
    encoded = av.VideoFrame.from_image(image).reformat(format="yuv420p")
    encoded.pts, encoded.time_base = stream["next"], 1 / stream["rate"]
    stream["next"] += 1
    return out.encode(encoded)


def _encode_audio(frame, stream, start):
    packets = []
    for chunk in stream["resampler"].resample(_trimmed(frame, start)):
        chunk.pts, chunk.time_base = stream["next"], Fraction(1, AUDIO_RATE)
        stream["next"] += chunk.samples
        packets += stream["out"].encode(chunk)
    return packets


def _trimmed(frame, start):
    """An audio frame without the samples before `start` s (cuts start on the sample)."""
    time = float(frame.time or 0.0)
    skip = int(round((start - time) * frame.sample_rate))
    if skip <= 0:
        frame.pts = None
        return frame
    samples = frame.to_ndarray()[..., skip:]
    trimmed = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format=frame.format.name,
                                         layout=frame.layout.name)
    trimmed.sample_rate = frame.sample_rate
    return trimmed


def draw_caption(image, caption):
    """A dark band at the bottom of a PIL image with `text`, and a bar in the emotion's colour."""
    from PIL import ImageDraw, ImageFont

    if caption is None:
        return image
    text, colour = caption
    draw = ImageDraw.Draw(image, "RGBA")
    size = max(12, image.height // 14)  # px
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    box_top = image.height - (bottom - top) - size
    draw.rectangle([0, box_top, image.width, image.height], fill=(0, 0, 0, 160))
    draw.rectangle([0, box_top, size // 3, image.height], fill=colour)
    draw.text((size // 2 + size // 3, box_top + size // 2 - top), text, font=font, fill="white")
    return image
