"""Spoken test conversations made with espeak-ng, with their truth: who spoke when, and what.

    PYTHONPATH=. python scripts/conversations.py --set tune --out /work/bench-data/tune
    PYTHONPATH=. python scripts/conversations.py --set tune2 --out /work/bench-data/tune2
    PYTHONPATH=. python scripts/conversations.py --set eval --out /work/bench-data/eval
    PYTHONPATH=. python scripts/conversations.py --set eval2 --out /work/bench-data/eval2
    PYTHONPATH=. python scripts/conversations.py --fixtures tests/fixtures/media

Two disjoint kinds of set (see `SETS`): `tune` and `tune2` are what segmentation and speaker
thresholds may be fitted on (tune2: 36 more clips with new seeds and, besides tune's, voice
variants and accents that no other set uses); `eval` and `eval2` are for reporting only. Tuning
sets and eval share no espeak voice variant, no accent and no line of text, so a threshold fitted
on them meets new voices and new words on `eval`. `eval2` (made after the speaker rule of
2026-12-02 was chosen, so that rule had never met it) has 16 voice variants that no other set
has, the accents of tune and eval, and eval's lines. The committed
media fixtures (en-us+m3, +f4, +klatt4) are voices the pipeline has already been fitted on, so
those variants belong to `tune` too.

Each clip: 1-4 speakers (each one espeak voice+variant with its own pitch and speed), 3-12 turns,
pauses of 0.3-1.5 s between turns, one-word replies, a speaker talking twice in a row after a
pause, lines with commas (a comma pause inside a turn is not a boundary), background noise
(white, pink or a mains hum at 15-30 dB SNR) on about half the clips, and a format rotating
wav / mp4 (h264 + aac, a flat colour per speaker as video) / webm (vp8 + opus), written with PyAV.
Everything is drawn from a seeded `random.Random`, and espeak-ng is deterministic, so a set comes
out the same on every run.

Truth, `<clip>.json` beside each clip (the format of tests/fixtures/media/three_voices.json plus a
few fields): duration (s), utterances [{start, end, speaker, text, words}] with one entry per turn
and the times of actual speech (espeak's own leading and trailing silence trimmed), num_speakers,
format, voices {speaker: {voice, pitch, speed}}, noise ({kind, snr_db} or null), set, seed.
"""

import argparse
import json
import random
import subprocess
import tempfile
import wave as wavfile
from functools import lru_cache
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

ESPEAK_RATE = 22050  # Hz, espeak-ng's output rate
SILENCE_LEVEL = 0.01  # peak fraction under which espeak's padding counts as silence
WIDTH, HEIGHT, FPS = 96, 64, 10  # px, px, frames per second of the flat-colour video
FORMATS = ("wav", "mp4", "webm")  # rotated clip by clip
FORMAT_RATES = {"wav": 16000, "mp4": 44100, "webm": 48000}  # Hz of the written audio
PAUSE = (0.3, 1.5)  # s between turns
SAME_SPEAKER_PAUSE = (0.8, 1.5)  # s before a speaker's second turn in a row (a real boundary)
EDGE = (0.3, 0.8)  # s of silence before the first and after the last turn
PITCH, SPEED = (20, 80), (145, 195)  # espeak -p (0-99) and -s (words per minute) per speaker
SNR_DB = (15.0, 30.0)  # of the background noise against the speech
NOISES = ("white", "pink", "hum")
HUM = 50.0  # Hz, mains hum fundamental (harmonics 2 and 3 added)
SPEAKER_COUNTS = (1, 2, 2, 3, 2, 3, 4, 2, 3, 1, 2, 4)  # cycled: mostly 2-3, some 1 and 4
NAMES = ("Alex", "Blair", "Casey", "Drew")
COLOURS = ((200, 60, 40), (40, 90, 200), (50, 170, 60), (210, 180, 40))  # RGB per speaker


@dataclass(frozen=True)
class Voice:
    voice: str  # espeak -v, "accent+variant"
    pitch: int  # espeak -p
    speed: int  # espeak -s, words per minute


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    pause_after: float  # s of silence after this turn (0 after the last)


@dataclass(frozen=True)
class Conversation:
    name: str
    voices: dict  # speaker name: Voice
    turns: tuple  # of Turn
    lead: float  # s of silence before the first turn
    tail: float  # s after the last
    noise: dict | None  # {"kind", "snr_db"}; None for a clean clip
    format: str  # one of FORMATS
    seed: int


# -- planning: pure Python, deterministic from (set, index) ---------------------------------------


