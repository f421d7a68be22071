"""What the app shows: result tables, plotly figures, split metrics and the model card.

Plain functions of typed results (`Dialogue`, `DialoguePrediction`): no gradio here, so each can be
unit-tested without a server; the layout hands what they return to its components.
"""

from dataclasses import replace

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

EMOTION_COLORS = {  # one fixed colour per label so every chart reads the same
    "anger": "#d62728", "ang": "#d62728",
    "disgust": "#8c564b", "fru": "#8c564b",
    "fear": "#9467bd",
    "joy": "#ffbf00", "hap": "#ffbf00", "exc": "#ff7f0e",
    "neutral": "#9e9e9e", "neu": "#9e9e9e",
    "sadness": "#1f77b4", "sad": "#1f77b4",
    "surprise": "#2ca02c",
}
SOURCES = ("text", "audio", "video", "fused")  # bar groups of the per-utterance chart
SOURCE_COLORS = {"text": "#4c72b0", "audio": "#55a868", "video": "#c44e52", "fused": "#222222"}
NOT_LIVE = "not loaded"
PENDING = "pending"  # a cell (or chart series) whose part has not run yet in a streamed analysis
EDITABLE = ("speaker", "text")  # the only cells a person may change in the results table
CHART_HEIGHT = 380  # px
# Column order keeps what matters on a narrow screen: '#', speaker and emotion come first and are
# pinned (PINNED_COLUMNS), the long text wraps after them, times and per-part views follow.
COLUMNS = ("#", "speaker", "emotion", "gold", "confidence", "text", "start (s)", "end (s)", "text · audio · video", "α")
PREDICTION_COLUMNS = ("emotion", "confidence", "text · audio · video", "α")
PINNED_COLUMNS = 3  # '#', speaker, emotion
WIDTHS = {"#": "44px", "speaker": "96px", "emotion": "92px", "gold": "84px", "confidence": "124px", "text": "300px",
          "start (s)": "76px", "end (s)": "76px", "text · audio · video": "180px", "α": "72px"}
ANALYSIS_COLUMNS = [name for name in COLUMNS if name != "gold"]  # the analysis table (no gold labels)
STATIC_COLUMNS = [i for i, name in enumerate(ANALYSIS_COLUMNS) if name not in EDITABLE]
COLUMN_WIDTHS = [WIDTHS[name] for name in ANALYSIS_COLUMNS]
# A row is a span of the clip and the columns are the analysis: the cell menu must not add or delete
# either. Gradio 6.31 hides those entries only for a "fixed" row_count / column_count (its row_limits and
# column_limits are "not yet implemented": the page ignores them); the row count follows each analysis.
FIXED_SHAPE = dict(row_count=(0, "fixed"), column_count=(len(ANALYSIS_COLUMNS), "fixed"))


def _argmax(probabilities):
    return max(range(len(probabilities)), key=probabilities.__getitem__)


def _top(labels, probabilities, pending=False):
    if pending:
        return PENDING
    return labels[_argmax(probabilities)] if probabilities is not None else "—"


def results_frame(dialogue, prediction=None):
    """One row per utterance: span, speaker, text, the fused emotion and why (per modality, α)."""
    has_gold = any(u.label for u in dialogue)
    rows = []
    for index, utterance in enumerate(dialogue):
        row = {
            "#": index,
            "start (s)": round(utterance.start, 2),
            "end (s)": round(utterance.end, 2),
            "speaker": utterance.speaker,
            "text": utterance.text,
        }
        if prediction is not None:
            row.update(_prediction_cells(prediction, index))
        if has_gold:
            row["gold"] = utterance.label or ""
        rows.append(row)
    shown = set(rows[0]) if rows else set(ANALYSIS_COLUMNS[:1] + ["speaker", "text", "start (s)", "end (s)"])
    return pd.DataFrame(rows, columns=[name for name in COLUMNS if name in shown])


def empty_results_frame():
    """The table before any analysis: every column it will have, so the widths apply from the start."""
    return pd.DataFrame(columns=ANALYSIS_COLUMNS)


def _prediction_cells(prediction, index):
    """The prediction's cells of a row; while the fusion is pending, emotion, confidence and α say so."""
    result, labels = prediction.utterances[index], prediction.labels
    sources = [_top(labels, result.teacher), _top(labels, result.audio, "audio" in result.pending),
               _top(labels, result.video, "video" in result.pending)]
    fusing = "fusion" in result.pending
    return {
        "emotion": PENDING if fusing else result.label,
        "confidence": PENDING if fusing else round(result.confidence, 3),
        "text · audio · video": " · ".join(sources),
        "α": PENDING if fusing else "—" if result.alpha is None else round(result.alpha, 3),
    }


