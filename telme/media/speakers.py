"""Who speaks when: voice embeddings (resemblyzer, weights shipped in its wheel) + clustering.

`VoiceClusterer(wave_16k, spans, num_speakers=None) -> labels` numbers speakers 0, 1, ... by
first appearance. The number of speakers is estimated when not given: one speaker when every
span sounds alike, else the k in 2..9 with the best silhouette. The encoder loads on first use.
"""

import warnings

import numpy as np

from telme.media.errors import TooManySpeakers

SAMPLE_RATE = 16000  # Hz, resemblyzer's rate
MAX_SPEAKERS = 9  # TelME's prompt has nine speaker tokens
MIN_EMBED_SPAN = 1.0  # s, shorter spans are widened around their centre before embedding
PARTIALS_PER_SECOND = 1.3  # resemblyzer's default: 1.6 s windows, overlapping
MIN_COVERAGE = 0.75  # a last window at least this full is zero-padded and kept
SAME_VOICE = 0.7  # cosine similarity above which every pair sounding alike means one speaker
MIN_SILHOUETTE = 0.15  # below this no split into k >= 2 clusters is convincing


def widen(start, end, duration, minimum=MIN_EMBED_SPAN):
    """(start, end) grown symmetrically to `minimum` seconds, kept inside [0, duration]."""
    missing = max(minimum - (end - start), 0.0) / 2
    start, end = max(start - missing, 0.0), min(end + missing, duration)
    return start, end


def number_by_appearance(labels):
    """Cluster ids renumbered 0, 1, ... in order of first appearance."""
    order = {}
    for label in labels:
        order.setdefault(label, len(order))
    return [order[label] for label in labels]


def cluster(embeddings, num_speakers):
    """Agglomerative clustering (cosine, average linkage) into `num_speakers` groups."""
    from sklearn.cluster import AgglomerativeClustering

    if num_speakers >= len(embeddings):
        return list(range(len(embeddings)))
    if num_speakers == 1:
        return [0] * len(embeddings)
    model = AgglomerativeClustering(n_clusters=num_speakers, metric="cosine", linkage="average")
    return model.fit_predict(embeddings).tolist()


def estimate_speakers(embeddings, max_speakers=MAX_SPEAKERS):
    """How many voices the (unit-norm) embeddings hold: 1 if all alike, else best silhouette."""
    from sklearn.metrics import silhouette_score

    count = len(embeddings)
    similarity = embeddings @ embeddings.T  # (n, n) cosine, embeddings are unit-norm
    if count < 2 or similarity.min() >= SAME_VOICE:
        return 1
    if count == 2:
        return 2
    best_k, best_score = 1, MIN_SILHOUETTE
    for k in range(2, min(max_speakers, count - 1) + 1):
        score = silhouette_score(embeddings, cluster(embeddings, k), metric="cosine")
        if score > best_score:
            best_k, best_score = k, score
    return best_k


class VoiceClusterer:
    """Speaker labels for time spans of a 16 kHz wave."""

    def __init__(self, device="cpu", max_speakers=MAX_SPEAKERS, torch_threads=None):
        self.device = device
        self.max_speakers = max_speakers
        # None leaves torch's thread pool alone; 1 is 3-10x faster for this small LSTM on a
        # busy 2-core machine, but torch's setting is process-wide (set and restored per call)
        self.torch_threads = torch_threads
        self._encoder = None

    @property
    def encoder(self):
        if self._encoder is None:
            with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
                warnings.simplefilter("ignore", UserWarning)
                from resemblyzer import VoiceEncoder

            self._encoder = VoiceEncoder(device=self.device, verbose=False)
        return self._encoder

    def partial_mels(self, piece):
        """Mel windows of 1.6 s covering `piece`, as resemblyzer's embed_utterance cuts them."""
        from resemblyzer import audio

        wave_slices, mel_slices = self.encoder.compute_partial_slices(
            len(piece), PARTIALS_PER_SECOND, MIN_COVERAGE
        )
        if wave_slices[-1].stop >= len(piece):
            piece = np.pad(piece, (0, wave_slices[-1].stop - len(piece)))
        mel = audio.wav_to_mel_spectrogram(piece)
        return [mel[s] for s in mel_slices]

    def embed(self, wave, spans, progress=None):
        """One unit-norm voice embedding per (start, end) span, shape (n, 256), one forward."""
        import torch

        duration = len(wave) / SAMPLE_RATE
        mels, owners = [], []
        for index, (start, end) in enumerate(spans):
            start, end = widen(start, end, duration)
            piece = wave[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)].astype(np.float32)
            windows = self.partial_mels(piece)
            mels += windows
            owners += [index] * len(windows)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads or threads)
        try:
            with torch.no_grad():
                batch = torch.from_numpy(np.stack(mels)).to(self.device)  # (partials, 160, 40)
                partials = self.encoder(batch).cpu().numpy()  # (partials, 256)
        finally:
            torch.set_num_threads(threads)
        owners = np.array(owners)
        sums = np.stack([partials[owners == index].mean(axis=0) for index in range(len(spans))])
        if progress is not None:
            progress("speakers", len(spans), len(spans))
        return sums / np.linalg.norm(sums, axis=1, keepdims=True)  # (n, 256)

    def __call__(self, wave, spans, num_speakers=None, progress=None):
        if num_speakers is not None and num_speakers > self.max_speakers:
            raise TooManySpeakers(num_speakers, self.max_speakers)
        if len(spans) == 0:
            return []
        if num_speakers == 1 or len(spans) == 1:
            return [0] * len(spans)
        embeddings = self.embed(wave, spans, progress)
        count = num_speakers or estimate_speakers(embeddings, self.max_speakers)
        return number_by_appearance(cluster(embeddings, count))