def pick_voices(rng, pool, count):
    """`count` speakers with distinct variants, each with its own pitch and speed."""
    variants = rng.sample(pool["variants"], count)
    return {
        NAMES[i]: Voice(f"{rng.choice(pool['accents'])}+{variant}", rng.randint(*PITCH),
                        rng.randint(*SPEED))  # fmt: skip
        for i, variant in enumerate(variants)
    }


def plan_turns(rng, pool, speakers, count):
    """Turns of speech: who speaks, what, and the pause after (the last has none).

    Every speaker gets at least one turn; one-word replies only in conversations.
    """
    lines = rng.sample(pool["lines"], count)
    turns, previous = [], None
    for i in range(count):
        unheard = [s for s in speakers if s not in {t[0] for t in turns}]
        if len(unheard) >= count - i and unheard:
            speaker = rng.choice(unheard)
        elif previous is not None and rng.random() < 0.15:
            speaker = previous  # talks twice in a row, after a pause
        else:
            speaker = rng.choice([s for s in speakers if s != previous] or speakers)
        reply = len(speakers) > 1 and i > 0 and rng.random() < 0.25
        turns.append([speaker, rng.choice(pool["replies"]) if reply else lines[i]])
        previous = speaker
    if len(speakers) > 1 and count >= 4 and all(a[0] != b[0] for a, b in zip(turns, turns[1:])):
        force_repeat(turns, speakers)
    result = []
    for i, (speaker, text) in enumerate(turns):
        last = i == count - 1
        same = not last and turns[i + 1][0] == speaker
        pause = 0.0 if last else rng.uniform(*(SAME_SPEAKER_PAUSE if same else PAUSE))
        result.append(Turn(speaker, text, round(pause, 3)))
    return tuple(result)


def force_repeat(turns, speakers):
    """Give one turn to the speaker before it, where no speaker loses their only turn."""
    for i in range(len(turns) - 1, 0, -1):
        who = [t[0] for t in turns]
        if who.count(who[i]) > 1:
            turns[i][0] = turns[i - 1][0]
            return


def plan_conversation(set_name, index):
    """The `index`-th conversation of a set (same answer on every call)."""
    pool = SETS[set_name]
    seed = pool["seed"] * 1000 + index
    rng = random.Random(seed)
    speakers = SPEAKER_COUNTS[index % len(SPEAKER_COUNTS)]
    voices = pick_voices(rng, pool, speakers)
    turns = plan_turns(rng, pool, list(voices), rng.randint(max(3, speakers), 12))
    noise = None
    if rng.random() < 0.5:
        noise = {"kind": rng.choice(NOISES), "snr_db": round(rng.uniform(*SNR_DB), 1)}
    return Conversation(name=f"{set_name}_{index:02d}", voices=voices, turns=turns,
                        lead=round(rng.uniform(*EDGE), 3), tail=round(rng.uniform(*EDGE), 3),
                        noise=noise, format=FORMATS[index % len(FORMATS)], seed=seed)  # fmt: skip


def minute_conversation(seconds=60.0):
    """A clean three-voice conversation of about `seconds` s from the tune pool (for timing)."""
    pool, rng = SETS["tune"], random.Random(60)
    voices = pick_voices(rng, pool, 3)
    kept, clock = [], 0.0
    for turn in plan_turns(rng, pool, list(voices), 40):
        kept.append(turn)
        clock += len(speak(voices[turn.speaker], turn.text)) / ESPEAK_RATE + turn.pause_after
        if clock >= seconds - 1.0:
            break
    turns = (*kept[:-1], replace(kept[-1], pause_after=0.0))
    return Conversation(name="minute", voices=voices, turns=turns, lead=0.5, tail=0.5, noise=None,
                        format="mp4", seed=60)  # fmt: skip


# -- rendering: espeak-ng, mixing, noise -----------------------------------------------------------


