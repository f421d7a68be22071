"""Load test: N concurrent gradio_client users against a studio served on 127.0.0.1 only.

    PYTHONPATH=. python scripts/load_test.py [--users 8 20] [--weights W] [--json OUT]

Starts `python app.py` on a free loopback port (never another interface), then for each user
count starts that many users at once; each is its own session: /analyze the example clip with its
transcript (no ASR), then /export (a light action). Meanwhile one prober picks an utterance
(/show_utterance, light group) every half second, to show light actions do not queue behind the
analyses. Reports per run: served, "queue full", other errors, and latency min / median / p90 /
max. Everything is bounded: at most MAX_USERS users, each call times out, the server is stopped.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "assets" / "example_conversation.mp4"
TRANSCRIPT = ROOT / "assets" / "example_conversation.srt"
MAX_USERS = 64
CALL_TIMEOUT = 300  # s per user (analyse + export)
SERVER_START = 180  # s
ready = threading.Event()  # set once the prober's own analysis is done


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(weights, log):
    port = free_port()
    command = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    process = subprocess.Popen(command + (["--weights", weights] if weights else []), cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return process, url
        except OSError:
            time.sleep(1)
    process.terminate()
    raise RuntimeError(f"app.py did not answer on {url} within {SERVER_START} s")


def user(url, results, index):
    """One session: analyse the example, then export; records (outcome, seconds, detail)."""
    from gradio_client import Client, handle_file

    started = time.perf_counter()
    try:
        client = Client(url, verbose=False, download_files=False)
        client.predict(handle_file(str(CLIP)), None, handle_file(str(TRANSCRIPT)), "detect", api_name="/analyze")
        client.predict(api_name="/export")
        results[index] = ("served", time.perf_counter() - started, "")
    except Exception as error:  # the outcome is what is measured: a full queue or any failure
        outcome = "queue full" if "queue" in str(error).lower() and "full" in str(error).lower() else "error"
        results[index] = (outcome, time.perf_counter() - started, f"{type(error).__name__}: {str(error)[:200]}")


def prober(url, stop, latencies):
    """A session that analysed once, then picks an utterance every 0.5 s while the users run."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=False)
    client.predict(handle_file(str(CLIP)), None, handle_file(str(TRANSCRIPT)), "detect", api_name="/analyze")
    ready.set()
    while not stop.is_set():
        started = time.perf_counter()
        client.predict(1, api_name="/show_utterance")
        latencies.append(time.perf_counter() - started)
        stop.wait(0.5)


def summary(values):
    if not values:
        return {}
    ordered = sorted(values)
    return {"min": round(ordered[0], 2), "median": round(statistics.median(ordered), 2),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2), "max": round(ordered[-1], 2)}


def run(url, users):
    results, probes, stop = [None] * users, [], threading.Event()
    probe = threading.Thread(target=prober, args=(url, stop, probes), daemon=True)
    ready.clear()
    probe.start()
    ready.wait(CALL_TIMEOUT)
    threads = [threading.Thread(target=user, args=(url, results, i), daemon=True) for i in range(users)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT)
    wall = time.perf_counter() - started
    stop.set()
    probe.join(30)
    done = [r for r in results if r is not None]
    outcome = {kind: sum(r[0] == kind for r in done) for kind in ("served", "queue full", "error")}
    outcome["unfinished"] = users - len(done)
    return {"users": users, **outcome, "wall_s": round(wall, 1),
            "latency_s": summary([r[1] for r in done if r[0] == "served"]),
            "light_show_utterance_s": summary(probes), "light_probes": len(probes),
            "errors": sorted({r[2] for r in done if r[0] == "error"})[:5]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[8, 20])
    parser.add_argument("--weights", default=None, help="default: checkpoints/telme-mini-meld")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--log", type=Path, default=Path("runs/load_test_server.log"))
    args = parser.parse_args(argv)
    if max(args.users) > MAX_USERS:
        parser.error(f"at most {MAX_USERS} users")
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "w") as log:
        process, url = start_server(args.weights, log)
        try:
            reports = []
            for users in args.users:
                reports.append(run(url, users))
                print(json.dumps(reports[-1]))
        finally:
            process.terminate()
            process.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
