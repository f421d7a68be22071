"""Measure inference speed and memory: TelME-mini on MELD dev, edit recompute, full-size stages.

    python scripts/bench_inference.py [--device cpu|cuda] [--weights W] [--meld-dev CSV]
                                      [--dialogues N] [--full-size] [--compare-precision]
                                      [--golden DIR] [--json OUT]

1. throughput: `Recognizer.run_dialogue` over the first N MELD dev dialogues, micro-batches of 8
   versus one forward per utterance (fresh caches, one warm-up dialogue first).
2. edit recompute: one dialogue of >= 10 utterances, cold run, then its last and its first
   utterance's text edited; times, teacher rows recomputed, ratios to the cold run.
3. full size (--full-size; default on with --device cuda): the official part shapes (roberta-large,
   data2vec-audio-base, TimeSformer-base) with RANDOM weights on one synthetic dialogue, timed per
   stage. Timing only: its predictions mean nothing and are never printed.
4. --compare-precision (with --full-size): the same synthetic dialogue through today's path
   (fp32, micro-batches of 8) and the fast one (bf16, weights pre-cast, per-part micro-batches),
   side by side: seconds per stage, ratios, peak RSS of each path, the largest change in fused
   (and per-part) probabilities; and the same change on the golden checkpoints (--golden).
Speed depends on the machine's load: quote ratios measured in one run.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TELME_SHARED", ROOT.parent / "shared"))
DEFAULT_MELD_DEV = SHARED / "data" / "meld" / "dev_sent_emo.csv"
DEFAULT_GOLDEN = SHARED / "reference" / "golden"
BATCHED, SINGLE = 8, 1  # utterances per backbone forward
MIN_EDIT_UTTERANCES = 10
FULL_UTTERANCES = 8
FULL_AUDIO_SECONDS = 3.0  # s per utterance
FULL_SAMPLE_RATE = 22_050  # Hz, the official profile's audio rate
FULL_FRAMES, FULL_IMAGE = 8, 224  # frames per utterance, px (square)
STAGES = ("teacher", "audio", "video", "fusion")
RANDOM_WARNING = "FULL-SIZE MODEL HAS RANDOM WEIGHTS: timing only, its predictions mean nothing"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device) -> dict:
    import torch

    env = {"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
           "cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
           "date": datetime.datetime.now().isoformat(timespec="seconds"), "load_average": os.getloadavg()}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def memory(device) -> dict:
    """Peak RSS of the process so far (MB) and, on CUDA, the peak allocated since the last reset."""
    import torch

    result = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        result["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        torch.cuda.reset_peak_memory_stats(device)
    return result


def peak_rss_mb() -> float:
    """The process's peak resident memory (MB): VmHWM, which reset_peak_rss() can reset."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def reset_peak_rss() -> bool:
    """Start a new peak-RSS window (Linux: write 5 to /proc/self/clear_refs); False if impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def timed_run(recognizer, dialogue, media=None, progress=None, keep=None) -> float:
    import torch

    started = time.perf_counter()
    prediction = recognizer.run_dialogue(dialogue, media, progress=progress)
    if recognizer.device.type == "cuda":
        torch.cuda.synchronize(recognizer.device)
    if keep is not None:
        keep.append(prediction)
    return time.perf_counter() - started


def warmed(model, device, batch_size, dialogue):
    """A Recognizer that has run `dialogue` once (first-call costs paid), caches and counters empty."""
    from telme.inference import Recognizer

    recognizer = Recognizer(model, device=device, batch_size=batch_size)
    timed_run(recognizer, dialogue)
    recognizer.clear_cache()
    recognizer.stats.reset()
    return recognizer


def bench_throughput(model, dialogues, device) -> dict:
    """Utterances per second, micro-batches of 8 vs one per utterance; the two alternate per
    dialogue (which goes first alternates too) so that a change in machine load hits both alike."""
    recognizers = {size: warmed(model, device, size, dialogues[0]) for size in (BATCHED, SINGLE)}
    seconds = dict.fromkeys(recognizers, 0.0)
    for number, dialogue in enumerate(dialogues):
        for size in (BATCHED, SINGLE) if number % 2 == 0 else (SINGLE, BATCHED):
            seconds[size] += timed_run(recognizers[size], dialogue)
    utterances = sum(len(dialogue) for dialogue in dialogues)
    rows = {size: {"batch_size": size, "seconds": round(seconds[size], 3), "utterances": utterances,
                   "utterances_per_s": round(utterances / seconds[size], 2),
                   "teacher_forwards": recognizers[size].stats.teacher_forwards} for size in recognizers}
    return {"dialogues": len(dialogues), "batched": rows[BATCHED], "single": rows[SINGLE],
            "speedup": round(seconds[SINGLE] / seconds[BATCHED], 2), **memory(device)}


def with_text(dialogue, index, text):
    utterances = list(dialogue.utterances)
    utterances[index] = dataclasses.replace(utterances[index], text=text)
    return dataclasses.replace(dialogue, utterances=utterances)


def bench_edits(model, dialogue, warmup, device, repeat) -> dict:
    """Cold run, then the last utterance edited, then the first (on top of that); each sequence
    starts from empty caches and is repeated: median seconds, teacher rows recomputed."""
    last = len(dialogue) - 1
    last_edited = with_text(dialogue, last, dialogue[last].text + " Really?")
    steps = {"cold": dialogue, "edit last": last_edited,
             "edit first": with_text(last_edited, 0, "Well, " + dialogue[0].text)}
    recognizer = warmed(model, device, BATCHED, warmup)
    seconds, stats = {name: [] for name in steps}, {}
    for _ in range(repeat):
        recognizer.clear_cache()
        for name, version in steps.items():
            recognizer.stats.reset()
            seconds[name].append(timed_run(recognizer, version))
            stats[name] = dataclasses.replace(recognizer.stats)
    cold = float(np.median(seconds["cold"]))
    runs = [{"run": name, "seconds": round(float(np.median(times)), 4), "all_seconds": [round(t, 4) for t in times],
             "teacher_rows": stats[name].teacher_rows, "teacher_forwards": stats[name].teacher_forwards,
             "ratio_to_cold": round(float(np.median(times)) / cold, 3)} for name, times in seconds.items()]
    return {"source": dialogue.source, "utterances": len(dialogue), "repeat": repeat, "runs": runs, **memory(device)}


def tiny_model():
    from telme.checkpoints.tiny import tiny_model as build

    return build()


def full_size_model():
    """The official part shapes (shipped configs, no Hub) with RANDOM weights, marked live for timing."""
    import torch

    from telme.checkpoints.tiny import build_model
    from telme.features.profiles import OFFICIAL
    from telme.features.text import OfficialRobertaTokenizer
    from telme.labels import MELD_LABELS
    from telme.models.configs import (
        official_audio_config,
        official_fusion_config,
        official_teacher_config,
        official_video_config,
    )

    torch.manual_seed(0)
    configs = {"teacher": official_teacher_config(), "audio": official_audio_config(),
               "video": official_video_config(), "fusion": official_fusion_config("meld")}
    trained = dict.fromkeys(configs, True)  # a lie for timing only: every part must run
    model = build_model(configs, MELD_LABELS, OFFICIAL, OfficialRobertaTokenizer.default(), trained,
                        name="telme-official-shapes-RANDOM")
    model.card = {"source": RANDOM_WARNING}
    return model


def synthetic_dialogue(count, seconds=FULL_AUDIO_SECONDS):
    from telme.dialogue import Dialogue, Utterance

    lines = ["I can't believe you did that!", "What do you mean? I was only trying to help.",
             "Oh come on, you knew exactly what would happen.", "Fine. Next time I'll just stay home."]
    utterances = [Utterance(start=i * seconds, end=(i + 1) * seconds, speaker="AB"[i % 2],
                            text=lines[i % len(lines)] + f" ({i})") for i in range(count)]
    return Dialogue(utterances=utterances, source="synthetic", duration=count * seconds)


@dataclasses.dataclass
class SyntheticMedia:
    audio: np.ndarray  # (samples,) float32 mono at FULL_SAMPLE_RATE
    frames: np.ndarray  # (FULL_FRAMES, S, S, 3) uint8 RGB


def synthetic_media(count, seed, image=FULL_IMAGE, seconds=FULL_AUDIO_SECONDS) -> list:
    rng = np.random.default_rng(seed)
    samples = int(seconds * FULL_SAMPLE_RATE)
    return [SyntheticMedia(audio=(0.1 * rng.standard_normal(samples)).astype(np.float32),
                           frames=rng.integers(0, 256, (FULL_FRAMES, image, image, 3), dtype=np.uint8))
            for _ in range(count)]


def stage_seconds(started, events) -> dict:
    """Seconds per stage: from the previous stage's last progress report to this one's."""
    result, previous = {}, started
    for stage in STAGES:
        if stage in events:
            result[stage] = round(events[stage] - previous, 3)
            previous = events[stage]
    result["total"] = round(previous - started, 3)
    return result


def bench_full_size(model, device, count=FULL_UTTERANCES, precision=None, batch_size=BATCHED, keep=None) -> dict:
    """Stage times of one synthetic dialogue (after a one-utterance warm-up) and peak memory."""
    from telme.inference import Recognizer

    recognizer = Recognizer(model, device=device, batch_size=batch_size, precision=precision)
    timed_run(recognizer, synthetic_dialogue(1), synthetic_media(1, seed=1))
    recognizer.clear_cache()
    recognizer.stats.reset()
    events, cpu_events = {}, {}

    def progress(step, done, total):
        events[step], cpu_events[step] = time.perf_counter(), time.process_time()

    started, cpu_started = time.perf_counter(), time.process_time()
    seconds = timed_run(recognizer, synthetic_dialogue(count), synthetic_media(count, seed=2), progress=progress,
                        keep=keep)
    stats = dataclasses.asdict(recognizer.stats)
    return {"warning": RANDOM_WARNING, "utterances": count, "audio_s": FULL_AUDIO_SECONDS,
            "frames": FULL_FRAMES, "image_px": FULL_IMAGE, "seconds": round(seconds, 3),
            "precision": recognizer.precision, "batch_sizes": recognizer.batch_sizes,
            "stages_s": stage_seconds(started, events), "stages_cpu_s": stage_seconds(cpu_started, cpu_events),
            "stats": stats, **memory(device), "vm_hwm_mb": peak_rss_mb()}


def bench_compare_precision(model, device, count=FULL_UTTERANCES) -> dict:
    """Today's path (fp32, batches of 8) then the fast one (bf16, default micro-batches) on the
    same dialogue; the fast Recognizer casts the backbones to bf16 in place, so it runs second."""
    from telme.inference import autocast_dtype

    if autocast_dtype(device, "bf16") is None:
        return {"skipped": f"no native bf16 on this {device.type}: nothing to compare"}
    predictions, paths = [], {}
    for name, precision, batch_size in (("before", "fp32", BATCHED), ("after", "bf16", None)):
        reset_peak_rss()
        paths[name] = bench_full_size(model, device, count, precision=precision, batch_size=batch_size,
                                      keep=predictions)
    before, after = paths["before"]["stages_s"], paths["after"]["stages_s"]
    ratios = {stage: round(before[stage] / after[stage], 2) for stage in before if after.get(stage)}
    cpu_before, cpu_after = paths["before"]["stages_cpu_s"], paths["after"]["stages_cpu_s"]
    cpu_ratios = {stage: round(cpu_before[stage] / cpu_after[stage], 2) for stage in cpu_before if cpu_after.get(stage)}
    per_utterance = {name: round(path["stages_s"]["total"] / count, 3) for name, path in paths.items()}
    return {**paths, "ratios": ratios, "cpu_time_ratios": cpu_ratios, "per_utterance_s": per_utterance,
            "max_prob_change": probability_changes(*predictions), "rss_window_reset": reset_peak_rss()}


def probability_changes(reference, other) -> dict:
    """Largest absolute change of any probability, per part (fused, teacher, audio, video)."""
    changes = {}
    for part in ("fused", "teacher", "audio", "video"):
        pairs = [(getattr(a, part), getattr(b, part)) for a, b in zip(reference.utterances, other.utterances)]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if pairs:
            changes[part] = float(np.max(np.abs(np.array([a for a, _ in pairs]) - np.array([b for _, b in pairs]))))
    return changes


def golden_outputs(model, io, device) -> dict:
    """Every golden output the loaded parts can give (a golden subset may lack some parts)."""
    outputs = {}
    outputs["teacher_hidden"], outputs["teacher_logits"] = model.teacher(io["input_ids"].to(device),
                                                                         io["attention_mask"].to(device))
    for part, inputs in (("audio", "audio_values"), ("video", "pixel_values")):
        if model.part(part) is not None:
            outputs[f"{part}_hidden"], outputs[f"{part}_logits"] = model.part(part)(io[inputs].to(device))
    if model.fusion is not None and "audio_hidden" in outputs and "video_hidden" in outputs:
        hidden = (outputs[f"{part}_hidden"].float() for part in ("teacher", "audio", "video"))
        outputs["fused_logits"] = model.fusion(*hidden)
    return outputs


def golden_fidelity(golden: Path, device) -> dict:
    """The golden checkpoints (tiny official-layout parts) on the golden inputs: fp32 against the
    official outputs, and bf16 (pre-cast weights, fast video layers + autocast, as the Recognizer runs) against fp32."""
    import torch

    from telme.checkpoints import load_official
    from telme.inference import autocast_dtype
    from telme.inference.precision import cast_weights, use_fast_video

    if not (golden / "golden_io.pt").is_file():
        return {"skipped": f"golden reference {golden} not found"}
    configs = json.loads((golden / "configs.json").read_text())
    backbones = {part: configs[f"{name}_backbone"] for part, name in
                 (("teacher", "text"), ("audio", "audio"), ("video", "video"))}
    io = torch.load(golden / "golden_io.pt", weights_only=True)
    outputs = {}
    for precision in ("fp32", "bf16"):
        dtype = autocast_dtype(device, precision)
        if precision == "bf16" and dtype is None:
            break
        model = load_official(golden / "save_model", dataset="meld", backbones=backbones)
        cast_weights(model, dtype)
        use_fast_video(model, enabled=dtype == torch.bfloat16)
        model.to(device).eval()
        autocast = torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)
        with torch.inference_mode(), autocast:
            outputs[precision] = golden_outputs(model, io, device)
        outputs[precision] = {name: value.float().cpu() for name, value in outputs[precision].items()}
    fp32 = outputs["fp32"]
    result = {"device": str(device), "outputs_checked": sorted(fp32),
              "fp32_max_abs_diff_vs_official": max((fp32[name] - io[name]).abs().max().item() for name in fp32)}
    if "bf16" in outputs:
        bf16 = outputs["bf16"]
        result["bf16_max_prob_change"] = {
            name.split("_")[0]: (bf16[name].softmax(-1) - fp32[name].softmax(-1)).abs().max().item()
            for name in ("fused_logits", "teacher_logits", "audio_logits", "video_logits") if name in fp32}
    else:
        result["bf16_max_prob_change"] = f"skipped: no native bf16 on this {device.type}"
    return result


def parameters_m(model) -> dict:
    return {part: round(sum(p.numel() for p in module.parameters()) / 1e6, 1)
            for part, module in model.parts().items()}


def print_report(results):
    env = results["environment"]
    print(f"# bench_inference {env['date']}  device={env['device']}  torch={env['torch']}  "
          f"threads={env['threads']}  cpu={env['cpu']} ({env['cores']} cores)  load={env['load_average']}")
    if env.get("gpu"):
        print(f"# gpu: {env['gpu']}")
    for note in results["notes"]:
        print(f"# NOTE: {note}")
    if "throughput" in results:
        t = results["throughput"]
        print(f"\n## 1. {results['mini']['name']} on MELD dev, {t['dialogues']} dialogues, "
              f"{t['batched']['utterances']} utterances (params M: {results['mini']['params_m']})")
        print(f"{'batch':>6} {'seconds':>9} {'utt/s':>8} {'forwards':>9}")
        for row in (t["batched"], t["single"]):
            print(f"{row['batch_size']:>6} {row['seconds']:>9.3f} {row['utterances_per_s']:>8.2f} "
                  f"{row['teacher_forwards']:>9}")
        print(f"speed-up batch {BATCHED} vs {SINGLE}: x{t['speedup']}   {_memory_text(t)}")
    if "edits" in results:
        e = results["edits"]
        print(f"\n## 2. edit recompute, {e['source']} ({e['utterances']} utterances, "
              f"max {results['mini']['max_text_tokens']} prompt tokens), median of {e['repeat']}")
        print(f"{'run':<11} {'seconds':>9} {'teacher rows':>13} {'vs cold':>8}")
        for run in e["runs"]:
            print(f"{run['run']:<11} {run['seconds']:>9.4f} {run['teacher_rows']:>13} {run['ratio_to_cold']:>8.3f}")
    if "full_size" in results:
        _print_full_size(results["full_size"], results["full_size_build"])
    if "full_size_cpu" in results:
        c = results["full_size_cpu"]
        print(f"\nsame dialogue on the CPU ({c['precision']}): {c['seconds']:.3f} s, stages {c['stages_s']}; "
              f"CPU / {results['environment']['device']}: x{results['cpu_over_device']}")
    if "compare_precision" in results:
        _print_comparison(results["compare_precision"], results["full_size_build"])
    if "golden_fidelity" in results:
        g = results["golden_fidelity"]
        print(f"\n## 5. golden checkpoints on {g.get('device', '-')}: {g.get('skipped', '')}")
        if "skipped" not in g:
            print(f"fp32 vs official outputs: max abs diff {g['fp32_max_abs_diff_vs_official']:.2e}")
            print(f"bf16 vs fp32, largest probability change: {_changes_text(g['bf16_max_prob_change'])}")


def _memory_text(section) -> str:
    text = f"peak RSS so far {section['peak_rss_mb']:.0f} MB"
    if "cuda_peak_allocated_mb" in section:
        text += f", CUDA peak allocated {section['cuda_peak_allocated_mb']:.0f} MB"
    return text


def _print_full_size(f, build):
    print(f"\n## 3. full-size TelME shapes (params M: {build['params_m']})\n!!! {f['warning']} !!!")
    print(f"built from the shipped configs in {build['seconds']:.1f} s; {_memory_text(build)}")
    print(f"one synthetic dialogue: {f['utterances']} utterances x ({f['audio_s']} s audio at "
          f"{FULL_SAMPLE_RATE} Hz + {f['frames']} frames {f['image_px']}x{f['image_px']})")
    print(f"{'stage':<8} {'seconds':>9}")
    for stage, seconds in f["stages_s"].items():
        print(f"{stage:<8} {seconds:>9.3f}")
    print(f"precision {f['precision']}, batches {f['batch_sizes']}: {f['utterances'] / f['seconds']:.2f} utterances/s")
    print(f"forwards: {f['stats']}\nafter warm-up + run: {_memory_text(f)}")


def _changes_text(changes) -> str:
    if isinstance(changes, str):
        return changes
    return "  ".join(f"{part} {value:.4f}" for part, value in changes.items())


def _print_comparison(c, build):
    print(f"\n## 4. precision, before/after on the full-size shapes (params M: {build['params_m']})")
    if "skipped" in c:
        print(c["skipped"])
        return
    print(f"!!! {c['before']['warning']} !!!")
    before, after = c["before"], c["after"]
    print(f"before: {before['precision']}, batches {before['batch_sizes']}\nafter:  {after['precision']}, "
          f"batches {after['batch_sizes']}, backbone weights stored in bf16")
    print("wall = seconds on the clock; cpu = CPU seconds of this process (less sensitive to other load)")
    print(f"{'stage':<8} {'before s':>9} {'after s':>9} {'ratio':>7} {'cpu before':>11} {'cpu after':>10} {'ratio':>7}")
    nan = float("nan")
    for stage, seconds in before["stages_s"].items():
        print(f"{stage:<8} {seconds:>9.3f} {after['stages_s'].get(stage, nan):>9.3f} "
              f"{c['ratios'].get(stage, nan):>7.2f} "
              f"{before['stages_cpu_s'].get(stage, nan):>11.3f} {after['stages_cpu_s'].get(stage, nan):>10.3f} "
              f"{c['cpu_time_ratios'].get(stage, nan):>7.2f}")
    print(f"per utterance: {c['per_utterance_s']['before']:.3f} s -> {c['per_utterance_s']['after']:.3f} s")
    print(f"peak RSS: before {before['vm_hwm_mb']:.0f} MB, after {after['vm_hwm_mb']:.0f} MB"
          + ("" if c["rss_window_reset"] else " (could not reset the peak between paths)"))
    print(f"largest probability change after vs before: {_changes_text(c['max_prob_change'])}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: choose_device()")
    parser.add_argument("--weights", default=None, help="TelME-mini bundle (default checkpoints/telme-mini-meld)")
    parser.add_argument("--meld-dev", type=Path, default=DEFAULT_MELD_DEV, help="MELD dev_sent_emo.csv")
    parser.add_argument("--dialogues", type=int, default=20, help="first N dev dialogues for throughput")
    parser.add_argument("--full-size", action=argparse.BooleanOptionalAction, default=None,
                        help="time the official shapes (default: only on CUDA)")
    parser.add_argument("--utterances", type=int, default=FULL_UTTERANCES, help="full size: utterances in the dialogue")
    parser.add_argument("--cpu-ratio", action="store_true",
                        help="full size on CUDA: the same dialogue on the CPU too (fp32, a fresh model)")
    parser.add_argument("--tiny", action="store_true",
                        help="full-size sections on a tiny random model (dry runs of the code path; no timing)")
    parser.add_argument("--compare-precision", action="store_true",
                        help="full size: today's fp32 path vs bf16 (pre-cast, per-part micro-batches), side by side")
    parser.add_argument("--precision", default=None, help="precision of the plain full-size section (default: auto)")
    parser.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN,
                        help="golden checkpoints folder for the fidelity check (with --compare-precision)")
    parser.add_argument("--repeat", type=int, default=3, help="edit sequences (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    return parser.parse_args(argv)


def bench_mini(args, device, results):
    from telme.checkpoints import load_model
    from telme.data import read_meld_csv

    if not args.meld_dev.is_file():
        results["notes"].append(f"MELD dev split not found at {args.meld_dev}: sections 1-2 skipped")
        return
    model = load_model(args.weights)
    results["mini"] = {"name": model.name, "live": list(model.live_modalities), "params_m": parameters_m(model),
                       "max_text_tokens": model.profile.max_text_tokens}
    dialogues = read_meld_csv(args.meld_dev)
    results["throughput"] = bench_throughput(model, dialogues[: args.dialogues], device)
    long = next((d for d in dialogues if len(d) >= MIN_EDIT_UTTERANCES), None)
    if long is None:
        results["notes"].append(f"no dev dialogue has {MIN_EDIT_UTTERANCES} utterances: section 2 skipped")
    else:
        results["edits"] = bench_edits(model, long, dialogues[0], device, args.repeat)


def main(argv=None) -> dict:
    import torch

    from telme.inference import choose_device

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = choose_device(args.device)
    results = {"environment": environment(device), "notes": [], **memory(device)}
    bench_mini(args, device, results)
    if args.compare_precision:
        results["golden_fidelity"] = golden_fidelity(args.golden, device)
    if args.compare_precision or (args.full_size if args.full_size is not None else device.type == "cuda"):
        build = tiny_model if args.tiny else full_size_model
        started = time.perf_counter()
        model = build()
        results["full_size_build"] = {"seconds": round(time.perf_counter() - started, 2), **memory(device),
                                      "params_m": parameters_m(model), "tiny": args.tiny}
        if args.compare_precision:
            results["compare_precision"] = bench_compare_precision(model, device, args.utterances)
        else:
            results["full_size"] = bench_full_size(model, device, args.utterances, precision=args.precision,
                                                   batch_size=None)
        if args.cpu_ratio and device.type != "cpu":
            del model
            cpu = torch.device("cpu")
            results["full_size_cpu"] = bench_full_size(build(), cpu, args.utterances, precision="fp32")
            results["cpu_over_device"] = round(results["full_size_cpu"]["seconds"] / results["full_size"]["seconds"], 1)
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"\nwrote {args.json}")
    return results


if __name__ == "__main__":
    main()
