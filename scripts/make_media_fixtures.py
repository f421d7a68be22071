"""Generate the small conversation fixtures the media tests use (needs espeak-ng).

    apt-get install espeak-ng && python scripts/make_media_fixtures.py

Writes to tests/fixtures/media/ (the app's example is made by scripts/make_example.py):
- conversation.{mp4,webm,wav}: two espeak-ng voices taking turns; the video is a flat colour per
  speaker (the last one who spoke); the webm is written like a browser recording (vp8/opus, no
  duration in the container); the mp4 carries 44.1 kHz AAC.
- conversation.{srt,vtt,csv}: its transcript (speaker prefixes, WebVTT voices, MELD-style CSV).
- conversation.json: the truth: per utterance start/end of speech (s), speaker, text, words.
- three_voices.{ogg,json}: three voices, audio only (opus).
- no_audio.mp4: one second of video without an audio track.
The committed files are what the tests read; the tests never run espeak-ng.
"""

import json
import subprocess
import tempfile
import wave as wavfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "media"
ESPEAK_RATE = 22050  # Hz, espeak-ng's output rate
WIDTH, HEIGHT, FPS = 160, 120, 10  # px, px, frames per second
LEAD, TAIL = 0.5, 0.6  # s of silence before the first and after the last turn
SILENCE_LEVEL = 0.01  # peak fraction under which espeak's padding counts as silence

VOICES = {  # speaker: (espeak voice, pitch 0-99, words per minute, RGB background)
    "Ross": ("en-us+m3", 35, 175, (200, 60, 40)),
    "Rachel": ("en-us+f4", 70, 170, (40, 90, 200)),
    "Monica": ("en-us+klatt4", 60, 165, (50, 170, 60)),
}
CONVERSATION = [  # speaker, text, pause after (s)
    ("Ross", "Hey, did you see my keys?", 0.6),
    ("Rachel", "They are on the kitchen table.", 0.7),
    ("Ross", "Thanks, I looked all morning.", 0.6),
    ("Rachel", "You always leave them there.", 0.8),
    ("Ross", "That is not true.", 0.6),
    ("Rachel", "Okay, fine.", 0.0),
]
THREE_VOICES = [
    ("Monica", "Dinner is ready, everybody.", 0.7),
    ("Ross", "Great, I am starving.", 0.6),
    ("Rachel", "What are we having tonight?", 0.7),
    ("Monica", "Lasagna, and a big green salad.", 0.6),
    ("Rachel", "That sounds wonderful.", 0.6),
    ("Ross", "I will bring the plates.", 0.0),
]


def speak(speaker, text):
    """espeak-ng audio of one line, float32 at ESPEAK_RATE, trimmed to its speech."""
    voice, pitch, speed, _ = VOICES[speaker]
    with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
        command = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed)]
        subprocess.run([*command, "-w", handle.name, text], check=True)
        wave = read_wav(handle.name)
    loud = np.flatnonzero(np.abs(wave) > SILENCE_LEVEL * np.abs(wave).max())
    return wave[loud[0] : loud[-1] + 1]


def read_wav(path):
    """A 16-bit mono wav as float32 in [-1, 1]."""
    with wavfile.open(str(path), "rb") as handle:
        data = handle.readframes(handle.getnframes())
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768


def write_wav(path, wave, rate):
    """float32 in [-1, 1] as a 16-bit mono wav."""
    with wavfile.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes())


def build(turns):
    """The conversation's audio and its truth (times of actual speech)."""
    pieces, utterances = [np.zeros(int(LEAD * ESPEAK_RATE), np.float32)], []
    clock = LEAD
    for speaker, text, pause in turns:
        speech = speak(speaker, text)
        end = clock + len(speech) / ESPEAK_RATE
        words = text.split()
        utterances.append({"start": round(clock, 3), "end": round(end, 3),
                           "speaker": speaker, "text": text, "words": words})  # fmt: skip
        pieces += [speech, np.zeros(int(pause * ESPEAK_RATE), np.float32)]
        clock = end + pause
    pieces.append(np.zeros(int(TAIL * ESPEAK_RATE), np.float32))
    wave = np.concatenate(pieces)
    truth = {"duration": round(len(wave) / ESPEAK_RATE, 3), "utterances": utterances}
    return wave, truth


