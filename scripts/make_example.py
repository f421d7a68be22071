"""Make the studio's example conversation (needs espeak-ng): assets/example_conversation.{mp4,srt}.

    apt-get install espeak-ng && python scripts/make_example.py

Two espeak-ng voices (Ross, Rachel) act out a short scene written so that the default model
(TelME-mini, text only) finds several emotions in it: neutral, surprise, joy, anger, sadness. The
video is a flat colour per speaker, as in the media fixtures; it is encoded with PyAV (H.264 +
AAC), the studio's one ffmpeg path. The test fixtures (tests/fixtures/media) are not touched.
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from make_media_fixtures import ESPEAK_RATE, FPS, build, frames, write_transcripts

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
AUDIO_RATE = 44100  # Hz of the clip's AAC track
SCENE = [  # speaker, text, pause after (s)
    ("Ross", "Hey. Did you see my keys?", 0.6),
    ("Rachel", "Oh my God! I got the job! I actually got it!", 0.6),
    ("Ross", "What?! Are you serious?", 0.5),
    ("Rachel", "Yes! I start on Monday! I'm so happy!", 0.7),
    ("Ross", "Wait, you're moving to Paris? You didn't even tell me.", 0.7),
    ("Rachel", "I'm sorry, Ross. I didn't know how to tell you.", 0.7),
    ("Ross", "Stop it! You always do this to me! I am so sick of it!", 0.8),
    ("Rachel", "Ew, is that your sandwich? It smells disgusting.", 0.7),
    ("Ross", "I'm scared, okay? I don't want you to go.", 0.8),
    ("Rachel", "Okay. We'll talk tonight.", 0.0),
]


def write_mp4(wave, video, path):
    """float32 mono wave at ESPEAK_RATE and RGB frames (N, H, W, 3) at FPS as an H.264 + AAC mp4."""
    with av.open(str(path), "w") as out:
        picture = out.add_stream("libx264", rate=FPS, options={"crf": "30", "preset": "veryslow"})
        picture.height, picture.width, picture.pix_fmt = video.shape[1], video.shape[2], "yuv420p"
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="mono", bit_rate=32000)
        for number, rgb in enumerate(video):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = number, Fraction(1, FPS)
            out.mux(picture.encode(frame))
        out.mux(picture.encode(None))
        source = av.AudioFrame.from_ndarray((np.clip(wave, -1, 1) * 32767).astype("<i2")[None, :],
                                            format="s16", layout="mono")
        source.sample_rate = ESPEAK_RATE
        mixer = av.AudioResampler(format=sound.format.name, layout="mono", rate=AUDIO_RATE)
        for chunk in mixer.resample(source) + mixer.resample(None):
            out.mux(sound.encode(chunk))
        out.mux(sound.encode(None))


def main():
    wave, truth = build(SCENE)
    write_mp4(wave, frames(truth), ASSETS / "example_conversation.mp4")
    write_transcripts(truth, ASSETS / "example_conversation")
    for extra in ("vtt", "csv"):  # only the SRT is shipped with the example
        (ASSETS / f"example_conversation.{extra}").unlink()


if __name__ == "__main__":
    main()
