"""scripts/soak_test.py in short: 20 sessions in a row through the studio's handlers stay bounded.

Memory growth only (no timing): RSS after round 20 within the script's limit of RSS after round
10, no session folder left behind, nothing left in the media store.
"""


import pytest

from conftest import load_script



@pytest.fixture(scope="module")
def soak_script():
    return load_script("soak_test")


@pytest.mark.slow
def test_twenty_sessions_in_a_row_keep_memory_and_disk_bounded(soak_script, tmp_path):
    from studio import launch, layout
    from studio.handlers import Studio

    services = launch.load_services(launch.parse_args(["--device", "cpu"]))  # TelME-mini, text only
    studio = Studio(services, example_transcript=layout.EXAMPLE_TRANSCRIPT)
    samples = soak_script.soak(studio, 20, report=lambda line: None)
    assert [number for number, _, _ in samples] == [10, 20]
    assert soak_script.growth(samples) <= soak_script.GROWTH_LIMIT_MB
    assert list(services.workspaces.root.iterdir()) == []  # every session's folder was removed
    assert services.store.bytes == 0 and services.recognizer.stats.teacher_rows > 0