@lru_cache(maxsize=256)
def speak(voice, text):
    """espeak-ng audio of one line, float32 at ESPEAK_RATE, trimmed to its speech (read-only)."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
        command = ["espeak-ng", "-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.speed)]
        subprocess.run([*command, "-w", handle.name, text], check=True, capture_output=True)
        with wavfile.open(handle.name, "rb") as reader:
            data = reader.readframes(reader.getnframes())
    wave = np.frombuffer(data, "<i2").astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(wave) > SILENCE_LEVEL * np.abs(wave).max())
    speech = wave[loud[0] : loud[-1] + 1]
    speech = 0.8 * speech / np.abs(speech).max()  # voices come out at different levels
    speech.flags.writeable = False  # cached: shared between callers
    return speech


def noise_wave(kind, samples, rate, rng):
    """Unit-power background noise: white, pink (1/f power) or a mains hum."""
    if kind == "white":
        noise = rng.standard_normal(samples)
    elif kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(samples))
        spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
        noise = np.fft.irfft(spectrum, samples)
    else:
        t = np.arange(samples) / rate
        noise = sum(np.sin(2 * np.pi * HUM * k * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3))
        noise += 0.05 * rng.standard_normal(samples)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def render(conversation):
    """The conversation's wave at ESPEAK_RATE and its truth (times of actual speech)."""
    pieces = [np.zeros(int(conversation.lead * ESPEAK_RATE), np.float32)]
    utterances, clock, speech_power = [], conversation.lead, []
    for turn in conversation.turns:
        speech = speak(conversation.voices[turn.speaker], turn.text)
        end = clock + len(speech) / ESPEAK_RATE
        utterances.append({"start": round(clock, 3), "end": round(end, 3), "speaker": turn.speaker,
                           "text": turn.text, "words": turn.text.split()})  # fmt: skip
        pause = np.zeros(int(round(turn.pause_after * ESPEAK_RATE)), np.float32)
        pieces += [speech, pause]
        speech_power.append(np.mean(speech**2))
        clock = end + len(pause) / ESPEAK_RATE
    pieces.append(np.zeros(int(conversation.tail * ESPEAK_RATE), np.float32))
    wave = np.concatenate(pieces)
    if conversation.noise:
        rng = np.random.default_rng(conversation.seed)
        noise = noise_wave(conversation.noise["kind"], wave.size, ESPEAK_RATE, rng)
        power = float(np.mean(speech_power)) / 10 ** (conversation.noise["snr_db"] / 10)
        wave = wave + np.sqrt(power) * noise
    wave = (0.9 * wave / np.abs(wave).max()).astype(np.float32)
    truth = {
        "duration": round(wave.size / ESPEAK_RATE, 3),
        "utterances": utterances,
        "num_speakers": len(conversation.voices),
        "format": conversation.format,
        "voices": {name: asdict(voice) for name, voice in conversation.voices.items()},
        "noise": conversation.noise,
        "seed": conversation.seed,
    }
    return wave, truth


# -- writing: PyAV ---------------------------------------------------------------------------------


def flat_colour_frames(truth):
    """Video frames (N, H, W, 3) uint8: the colour of whoever spoke last (grey before anyone)."""
    count = int(np.ceil(truth["duration"] * FPS))
    video = np.full((count, HEIGHT, WIDTH, 3), 128, np.uint8)
    names = list(truth["voices"])
    for utterance in truth["utterances"]:
        video[int(utterance["start"] * FPS) :] = COLOURS[names.index(utterance["speaker"])]
    return video