def read_edits(dialogue, frame):
    """The dialogue with the table's speaker/text cells applied, and the indices that changed.

    Rows are matched by their '#' cell, so sorting the table or adding stray rows is harmless.
    """
    utterances, changed = list(dialogue.utterances), []
    for _, row in pd.DataFrame(frame).iterrows():
        index = _row_index(row.get("#"), len(utterances))
        if index is None:
            continue
        speaker = str(row.get("speaker", "")).strip() or utterances[index].speaker
        text = str(row.get("text", ""))
        if (speaker, text) != (utterances[index].speaker, utterances[index].text):
            utterances[index] = replace(utterances[index], speaker=speaker, text=text)
            changed.append(index)
    return replace(dialogue, utterances=tuple(utterances)), sorted(changed)


def _row_index(cell, count):
    try:
        index = int(float(cell))
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < count else None


def utterance_figure(dialogue, prediction, index, drop=frozenset()):
    """Text, audio, video and fused probabilities per label, side by side, and the shift α.

    A modality in `drop` is still drawn (its student's own view) but marked as left out of the fusion.
    """
    result, labels = prediction.utterances[index], list(prediction.labels)
    figure = make_subplots(rows=1, cols=2, column_widths=[0.84, 0.16], horizontal_spacing=0.08,
                           subplot_titles=("probability per emotion", "shift α"))
    for source in SOURCES:
        values = _source_values(result, source)
        name = source if values is not None else f"{source} ({_why_absent(source, prediction.live)})"
        if _pending(result, source):
            values, name = None, f"{source} ({PENDING})"
        if source in drop:
            name = f"{source} (left out of the fusion)"
        figure.add_trace(go.Bar(
            x=labels, y=values if values is not None else [0.0] * len(labels), name=name,
            marker_color=SOURCE_COLORS[source], opacity=1.0 if values is not None else 0.25,
            hovertemplate=f"{source} %{{x}}: %{{y:.3f}}<extra></extra>",
        ), row=1, col=1)
    alpha = result.alpha
    figure.add_trace(go.Bar(
        x=["α"], y=[alpha or 0.0], marker_color="#7f7f7f", showlegend=False,
        text=[f"{alpha:.3f}" if alpha is not None else PENDING if _pending(result, "fused")
              else _why_absent("fusion", prediction.live)],
        textposition="outside",
        hovertemplate="α = %{y:.3f}<extra></extra>",
    ), row=1, col=2)
    utterance = dialogue[index]
    figure.update_layout(
        title=_utterance_title(utterance, result, index), barmode="group", height=CHART_HEIGHT,
        legend={"orientation": "h", "y": -0.18}, margin={"t": 80, "b": 40, "l": 40, "r": 20},
    )
    figure.update_yaxes(range=[0, 1], row=1, col=1)
    figure.update_yaxes(range=[0, 1.15], row=1, col=2)
    return figure


def _why_absent(source, live):
    """Why a source has no output: no trained weights, or nothing to feed it here."""
    if source not in live:
        return NOT_LIVE
    return "no cues to fuse" if source == "fusion" else "no clip"


def _pending(result, source):
    return (source if source != "fused" else "fusion") in result.pending


def _source_values(result, source):
    return {"text": result.teacher, "audio": result.audio, "video": result.video,
            "fused": result.fused}[source]


def _utterance_title(utterance, result, index):
    text = utterance.text if len(utterance.text) <= 60 else utterance.text[:57] + "…"
    gold = f" · gold {utterance.label}" if utterance.label else ""
    verdict = PENDING if "fusion" in result.pending else f"{result.label} ({result.confidence:.2f})"
    return f"#{index} {utterance.speaker}: “{text}” → {verdict}{gold}"


