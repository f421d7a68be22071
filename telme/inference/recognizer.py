"""Emotion per utterance of a whole dialogue: teacher, students and fusion in batched forwards.

`Recognizer(model).run_dialogue(dialogue, media)` encodes every prompt of the dialogue, runs the
text teacher in micro-batches of `batch_size`, the audio and video students likewise over the
utterances that have media, then the fusion over consecutive groups of `FusionConfig.group_size`
utterances (the official batches of 4: utterances of a group attend to each other).
`stream_dialogue` is the same run as a generator: a `PartialPrediction` when the teacher has every
utterance, after each student micro-batch and after the fusion (what is still to come is marked
`pending` per utterance); `run_dialogue` returns its last step. Closing it stops the work.

Outputs are cached: teacher outputs by (a digest of) token ids, student outputs by a digest of
the utterance's raw audio / frames. Editing one utterance's text re-runs only the prompts that
contain it (that one and every later one) and the fusion; `recognizer.stats` counts forwards.
Each cache is a bounded LRU (`CACHE_ENTRIES` outputs, `CACHE_BYTES` of tensors), so a
long-running service holds a fixed amount however many dialogues pass through it. A dialogue
over `telme.limits` (utterances, characters) is refused before anything is tokenised.
"""

import threading
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from telme.dialogue import speaker_numbers
from telme.errors import UserError
from telme.limits import DEFAULT_LIMITS
from telme.inference.cache import CACHE_BYTES, CACHE_ENTRIES, LRUCache, digest, PartOutput
from telme.inference.forwards import audio_forward, check_vocabulary
from telme.inference.precision import (
    autocast_dtype,
    batch_sizes,
    cast_weights,
    precision_name,
    use_fast_video,
)
from telme.inference.results import DialoguePrediction, PartialPrediction, RecognizerStats, UtterancePrediction

STUDENTS = ("audio", "video")
MIN_AUDIO_SECONDS = 0.05  # shorter utterance audio is treated as absent (the conv front end needs ~25 ms)


