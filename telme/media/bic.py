"""Who speaks when, by the Bayesian information criterion on each span's spectral frames.

The classic speaker-clustering rule (Chen & Gopalakrishnan 1998, "Speaker, environment and
channel change detection and clustering via the Bayesian information criterion"): each span is
a full-covariance Gaussian over its MFCC frames; two groups are merged while modelling them as
one Gaussian costs fewer bits than two, counting the parameters saved:

    dBIC(a, b) = N/2 log|S_ab| - Na/2 log|S_a| - Nb/2 log|S_b| - lambda x P/2 x log N,
    P = d + d (d + 1) / 2,

merging the lowest pair first and stopping when every dBIC is positive. The count needs no
distance threshold of its own: the penalty grows with the data, so two short replies need
little evidence to join and two long turns need a real difference in their spectra to stay
apart. The d-vectors (telme.media.diarize) describe a voice as a speaker-verification network
trained on real speech heard it; these frames describe the spectral envelope itself, which
separates espeak-ng's formant variants better (tune + tune2, the 60 tuning clips, ground-truth
utterances: speaker count right on 43/60 against the d-vector rule's 40/60).

telme.media.speakers.VoiceClusterer uses `bic_cluster` with both kinds of evidence (JOINT): the
merge score is dBIC's ratio plus the two groups' mean d-vector distance. The margin is in units
of lambda: how far lambda is from the nearest score at which the count would change (the last
merge made, the first one refused).
"""

from dataclasses import dataclass

import numpy as np

from telme.dialogue import MAX_SPEAKERS
from telme.media.rates import SPEECH_RATE

N_MFCC = 20  # coefficient 0 (loudness) is dropped: 19 dimensions
FRAME = 400  # samples, 25 ms
HOP = 160  # samples, 10 ms
N_MELS = 40
LOUD = 0.3  # frames quieter than this x the span's median RMS are left out (pauses, breath)


@dataclass(frozen=True)
class BicSettings:
    penalty: float  # lambda, the weight of the parameter count
    shrink: float  # added to each covariance's diagonal (short spans have few frames)
    voice_weight: float  # weight of the groups' mean voice distance (in thresholds, minus 1)
    clear_margin: float  # a smaller margin (in lambda) makes the count "uncertain"


# chosen on tune + tune2 (60 clips, ground-truth utterances, speaker count right):
# frames alone (voice_weight 0): lambda 1.5-1.6, shrink 0.03-0.3 give 42-43/60;
# with the voices (weight 0.5-1.5): lambda 1.3 gives 45-46/60 (1.2 and 1.4: 43-45). On the
# pipeline's own utterances of those clips (what users get) the joint rule's best is weight 1.5,
# lambda 1.6: 44/60 (frames alone 43, the voice threshold of telme.media.speakers 42).
# clear_margin on the same 60: a margin under 0.3 flags 7 of the 16 wrong counts and 10 of the 44
# right ones as uncertain (0.1: 0 of 16 and 4 of 44)
BIC = BicSettings(penalty=1.6, shrink=0.1, voice_weight=0.0, clear_margin=0.1)
JOINT = BicSettings(penalty=1.6, shrink=0.1, voice_weight=1.5, clear_margin=0.3)


def span_frames(wave, spans):
    """MFCC frames (m, 19) of the loud part of each span, one array per span."""
    import librosa

    frames = []
    for start, end in spans:
        piece = np.asarray(wave[int(start * SPEECH_RATE) : int(end * SPEECH_RATE)], np.float32)
        if len(piece) < FRAME:
            piece = np.pad(piece, (0, FRAME - len(piece)))
        mfcc = librosa.feature.mfcc(y=piece, sr=SPEECH_RATE, n_mfcc=N_MFCC, n_fft=FRAME, hop_length=HOP,
                                    n_mels=N_MELS)  # fmt: skip
        rms = librosa.feature.rms(y=piece, frame_length=FRAME, hop_length=HOP)[0][: mfcc.shape[1]]
        loud = rms > LOUD * np.median(rms)
        frames.append(mfcc[1:, loud].T.astype(np.float64) if loud.sum() >= 2 else mfcc[1:].T.astype(np.float64))
    return frames


class Gaussian:
    """Sufficient statistics of a group of frames: count, sum, sum of outer products."""

    def __init__(self, count, total, outer):
        self.count, self.total, self.outer = count, total, outer

    @classmethod
    def of(cls, frames):
        return cls(len(frames), frames.sum(axis=0), frames.T @ frames)

    def __add__(self, other):
        return Gaussian(self.count + other.count, self.total + other.total, self.outer + other.outer)

    def log_det(self, shrink):
        """log |covariance + shrink I| (unbiased covariance, as numpy's cov)."""
        mean = self.total / self.count
        scatter = self.outer - self.count * np.outer(mean, mean)
        covariance = scatter / max(self.count - 1, 1) + shrink * np.eye(len(mean))
        return np.linalg.slogdet(covariance)[1]


def merge_ratio(a, b, shrink, log_dets=None):
    """The lambda at which a and b would just merge: dBIC's data term over its penalty term.
    log_dets: a's and b's log_det(shrink), when already known."""
    dims = len(a.total)
    both = a + b
    log_a, log_b = log_dets or (a.log_det(shrink), b.log_det(shrink))
    gain = 0.5 * (both.count * both.log_det(shrink) - a.count * log_a - b.count * log_b)
    return gain / (0.5 * (dims + dims * (dims + 1) / 2) * np.log(both.count))


def bic_cluster(frames, num_speakers=None, settings=BIC, max_speakers=MAX_SPEAKERS, distance=None):
    """(labels per span, margin): greedy merges of the lowest score while it is under lambda (or
    until `num_speakers` groups remain). score = merge_ratio + voice_weight x (mean of `distance`
    between the two groups' spans - 1); `distance`: (n, n) voice distances in units of their
    threshold (1 = the voice rule's boundary), None for frames alone.

    Groups are keyed by their first span; after a merge only the new group's scores are
    computed again (n^2 scores in all, not n^3), so a 600-utterance clip stays cheap."""
    groups = {index: Gaussian.of(f) for index, f in enumerate(frames)}
    members = {index: [index] for index in groups}
    log_dets = {index: group.log_det(settings.shrink) for index, group in groups.items()}

    def score(i, j):
        value = merge_ratio(groups[i], groups[j], settings.shrink, (log_dets[i], log_dets[j]))
        if distance is not None and settings.voice_weight:
            value += settings.voice_weight * (distance[np.ix_(members[i], members[j])].mean() - 1.0)
        return value

    scores = {(i, j): score(i, j) for i in groups for j in groups if i < j}
    last_made = refused = None
    while len(groups) > 1:
        (i, j), best = min(scores.items(), key=lambda item: item[1])
        if num_speakers is not None and len(groups) <= num_speakers:
            break
        if num_speakers is None and best >= settings.penalty and len(groups) <= max_speakers:
            refused = best
            break
        last_made = best
        groups[i] = groups[i] + groups.pop(j)
        members[i] = members[i] + members.pop(j)
        log_dets[i] = groups[i].log_det(settings.shrink)
        del log_dets[j]
        scores = {pair: value for pair, value in scores.items() if j not in pair and i not in pair}
        scores.update({(min(i, k), max(i, k)): score(min(i, k), max(i, k)) for k in groups if k != i})
    labels = [0] * len(frames)
    for label, key in enumerate(sorted(members)):
        for index in members[key]:
            labels[index] = label
    if num_speakers is not None:
        return labels, None
    near = [abs(settings.penalty - value) for value in (last_made, refused) if value is not None]
    return labels, (min(near) if near else None)