def timeline_figure(dialogue, prediction, title="Conversation timeline"):
    """Predicted emotion per utterance along time, one lane per speaker (index axis without times)."""
    timed = dialogue.duration > 0 and all(u.end > u.start for u in dialogue)
    figure = go.Figure()
    for label in prediction.labels:
        picked = [i for i, p in enumerate(prediction.utterances) if p.label == label]
        if not picked:
            continue
        figure.add_trace(go.Bar(
            y=[dialogue[i].speaker for i in picked],
            x=[dialogue[i].duration if timed else 0.9 for i in picked],
            base=[dialogue[i].start if timed else i - 0.45 for i in picked],
            orientation="h", name=label, marker_color=EMOTION_COLORS.get(label),
            text=[_timeline_text(dialogue[i], label) for i in picked], textposition="inside",
            customdata=[[i, dialogue[i].text, prediction.utterances[i].confidence] for i in picked],
            hovertemplate="#%{customdata[0]} %{y}: %{customdata[1]}<br>"
                          + label + " (%{customdata[2]:.2f})<extra></extra>",
        ))
    figure.update_layout(
        title=title, barmode="overlay", height=max(300, 170 + 60 * len(dialogue.speakers)),
        xaxis_title="time (s)" if timed else "utterance", legend_title="emotion",
        legend={"orientation": "h", "y": -0.35}, margin={"t": 50, "b": 40, "l": 80, "r": 20},
    )
    figure.update_yaxes(categoryorder="array", categoryarray=dialogue.speakers[::-1])
    return figure


def _timeline_text(utterance, label):
    if utterance.label and utterance.label != label:
        return f"{label} ✗ {utterance.label}"  # wrong against the gold label
    return label


def report_frame(report):
    """Per-class precision, recall, F1 (percent) and support of an EvaluationReport."""
    rows = [{"label": label, **{key: round(value, 2) if isinstance(value, float) else value
                                for key, value in scores.items()}}
            for label, scores in report.per_class.items()]
    return pd.DataFrame(rows)


def metrics_markdown(report):
    skipped = f" · {len(report.skipped)} clips skipped" if report.skipped else ""
    return (f"**{report.count} utterances** · weighted-F1 **{report.weighted_f1:.2f}** · "
            f"macro-F1 **{report.macro_f1:.2f}** · accuracy {report.accuracy:.2f} · "
            f"modalities: {', '.join(report.modalities)}{skipped}")


def confusion_figure(report, title="Confusion matrix (rows: gold, columns: predicted)"):
    matrix, labels = report.confusion, list(report.labels)
    shares = [[count / max(1, sum(row)) for count in row] for row in matrix]
    figure = go.Figure(go.Heatmap(
        z=shares, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=1,
        text=matrix, texttemplate="%{text}", colorbar={"title": "share of gold"},
        hovertemplate="gold %{y} → predicted %{x}: %{text}<extra></extra>",
    ))
    figure.update_layout(title=title, height=460, xaxis_title="predicted", yaxis_title="gold",
                         margin={"t": 50, "b": 40, "l": 80, "r": 20})
    figure.update_yaxes(autorange="reversed")
    return figure


def model_markdown(model, scores=None):
    """Which weights are loaded, how well they scored, and which modalities are live."""
    live = set(model.live_modalities)
    marks = " · ".join(f"{name} **{'live' if name in live else 'not loaded'}**"
                       for name in ("text", "audio", "video", "fusion"))
    notes = "".join(f"\n- {reason}" for reason in model.missing)
    source = getattr(model, "card", {}).get("source")
    measured = ""
    if scores:
        measured = (f" · measured on {scores.get('split', 'dev')} ({scores['count']:,} utterances): weighted-F1 "
                    f"**{scores['weighted_f1']:.2f}**, macro-F1 {scores['macro_f1']:.2f}")
    return (f"**Model:** `{model.name}`" + (f" ({source})" if source else "") + measured
            + f" · labels: {', '.join(model.labels)}\n\n**Modalities:** {marks}"
            + (f"\n\nNot loaded:{notes}" if notes else ""))


def caption_at(dialogue, prediction, time):
    """('speaker: emotion (confidence)', its colour) of the utterance spoken at `time` s, or None."""
    for index, utterance in enumerate(dialogue):
        if utterance.start <= time < utterance.end:
            result = prediction.utterances[index]
            return f"{utterance.speaker}: {result.label} ({result.confidence:.2f})", EMOTION_COLORS.get(result.label, "#ffffff")
    return None


def speaker_frame(dialogue, prediction):
    """Per speaker: utterances and the share (%) of each predicted emotion."""
    rows = []
    for speaker in dialogue.speakers:
        picked = [r.label for u, r in zip(dialogue, prediction.utterances) if u.speaker == speaker]
        shares = {label: round(100 * picked.count(label) / len(picked)) for label in prediction.labels}
        rows.append({"speaker": speaker, "utterances": len(picked), **{f"{k} %": v for k, v in shares.items()}})
    return pd.DataFrame(rows)