def choose_device(preferred=None) -> torch.device:
    """The one place a device is chosen: `preferred` when given, else CUDA if available, else CPU."""
    if preferred is not None:
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"device {preferred!r} asked for, but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Recognizer:
    """Runs a loaded `TelME` over dialogues. One instance may serve several threads (a lock
    serialises forwards, one micro-batch at a time); its caches are shared by all of them."""

    def __init__(self, model, device=None, batch_size=None, precision: str | None = None,
                 cache_entries: int = CACHE_ENTRIES, cache_bytes: int = CACHE_BYTES, limits=DEFAULT_LIMITS):
        """batch_size: utterances per backbone forward, an int or {part: int} (None: per-device
        defaults); precision: auto, fp32, bf16 or fp16 (None: $TELME_PRECISION or auto), see
        telme.inference.precision. bf16 stores the backbones' weights in bf16 and runs
        TimeSformer's layers through telme.inference.fast_video, in place."""
        self.device = choose_device(device)
        self.dtype = autocast_dtype(self.device, precision)
        self.precision = precision_name(self.dtype)
        self.batch_sizes = batch_sizes(batch_size, self.device, self.dtype)  # part -> utterances per forward
        cast_weights(model, self.dtype)
        use_fast_video(model, enabled=self.dtype == torch.bfloat16)
        self.model = model.to(self.device).eval()
        self.stats = RecognizerStats()
        self.limits = limits  # a `telme.limits.Limits`: the most text one dialogue may hold
        self.cache_entries, self.cache_bytes = cache_entries, cache_bytes  # bounds of each cache
        self.clear_cache()
        self._lock = threading.Lock()

    @property
    def labels(self):
        return self.model.labels

    def run_dialogue(self, dialogue, media=None, drop=frozenset(), progress=None) -> DialoguePrediction:
        """Probabilities of every part for every utterance of `dialogue`: the last step of `stream_dialogue`.

        media: None, or per-utterance items with `.audio` (float32 mono at the profile's
        `audio_sample_rate`, or None) and `.frames` (uint8 RGB (N, H, W, 3), or None) -- a list
        of `telme.media.pipeline.UtteranceMedia` -- or one object whose `.audio` and `.frames`
        are such lists.
        drop: "audio" and/or "video": that student's hidden vectors are replaced by zeros in the
        fusion input ("removed" means exactly this); its own probabilities are still reported.
        When nothing is left to fuse, `fused` is the teacher's and `alpha` is None.
        """
        for step in self.stream_dialogue(dialogue, media, drop, progress):
            pass
        return step.prediction

    def stream_dialogue(self, dialogue, media=None, drop=frozenset(), progress=None):
        """The run of `run_dialogue` as it goes: a `PartialPrediction` once the teacher has every
        utterance, one after each audio and each video micro-batch, and one after the fusion; the
        last is complete (`.prediction.pending == ()`). Closing the generator (GeneratorExit, e.g.
        a cancelled request) stops it at that step: no later forward runs. Input errors (limits,
        `drop`) are raised by the first `next()`.
        """
        self._check(dialogue, drop)
        progress = progress or _quiet
        items = media_items(media, len(dialogue))
        stages = [self.teacher_stage(dialogue), self.audio_stage(dialogue, items), self.video_stage(dialogue, items)]
        outputs = {stage.part: [None] * len(dialogue) for stage in stages}
        fusing = self._will_fuse(stages, set(drop))
        for stage in stages:
            for outputs[stage.part] in self._run_stage(stage, progress):
                if stage.part != "teacher" or all(o is not None for o in outputs["teacher"]):
                    yield self._partial(stage.part, stages, outputs, fusing)
        if fusing:
            fused, alpha = self.fuse(outputs["teacher"], outputs["audio"], outputs["video"], set(drop), progress)
            prediction = self.collect(outputs["teacher"], outputs["audio"], outputs["video"], fused, alpha)
            yield PartialPrediction("fusion", len(dialogue), len(dialogue), prediction)

    def _check(self, dialogue, drop):
        if not len(dialogue):
            raise ValueError("the dialogue has no utterances")
        self.limits.check_dialogue(dialogue)  # before any tokenising: a 10 MB cell is refused at once
        unknown = set(drop) - set(STUDENTS)
        if unknown:
            raise ValueError(f"drop: unknown modalities {sorted(unknown)}; expected audio and/or video")

    def _will_fuse(self, stages, drop) -> bool:
        """The fusion runs when it is live and a student that is not dropped has an utterance to give it."""
        students = [stage for stage in stages if stage.part in STUDENTS and stage.part not in drop]
        return "fusion" in self.model.live_modalities and any(k is not None for s in students for k in s.keys)

    def _partial(self, part, stages, outputs, fusing) -> PartialPrediction:
        """The prediction so far: per utterance, the parts whose output is still to come."""
        waiting = [[] for _ in outputs["teacher"]]
        for stage in stages:
            for i, (key, output) in enumerate(zip(stage.keys, outputs[stage.part])):
                if key is not None and output is None:
                    waiting[i].append(stage.part)
        for row in waiting if fusing else ():
            row.append("fusion")
        prediction = self.collect(outputs["teacher"], outputs["audio"], outputs["video"], None, None, waiting)
        stage = next(stage for stage in stages if stage.part == part)
        total = sum(key is not None for key in stage.keys)
        return PartialPrediction(part, total - sum(part in row for row in waiting), total, prediction)

    def teacher_stage(self, dialogue) -> "_Stage":
        """Every utterance, from the prompts over utterances 0..i."""
        from telme.features.text import collate_left, dialogue_texts, encode_dialogue

        model = self.model
        texts = dialogue_texts(dialogue, model.profile)
        ids = encode_dialogue(speaker_numbers(dialogue), texts, model.tokenizer, model.profile.max_text_tokens)
        check_vocabulary(ids, model.teacher.cfg.vocab_size)
        keys = [digest(np.asarray(row, dtype=np.int64)) for row in ids]
        inputs = dict(zip(keys, ids))

        def forward(chunk):
            input_ids, mask = collate_left([inputs[key] for key in chunk], model.tokenizer.pad_id)  # (B, T)
            return model.teacher(input_ids.to(self.device), mask.to(self.device))

        return _Stage("teacher", keys, forward, length=lambda k: len(inputs[k]))

    def audio_stage(self, dialogue, items) -> "_Stage":
        """The utterances with usable audio (none without a live student or media)."""
        from telme.features.audio import prepare_audio

        if "audio" not in self.model.live_modalities or items is None:
            return _Stage("audio", [None] * len(dialogue))
        profile = self.model.profile
        min_samples = MIN_AUDIO_SECONDS * profile.audio_sample_rate
        waves = [_usable_audio(item.audio, min_samples) for item in items]
        keys = [None if wave is None else digest(wave) for wave in waves]
        inputs = {key: wave for key, wave in zip(keys, waves) if key is not None}

        def forward(chunk):
            values = [prepare_audio(inputs[key], profile) for key in chunk]
            return audio_forward(self.model.audio, values, self.device)

        return _Stage("audio", keys, forward, length=lambda k: len(inputs[k]))

    def video_stage(self, dialogue, items) -> "_Stage":
        from telme.features.video import prepare_frames

        if "video" not in self.model.live_modalities or items is None:
            return _Stage("video", [None] * len(dialogue))
        frames = [item.frames if item.frames is not None and len(item.frames) else None for item in items]
        keys = [None if f is None else (digest(f), u.duration) for f, u in zip(frames, dialogue)]
        inputs = {key: f for key, f in zip(keys, frames) if key is not None}

        def forward(chunk):
            pixels = torch.stack([prepare_frames(inputs[key], self.model.profile, duration=key[1]) for key in chunk])
            return self.model.video(pixels.to(self.device))  # (B, 8, 3, S, S) in

        return _Stage("video", keys, forward)

    def fuse(self, teacher, audio, video, drop, progress):
        """Fused probabilities (N, L) and alpha (N,), or (None, None) when the fusion cannot run."""
        fusion = self.model.fusion
        students = {"audio": audio if "audio" not in drop else [None] * len(audio),
                    "video": video if "video" not in drop else [None] * len(video)}
        if "fusion" not in self.model.live_modalities or all(o is None for s in students.values() for o in s):
            return None, None
        width = fusion.cfg.hidden_size
        text = torch.stack([o.hidden for o in teacher])  # (N, 768)
        stacked = {name: torch.stack([o.hidden if o is not None else torch.zeros(width) for o in outputs])
                   for name, outputs in students.items()}  # (N, 768) each, zeros where absent
        progress("fusion", 0, 1)
        with self._lock, torch.inference_mode():
            logits, alpha = self.grouped_fusion(text, stacked["audio"], stacked["video"])
        progress("fusion", 1, 1)
        return logits.float().softmax(-1).cpu(), alpha.float().cpu()

    def grouped_fusion(self, text, audio, video):
        """Consecutive groups of `group_size` attend within themselves: all full groups in one
        forward (as a (group_size, groups, D) batch), the shorter last group in a second."""
        size = self.model.fusion.cfg.group_size
        count = text.shape[0]
        full = count - count % size
        logits, alphas = [], []
        for start, stop in ((0, full), (full, count)):
            if stop == start:
                continue
            rows = stop - start if start == full else size
            shape = (-1, rows, text.shape[-1])  # (groups, rows, D)
            parts = [x[start:stop].reshape(shape).transpose(0, 1).to(self.device) for x in (text, audio, video)]
            with self._autocast():
                group_logits, alpha = self.model.fusion(*parts, return_alpha=True)  # (rows, groups, L), (rows, groups)
            self.stats.fusion_forwards += 1
            logits.append(group_logits.transpose(0, 1).reshape(stop - start, -1).float())
            alphas.append(alpha.transpose(0, 1).reshape(-1).float())
        return torch.cat(logits), torch.cat(alphas)  # (N, L), (N,)

    def collect(self, teacher, audio, video, fused, alpha, pending=None) -> DialoguePrediction:
        """The typed result; `pending` (a list per utterance) marks a partial one, whose fused is the teacher's."""
        utterances = []
        for i, text_out in enumerate(teacher):
            probs = fused[i] if fused is not None else text_out.probs
            best = int(probs.argmax())
            utterances.append(UtterancePrediction(
                index=i, teacher=text_out.probs.tolist(),
                audio=audio[i].probs.tolist() if audio[i] is not None else None,
                video=video[i].probs.tolist() if video[i] is not None else None,
                fused=probs.tolist(), alpha=float(alpha[i]) if alpha is not None else None,
                label=self.labels[best], confidence=float(probs[best]),
                pending=tuple(pending[i]) if pending is not None else ()))
        return DialoguePrediction(labels=tuple(self.labels), live=self.model.live_modalities, utterances=utterances)

    def _run_stage(self, stage, progress):
        """The stage's outputs per utterance (None: absent, or not computed yet) after each of its
        micro-batches, the last with every one; only uncached keys are computed."""
        cache, part = self._caches[stage.part], stage.part
        with self._lock:
            found = {key: cache.get(key) for key in dict.fromkeys(stage.keys) if key is not None}
        if not found:
            return
        todo = [key for key, output in found.items() if output is None]  # `found` holds them: a dialogue
        if stage.length is not None:
            todo.sort(key=stage.length)  # larger than the cache completes; similar lengths share a batch
        size = self.batch_sizes[part]
        for start in range(0, len(todo), size):
            progress(part, start, len(todo))
            self._forward_chunk(stage, todo[start:start + size], found, cache)
            if start + size < len(todo):
                yield [found[key] if key is not None else None for key in stage.keys]
        progress(part, len(todo), len(todo))
        yield [found[key] if key is not None else None for key in stage.keys]

    def _forward_chunk(self, stage, chunk, found, cache):
        """One micro-batch forward; the lock serialises forwards of every thread, not whole runs."""
        with self._lock, torch.inference_mode(), self._autocast():
            hidden, logits = stage.forward(chunk)  # (B, 768), (B, L)
            setattr(self.stats, f"{stage.part}_forwards", getattr(self.stats, f"{stage.part}_forwards") + 1)
            setattr(self.stats, f"{stage.part}_rows", getattr(self.stats, f"{stage.part}_rows") + len(chunk))
            probs = logits.float().softmax(-1).cpu()
            for key, h, p in zip(chunk, hidden.float().cpu(), probs):
                found[key] = PartOutput(hidden=h.clone(), probs=p.clone())  # own storage: the batch can go
                cache.put(key, found[key])

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def clear_cache(self):
        self._caches = {part: LRUCache(self.cache_entries, self.cache_bytes) for part in ("teacher", *STUDENTS)}

    def cache_info(self) -> dict:
        """Per cache: outputs held, tensor bytes held, outputs dropped so far."""
        return {part: {"entries": len(cache), "bytes": cache.nbytes, "evictions": cache.evictions}
                for part, cache in self._caches.items()}


def media_items(media, count):
    """Per-utterance items with .audio and .frames, or None without media."""
    if media is None:
        return None
    if hasattr(media, "audio") and hasattr(media, "frames"):
        audio, frames = list(media.audio), list(media.frames or [None] * len(media.audio))
        media = [_Item(a, f) for a, f in zip(audio, frames, strict=True)]
    media = list(media)
    if len(media) != count:
        raise ValueError(f"media for {len(media)} utterances given, the dialogue has {count}")
    return media


@dataclass(frozen=True)
class _Stage:
    """One part's work in a run: a cache key per utterance and the forward of a micro-batch of keys."""

    part: str  # teacher, audio or video
    keys: list  # per utterance: its cache key, or None when the part has nothing to compute for it
    forward: object = None  # [key, ...] -> (hidden (B, 768), logits (B, L))
    length: object = None  # key -> input length, so similar lengths share a micro-batch


@dataclass(frozen=True)
class _Item:
    audio: object
    frames: object


def _usable_audio(wave, min_samples):
    if wave is None:
        return None
    wave = np.asarray(wave, dtype=np.float32)
    return wave if wave.ndim == 1 and wave.size >= min_samples else None


def _quiet(step, done, total):
    pass