def write_audio_stream(container, stream, wave, rate):
    import av

    pcm = (np.clip(wave, -1, 1) * 32767).astype(np.int16)
    for start in range(0, pcm.size, rate):  # one-second frames; PyAV re-chunks for the codec
        frame = av.AudioFrame.from_ndarray(pcm[None, start : start + rate], format="s16",
                                           layout="mono")  # fmt: skip
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_clip(path, wave, truth):
    """Write `wave` (at ESPEAK_RATE) as wav, mp4 or webm (from the suffix of `path`)."""
    import av

    kind = Path(path).suffix[1:]
    rate = FORMAT_RATES[kind]
    wave = resample_poly(wave, rate, ESPEAK_RATE).astype(np.float32)
    audio_codec = {"wav": "pcm_s16le", "mp4": "aac", "webm": "libopus"}[kind]
    with av.open(str(path), "w") as container:
        video = None
        if kind != "wav":
            video = container.add_stream("libx264" if kind == "mp4" else "libvpx", rate=FPS)
            video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            video.options = {"crf": "35"} if kind == "mp4" else {"b": "40k"}
        audio = container.add_stream(audio_codec, rate=rate, layout="mono")
        if kind != "wav":
            audio.bit_rate = 32000
        write_audio_stream(container, audio, wave, rate)
        if video is not None:
            for index, rgb in enumerate(flat_colour_frames(truth)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                frame.pts, frame.time_base = index, Fraction(1, FPS)
                container.mux(video.encode(frame))
            container.mux(video.encode(None))


def write_conversation(conversation, folder, set_name):
    wave, truth = render(conversation)
    truth["set"] = set_name
    path = Path(folder) / f"{conversation.name}.{conversation.format}"
    write_clip(path, wave, truth)
    path.with_suffix(".json").write_text(json.dumps(truth, indent=1) + "\n")
    return path


def write_set(set_name, folder, count=None):
    """All clips of a set into `folder`; returns their paths."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    count = SETS[set_name]["clips"] if count is None else count
    return [write_conversation(plan_conversation(set_name, i), folder, set_name)
            for i in range(count)]  # fmt: skip


# -- the two committed fixtures for the pipeline tests (tune voices) -------------------------------

SHORT_REPLIES = Conversation(
    name="short_replies",
    voices={"Alex": Voice("en-us+m1", 40, 170), "Blair": Voice("en-gb+f2", 65, 160)},
    turns=(
        Turn("Alex", "I finally finished the whole report last night.", 0.6),
        Turn("Blair", "Really?", 0.5),
        Turn("Alex", "Yes, all forty pages of it.", 0.7),
        Turn("Blair", "Wow.", 0.4),
        Turn("Alex", "Do you want to read it before the meeting?", 0.8),
        Turn("Blair", "No.", 0.6),
        Turn("Alex", "Fine, I will send it to the team instead.", 0.5),
        Turn("Blair", "Okay, thanks for doing that.", 0.0),
    ),
    lead=0.5, tail=0.6, noise=None, format="mp4", seed=0,
)  # fmt: skip
MONOLOGUE = Conversation(
    name="monologue",
    voices={"Casey": Voice("en-us+klatt2", 45, 165)},
    turns=(
        Turn("Casey", "This morning I missed the early train.", 1.3),
        Turn("Casey", "The next one was late, and it was very crowded.", 1.3),
        Turn("Casey", "I got to the office after ten.", 1.3),
        Turn("Casey", "Tomorrow I will leave much earlier.", 0.0),
    ),
    lead=0.5, tail=0.6, noise=None, format="webm", seed=0,
)  # fmt: skip


def write_fixtures(folder):
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [write_conversation(c, folder, "fixture") for c in (SHORT_REPLIES, MONOLOGUE)]


# -- the two pools: disjoint variants, accents, lines and replies ----------------------------------

TUNE_LINES = """\
Hey, did you remember to buy milk on the way home?
I think the bus is running late again.
Can you pass me the salt, please?
We should really clean the garage this weekend.
I cannot believe it is already December.
My phone died in the middle of the call.
That movie was way better than I expected.
Honestly, I am so tired of this rain.
Do you want to grab lunch after the meeting?
The kids were up half the night with a cough.
I left my umbrella at the restaurant, again.
Have you seen the new coffee place downtown?
She said the package would arrive by Friday.
I am so proud of you for finishing the race.
Why does the printer always jam when I am in a hurry?
Let me check my calendar and call you back.
We ran out of bread, so I made pancakes instead.
That was the best birthday I have had in years.
I told him twice, but he never listens.
The traffic on the bridge was terrible this morning.
Could you water the plants while I am away?
I just got the job, I start on Monday!
Please tell me you did not eat the last cookie.
My sister is coming to visit next month.
The dog chewed up my favourite pair of shoes.
I am sorry, I completely forgot about dinner.
We need to leave in ten minutes, are you ready?
That is the funniest thing I have heard all week.
I think I left the stove on, can you go and check?
The neighbours are having another loud party.
If it stops raining, we could go for a walk.
I really miss the summer, the long evenings especially.
Wait, you painted the whole room by yourself?
He sounded upset on the phone, is everything okay?
The train was cancelled, so I took a taxi.
I love the smell of fresh bread in the morning.
Your mother called, she wants you to ring her back.
I do not want to talk about it right now.
We should book the tickets before they sell out.
This soup is amazing, what did you put in it?
I lost my keys somewhere between the car and the door.
Thank you so much, you really saved my day.
The meeting went on for three hours, can you imagine?
I finally fixed the leaking tap in the bathroom.
Are you sure this is the right address?
Let us order pizza tonight, I am too tired to cook.
My back hurts from sitting at the desk all day.
I heard they are closing the old cinema.
You never told me you could play the piano.
Slow down, you are driving way too fast.
It is freezing in here, who opened the window?
I have been waiting for you for almost an hour.
The garden looks lovely now that the roses are out.
Maybe we should ask for directions.
That is not fair, I did all the work.
I am so nervous about the exam tomorrow.
Do you know where I put my glasses?
We could paint the kitchen yellow, or maybe a soft green.
The cat has been sleeping on my laptop all morning.
I cannot find a parking space anywhere near here.
Guess who I ran into at the supermarket today.
I would love to come, but I have to work late.
The wifi keeps dropping out, it is driving me crazy.
Look at the sunset, it is absolutely beautiful.
I think we took a wrong turn back there.
He promised to help, and then he never showed up.
Can we please talk about this later?
The doctor said I need to rest for a week.
I made a reservation for seven o'clock.
You scared me, I did not hear you come in.
Our flight leaves at six in the morning.
My brother is moving to Canada next year.
I am really sorry to hear about your grandfather.
The shop was closed, so I came straight back.
Could you turn the music down a little?
I have no idea what he was trying to say.
Let us go to the beach if the weather is nice.
I spilled coffee all over my new shirt.
The baby finally fell asleep, so please be quiet.
We won the match in the last minute!
I think this milk has gone off.
My laptop crashed and I lost the whole afternoon's work.
It was so good to see everyone at the wedding.
Do you want tea or coffee?
I am not angry, I am just disappointed.
The lift is broken, so we have to take the stairs.
Remind me to call the plumber tomorrow.
That dress looks wonderful on you.
I forgot my wallet, can you lend me some money?
The concert was cancelled because of the storm.
Not again.
I knew it!
Let me think about it.
Hold on a second.
That is brilliant.
You are kidding me!
Where were you?
So, what happened next?
When I got to the station this morning, the whole platform was packed, and nobody knew when the next train would come.
I spent the entire weekend sorting through old boxes in the attic, and I found photos from when we were kids.
If you had told me a year ago that I would be running a marathon, I would have laughed at you.
The plumber came, looked at the pipe for five minutes, charged us eighty pounds, and left it dripping.
""".splitlines()

EVAL_LINES = """\
Good morning, did you sleep well last night?
The heating has stopped working, and it is getting cold.
I will pick up the children from school today.
Where on earth did you put the remote control?
We are going camping by the lake next weekend.
I cannot stand waiting in long queues.
That cake looks delicious, did you bake it yourself?
The landlord wants to raise the rent again.
Honestly, I think you should apologise to her.
My car would not start this morning.
Let us meet at the station at half past eight.
I am thrilled, we are going to have a baby!
The library is open late on Thursdays.
Did you hear the thunder last night?
He forgot our anniversary, for the second year running.
I need a holiday, somewhere warm and quiet.
The internet bill was twice what it should be.
Can you help me carry these boxes upstairs?
I have never been so embarrassed in my life.
The new neighbours seem very friendly.
We should plant tomatoes in the spring.
Your shoes are all muddy, take them off at the door.
I think the restaurant closes at ten.
She won first prize in the poetry competition.
Why is there sand all over the kitchen floor?
I am going to the gym, do you want to come?
The bakery on the corner has the best croissants.
I really do not feel like going out tonight.
My grandmother turned ninety last Sunday.
Stop shouting, I can hear you perfectly well.
The museum is free on the first Monday of the month.
I bought a new bike, but the seat is too high.
Could you read this letter and tell me what you think?
We missed the ferry by two minutes.
The whole street lost power during the storm.
It is so quiet here without the kids.
I am worried about the test results.
The milk is in the fridge, behind the orange juice.
Let us watch something funny, I need a laugh.
He keeps borrowing my tools and never returns them.
The view from the hilltop was breathtaking.
I have to renew my passport before the trip.
Please do not tell anyone, it is a surprise.
The soup needs a bit more pepper.
I waited at the wrong gate for an hour.
She is the kindest person I have ever met.
The roof is leaking again, right above the bed.
I finally passed my driving test!
Our team lost, but we played really well.
Can we stop at the pharmacy on the way?
I am fed up with doing all the washing up.
That song always makes me cry.
The bus driver was incredibly rude to me.
We need more chairs for the party on Saturday.
I think I am coming down with a cold.
The painting you gave me is hanging in the hall.
Do you remember the name of that hotel in Rome?
The queue at the post office went round the block.
I am so glad you came, it means a lot to me.
The washing machine is making a strange noise.
He apologised, but I still do not trust him.
Let us take the scenic route home.
The puppy learned to sit in just one day.
I burned the toast, so breakfast is cereal.
Our neighbour's tree fell onto the fence.
I do not understand why you are so upset.
The hotel room was tiny, but the view was lovely.
Can you believe how expensive petrol has become?
I will never forget the day we met.
The teacher said he is doing much better in maths.
It smells like something is burning in the oven.
We are out of coffee, which is a disaster.
My cousin is getting married in June.
The elevator smelled of fresh paint.
Thanks for the flowers, they are gorgeous.
I hate it when people talk during a film.
The power cut lasted for almost six hours.
Tell me honestly, do you like my new haircut?
I have been looking forward to this all week.
The dentist found two small cavities.
That was a close call, we nearly crashed.
I left the tickets on the kitchen counter.
We should invite your parents for Sunday lunch.
The score was tied until the very last kick.
I am starving, when is dinner ready?
The garden gate keeps blowing open in the wind.
He sold his guitar to pay for the repairs.
I am so happy for you both.
The pool is closed for cleaning this week.
Could you lower your voice, people are staring.
Not now, please.
I told you so!
Give me a minute.
That is hilarious.
Are you serious?
Who called?
Well, how did it go?
Come here, quickly!
We drove for six hours through the mountains, and the car broke down just before we reached the hotel.
My neighbour knocked on the door at midnight, asking if I had seen her cat, and it was sitting on my sofa.
I have been trying to learn the guitar for months, but my fingers still hurt every time I practise.
The waiter brought the wrong dish twice, then spilled water on my jacket, and still expected a big tip.
""".splitlines()

SETS = {  # set: what its clips are made of
    "tune": {
        "seed": 1,
        "clips": 24,
        "accents": ["en-us", "en-gb"],
        "variants": ["m1", "m2", "m3", "m4", "m7", "f1", "f2", "f4", "klatt", "klatt2", "klatt4"],
        "lines": TUNE_LINES,
        "replies": ["Really?", "Wow.", "No.", "Yes.", "Okay.", "Sure.", "Thanks."],
    },
    "tune2": {  # more tuning clips, so a threshold is not fitted to 24: new seeds, tune's lines
        # and replies, tune's variants and accents plus ones that are in neither tune nor eval
        "seed": 3,
        "clips": 36,
        "accents": ["en-us", "en-gb", "en-gb-x-gbclan", "en-gb-x-gbcwmd"],
        "variants": ["m1", "m2", "m3", "m4", "m7", "f1", "f2", "f4", "klatt", "klatt2", "klatt4",
                     "klatt6", "adam", "Andy", "Denis", "Gene", "Jacky", "Lee", "Michael", "aunty",
                     "edward", "john", "max", "norbert", "quincy", "travis", "linda", "shelby"],
        "lines": TUNE_LINES,
        "replies": ["Really?", "Wow.", "No.", "Yes.", "Okay.", "Sure.", "Thanks."],
    },
    "eval": {
        "seed": 2,
        "clips": 30,
        "accents": ["en-029", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc"],
        "variants": ["m5", "m6", "m8", "f3", "f5", "klatt3", "klatt5", "Annie", "steph"],
        "lines": EVAL_LINES,
        "replies": ["Seriously?", "Nope.", "Right.", "Great.", "Exactly.", "What?", "Fine."],
    },
    "eval2": {  # a second evaluation set (added 2026-12-02, after the BIC rule was chosen): voice
        # variants that no other set has, the accents of tune and eval, eval's lines and replies
        "seed": 5,
        "clips": 30,
        "accents": ["en-us", "en-gb", "en-029", "en-gb-scotland", "en-gb-x-rp", "en-us-nyc"],
        "variants": ["Alex", "Alicia", "Andrea", "Mike", "benjamin", "belinda", "caleb", "david", "ed",
                     "iven", "paul", "rob", "robert", "steph2", "victor", "zac"],
        "lines": EVAL_LINES,
        "replies": ["Seriously?", "Nope.", "Right.", "Great.", "Exactly.", "What?", "Fine."],
    },
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), help="which set of conversations to write")
    parser.add_argument("--out", type=Path, help="folder for the set's clips and truth files")
    parser.add_argument("--count", type=int, default=None, help="only the first N clips")
    parser.add_argument("--fixtures", type=Path, help="write the two pipeline-test fixtures here")
    args = parser.parse_args()
    if args.fixtures:
        for path in write_fixtures(args.fixtures):
            print(path, f"{path.stat().st_size / 1024:.0f} KB")
    if args.set:
        if args.out is None:
            parser.error("--set needs --out")
        paths = write_set(args.set, args.out, args.count)
        print(f"{len(paths)} clips of set {args.set!r} in {args.out}")
    elif not args.fixtures:
        parser.error("give --set and --out, or --fixtures")


if __name__ == "__main__":
    main()