def frames(truth):
    """Raw RGB video: the colour of whoever spoke last (grey before anyone has)."""
    count = int(np.ceil(truth["duration"] * FPS))
    video = np.full((count, HEIGHT, WIDTH, 3), 128, np.uint8)
    for utterance in truth["utterances"]:
        first = int(utterance["start"] * FPS)
        video[first:] = VOICES[utterance["speaker"]][3]
    video[:, HEIGHT // 3 : HEIGHT // 2, WIDTH // 3 : WIDTH // 2] = 255  # a landmark
    return video


def ffmpeg(*arguments, stdin=None):
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *arguments]
    subprocess.run(command, input=stdin, check=True)


def write_video(wav_path, video, path, codecs):
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS)]
    ffmpeg(*raw, "-i", "-", "-i", str(wav_path), *codecs, "-shortest", str(path),
           stdin=video.tobytes())  # fmt: skip


def clock(seconds, separator):
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:06.3f}".replace(".", separator)


def write_transcripts(truth, stem):
    srt, vtt = [], ["WEBVTT", ""]
    csv = ["Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,StartTime,EndTime"]
    for number, u in enumerate(truth["utterances"]):
        start, end = u["start"] - 0.1, u["end"] + 0.1  # subtitles lead and trail speech a bit
        srt += [str(number + 1), f"{clock(start, ',')} --> {clock(end, ',')}",
                f"{u['speaker']}: {u['text']}", ""]  # fmt: skip
        vtt += [f"{clock(start, '.')} --> {clock(end, '.')}", f"<v {u['speaker']}>{u['text']}", ""]
        csv.append(f'{number + 1},"{u["text"]}",{u["speaker"]},neutral,neutral,0,{number},'
                   f'"{clock(start, ",")}","{clock(end, ",")}"')  # fmt: skip
    Path(f"{stem}.srt").write_text("\n".join(srt))
    Path(f"{stem}.vtt").write_text("\n".join(vtt))
    Path(f"{stem}.csv").write_text("\n".join(csv) + "\n")


def write_conversation(master, stem):
    wave, truth = build(CONVERSATION)
    write_wav(master, wave, ESPEAK_RATE)
    ffmpeg("-i", str(master), "-ar", "16000", "-ac", "1", f"{stem}.wav")
    video = frames(truth)
    mp4 = ["-c:v", "libx264", "-crf", "30", "-preset", "veryslow", "-pix_fmt", "yuv420p"]
    write_video(master, video, f"{stem}.mp4", [*mp4, "-c:a", "aac", "-ar", "44100", "-b:a", "32k"])
    webm = ["-c:v", "libvpx", "-b:v", "60k", "-c:a", "libopus", "-b:a", "24k"]
    write_video(master, video, f"{stem}.webm", [*webm, "-live", "1"])  # no duration, as browsers
    write_transcripts(truth, stem)
    Path(f"{stem}.json").write_text(json.dumps(truth, indent=1) + "\n")


def write_three_voices(master, stem):
    wave, truth = build(THREE_VOICES)
    write_wav(master, wave, ESPEAK_RATE)
    ffmpeg("-i", str(master), "-c:a", "libopus", "-b:a", "24k", f"{stem}.ogg")
    Path(f"{stem}.json").write_text(json.dumps(truth, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    master = OUT / "master.wav"
    write_conversation(master, OUT / "conversation")
    write_three_voices(master, OUT / "three_voices")
    master.unlink()
    gray = f"color=c=gray:s={WIDTH}x{HEIGHT}:r={FPS}:d=1"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        gray,
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(OUT / "no_audio.mp4"),
    )


if __name__ == "__main__":
    main()
