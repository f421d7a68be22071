"""What the studio writes for download: CSV tables and the `telme-analysis/1` JSON.

The JSON is exactly `ClipAnalysis.to_dict()`, what `python -m telme analyze` writes, with `source`
reduced to the file's name (an upload's server path would let anyone fetch the cached file).
Every CSV goes through `write_csv`, which neutralises spreadsheet formulas (OWASP CSV injection).
"""

import csv
import json

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs cells starting with these
SOURCES = ("text", "audio", "video", "fused")  # the per-utterance probability groups, as in the charts


def safe_cell(value):
    """A CSV cell that no spreadsheet runs as a formula: text starting with = + - @ tab CR gets a '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value  # numbers (negative ones too), None and booleans are written as they are


def write_csv(records, path, columns=None):
    """`records` (dicts) as a CSV at `path`, every text cell passed through `safe_cell`."""
    records = list(records)
    columns = list(columns or (records[0] if records else []))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[safe_cell(name) for name in columns], extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({safe_cell(name): safe_cell(record.get(name)) for name in columns})
    return path


def _probabilities(result, source):
    return {"text": result.teacher, "audio": result.audio, "video": result.video, "fused": result.fused}[source]


def analysis_records(dialogue, prediction):
    """One flat dict per utterance with every probability (`fused_joy`, ...), for the CSV."""
    records = []
    for index, utterance in enumerate(dialogue):
        result = prediction.utterances[index]
        record = {"index": index, "start": utterance.start, "end": utterance.end,
                  "speaker": utterance.speaker, "text": utterance.text, "gold": utterance.label,
                  "emotion": result.label, "confidence": result.confidence, "alpha": result.alpha}
        for source in SOURCES:
            values = _probabilities(result, source)
            for label, value in zip(prediction.labels, values or [None] * len(prediction.labels)):
                record[f"{source}_{label}"] = value
        records.append(record)
    return records


def analysis_dict(dialogue, prediction, model, source_name):
    """The `telme-analysis/1` payload of an analysis; `source` is `source_name`, never a path."""
    from dataclasses import replace

    from telme.inference import ClipAnalysis

    named = replace(dialogue, source=source_name)
    return ClipAnalysis(dialogue=named, prediction=prediction, model=dict(model)).to_dict()


def write_json(payload, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False)
    return path
