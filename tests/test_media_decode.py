"""Decoding: probe, audio decoded once then resampled, frames in one pass, bad files with clear errors."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from telme.media.decode import (
    DecodedAudio,
    cut_audio,
    decode_audio,
    decode_audio_native,
    decode_frames,
    probe,
    resample,
)
from telme.media.errors import EmptyFile, NoAudioTrack, NotAMediaFile, NoVideoTrack

MEDIA = Path(__file__).parent / "fixtures" / "media"
ROSS, RACHEL = (200, 60, 40), (40, 90, 200)  # background colours of the fixture's speakers


@pytest.mark.parametrize("name", ["conversation.mp4", "conversation.webm", "conversation.wav"])
def test_probe_measures_every_container(name):
    info = probe(MEDIA / name)
    assert info.has_audio
    assert info.duration == pytest.approx(12.9, abs=0.1)
    if name != "conversation.wav":
        assert (info.fps, info.frame_count, info.width, info.height) == (10.0, 128, 160, 120)


def test_browser_webm_has_no_container_duration_but_probe_counts_it():
    import av

    with av.open(str(MEDIA / "conversation.webm")) as container:
        assert container.duration is None
    assert probe(MEDIA / "conversation.webm").frame_count == 128


def test_44k_source_decodes_to_16k_with_signal():
    """moviepy 2.2's to_soundarray(fps=16000) on a 44.1 kHz source returns zeros: not here."""
    wave = decode_audio(MEDIA / "conversation.mp4", 16000)
    reference = decode_audio(MEDIA / "conversation.wav", 16000)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - len(reference)) < 16000 * 0.05
    assert np.abs(wave).max() > 0.1
    common = min(len(wave), len(reference))
    assert np.corrcoef(wave[:common], reference[:common])[0, 1] > 0.95


def test_decode_audio_at_22050_for_the_official_profile():
    wave = decode_audio(MEDIA / "conversation.webm", 22050)
    assert len(wave) / 22050 == pytest.approx(12.9, abs=0.1)


def test_native_decode_keeps_the_stream_rate():
    wave, rate = decode_audio_native(MEDIA / "conversation.mp4")
    assert rate == 44100 and wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) / rate == pytest.approx(12.9, abs=0.1)
    assert len(decode_audio(MEDIA / "conversation.mp4", 16000)) == int(np.ceil(len(wave) * 16000 / 44100))


def dominant_frequency(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[spectrum.argmax()]  # Hz


def test_resample_keeps_a_sine_frequency_and_librosa_length():
    times = np.arange(44100) / 44100  # 1 s
    sine = (0.5 * np.sin(2 * np.pi * 440.0 * times)).astype(np.float32)
    down = resample(sine, 44100, 16000)
    assert down.dtype == np.float32 and len(down) == 16000
    assert dominant_frequency(down, 16000) == pytest.approx(440.0, abs=1.0)
    expected = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(16000) / 16000)
    assert np.abs(down[500:-500] - expected[500:-500]).max() < 1e-3  # edges: filter ramp
    odd = resample(sine[:1001], 44100, 22050)
    assert len(odd) == 501  # ceil(1001 / 2), as librosa.load
    assert resample(sine, 16000, 16000) is sine and resample(sine[:0], 44100, 16000).size == 0


def test_decoded_audio_resamples_once_per_rate():
    audio = DecodedAudio(*decode_audio_native(MEDIA / "conversation.wav"))
    at_22k = audio.at(22050)
    assert audio.at(22050) is at_22k and audio.at(audio.sample_rate) is audio.wave
    assert audio.duration == pytest.approx(len(at_22k) / 22050, abs=1e-3)


@pytest.mark.parametrize(("clip", "length"), [("utt_long.mp4", 91_136), ("utt_short.mp4", 4_608)])
def test_official_audio_length_and_correlation(reference_dir, clip, length):
    """Native decode + soxr HQ is librosa.load(sr=22050): official length, correlation ≥ 0.99999."""
    import torch

    folder = reference_dir / "golden_media"
    golden = torch.load(folder / "official_media_inputs.pt", weights_only=True)[clip]["audio_values"]
    wave = decode_audio(folder / clip, 22050)
    assert len(wave) == length == len(golden)
    values = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)  # the official normalisation
    assert np.corrcoef(values, golden.numpy())[0, 1] >= 0.99999
    assert np.abs(values - golden.numpy()).max() < 0.01


def test_frames_by_index_and_time_show_the_speaker_colour():
    frames = decode_frames(MEDIA / "conversation.mp4", indices=[15, 0, 127, 500])
    assert frames.shape == (4, 120, 160, 3) and frames.dtype == np.uint8
    assert np.abs(frames[0, 5, 5].astype(int) - ROSS).max() < 12
    assert np.abs(frames[1, 5, 5].astype(int) - 128).max() < 12  # grey before anyone speaks
    assert np.array_equal(frames[2], frames[3])  # past the end: the last frame
    by_time = decode_frames(MEDIA / "conversation.webm", times=[3.0, 1.0])
    assert np.abs(by_time[0, 5, 5].astype(int) - RACHEL).max() < 12
    assert np.abs(by_time[1, 5, 5].astype(int) - ROSS).max() < 12


def test_cut_audio_clamps_to_the_wave():
    wave = np.arange(100, dtype=np.float32)
    assert cut_audio(wave, 10, 2.0, 3.0).tolist() == list(range(20, 30))
    assert cut_audio(wave, 10, 9.5, 20.0).size == 5 and cut_audio(wave, 10, 20, 30).size == 0


def test_not_a_media_file(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(NotAMediaFile, match="not a readable audio or video file"):
        probe(text)
    with pytest.raises(NotAMediaFile):
        decode_audio(text, 16000)


def test_zero_length_file(tmp_path):
    empty = tmp_path / "empty.webm"
    empty.touch()
    with pytest.raises(EmptyFile, match="empty"):
        decode_audio(empty, 16000)


def test_truncated_mp4(tmp_path):
    truncated = tmp_path / "truncated.mp4"
    data = (MEDIA / "conversation.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAMediaFile, match="truncated"):
        probe(truncated)


def test_missing_tracks(tmp_path):
    with pytest.raises(NoAudioTrack, match="no audio track"):
        decode_audio(MEDIA / "no_audio.mp4", 16000)
    assert not probe(MEDIA / "no_audio.mp4").has_audio
    with pytest.raises(NoVideoTrack):
        decode_frames(MEDIA / "conversation.wav", indices=[0])
    with pytest.raises(NotAMediaFile, match="no such file"):
        probe(tmp_path / "missing.mp4")


def test_a_copy_with_another_extension_still_decodes(tmp_path):
    renamed = tmp_path / "recording.bin"
    shutil.copy(MEDIA / "conversation.webm", renamed)
    assert probe(renamed).has_video


def test_truncated_mp4_with_index_first_keeps_the_readable_part(tmp_path):
    import subprocess

    import imageio_ffmpeg

    streamable = tmp_path / "streamable.mp4"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-v",
        "error",
        "-i",
        str(MEDIA / "conversation.mp4"),
    ]
    subprocess.run([*command, "-c", "copy", "-movflags", "+faststart", str(streamable)], check=True)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(streamable.read_bytes()[:30000])
    wave = decode_audio(truncated, 16000)
    assert 1.0 < len(wave) / 16000 < 12.0
    assert decode_frames(truncated, indices=[0, 127]).shape == (2, 120, 160, 3)
