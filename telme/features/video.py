"""Video features: an utterance's frames -> the video student's pixel values (8, 3, 224, 224).

Sampling (official, kept for both profiles): with n frames and step = n // 8, the frames whose
1-based number is a multiple of step, the first 8 of them; with fewer than 8 frames, all of them
and the last one repeated. Pixels (VideoMAE image processor): shortest edge resized to 224 with
PIL bilinear, centre crop 224, x 1/255, ImageNet mean/std per channel position. The official code
feeds OpenCV's BGR frames as if they were RGB; the official profile does the same, the clean
profile feeds RGB.
"""

import numpy as np
import torch
from PIL import Image

from telme.features.profiles import too_long

NUM_FRAMES = 8  # per utterance, as TimeSformer was fine-tuned


def sample_frame_indices(frame_count, n=NUM_FRAMES):
    """0-based indices of the `n` frames the official code keeps out of `frame_count`."""
    if frame_count <= 0:
        return []
    if frame_count < n:
        return list(range(frame_count)) + [frame_count - 1] * (n - frame_count)
    step = frame_count // n
    return [number - 1 for number in range(step, step * n + 1, step)]


def _resize_shortest_edge(image, size):
    """uint8 (H, W, 3) -> shortest edge `size`, the other scaled and truncated, PIL bilinear."""
    height, width = image.shape[:2]
    if height <= width:
        new_height, new_width = size, int(size * width / height)
    else:
        new_height, new_width = int(size * height / width), size
    resized = Image.fromarray(image).resize((new_width, new_height), resample=Image.BILINEAR)
    return np.asarray(resized)  # (new_height, new_width, 3)


def _center_crop(image, size):
    height, width = image.shape[:2]
    if height < size or width < size:
        raise ValueError(f"cannot crop {size}x{size} out of {width}x{height}")
    top, left = (height - size) // 2, (width - size) // 2
    return image[top : top + size, left : left + size]  # (size, size, 3)


def _pixels(image, profile):
    """One uint8 (H, W, 3) frame in the profile's channel order -> normalised (3, S, S)."""
    size = profile.image_size
    crop = _center_crop(_resize_shortest_edge(image, size), size).astype(np.float32) / 255.0
    mean = np.asarray(profile.image_mean, dtype=np.float32)
    std = np.asarray(profile.image_std, dtype=np.float32)
    return ((crop - mean) / std).transpose(2, 0, 1)  # (3, S, S)


def zero_frames(profile):
    """The official placeholder for an utterance over the profile's maximum duration."""
    size = profile.image_size
    return torch.zeros((profile.num_frames, 3, size, size))  # (8, 3, 224, 224)


def prepare_frames(frames, profile, duration=None):
    """uint8 RGB frames (N, H, W, 3) -> pixel values (num_frames, 3, S, S) float32.

    Frames beyond `num_frames` are dropped and a short list repeats its last frame, so callers
    may pass the frames `sample_frame_indices` picked. With `duration` (s) above the profile's
    maximum, the official zero placeholder is returned.
    """
    if duration is not None and too_long(duration, profile):
        return zero_frames(profile)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected uint8 RGB frames (N, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    picked = [frames[min(i, len(frames) - 1)] for i in range(profile.num_frames)]
    if profile.frame_order == "bgr":
        picked = [frame[..., ::-1] for frame in picked]
    pixels = np.stack([_pixels(np.ascontiguousarray(frame), profile) for frame in picked])
    return torch.from_numpy(pixels)  # (num_frames, 3, S, S)
