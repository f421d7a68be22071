"""`telme fetch-official`: a local tarball in the official layout (the tiny golden checkpoints for
MELD, a tiny random IEMOCAP release beside them) becomes loadable bundles; hostile tarballs are
refused before anything is written; the download goes through a stand-in for gdown."""

import io
import json
import tarfile

import pytest
import torch

from telme.checkpoints import OFFICIAL_FILES, load_bundle, load_official
from telme.checkpoints import fetch as fetch_module
from telme.checkpoints.fetch import DRIVE_FILE_ID, FetchError, UnsafeArchive, fetch_official
from telme.checkpoints.official import official_configs
from telme.checkpoints.tiny import build_model
from telme.labels import IEMOCAP_LABELS

GOLDEN_VOCAB = 1009  # the golden teacher's embedding rows (1000 + 9 speaker tokens)


def golden_backbones(golden):
    configs = json.loads((golden / "configs.json").read_text())
    return {"teacher": configs["text_backbone"], "audio": configs["audio_backbone"], "video": configs["video_backbone"]}


def iemocap_release(golden, folder):
    """A random IEMOCAP release with the golden backbones (6 labels, 4 fusion heads), official layout."""
    torch.manual_seed(5)
    configs = official_configs("iemocap", golden_backbones(golden))
    configs["teacher"].vocab_size = GOLDEN_VOCAB
    model = build_model(configs, IEMOCAP_LABELS)
    for part, name in OFFICIAL_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.part(part).state_dict(), folder / name)
    return folder


@pytest.fixture
def golden(reference_dir):
    return reference_dir / "golden"


@pytest.fixture
def release_tarball(golden, tmp_path_factory):
    """The authors' layout, MELD/save_model/... and IEMOCAP/save_model/..., built once per test
    session; not compressed, to save the CPU (tarfile reads .tar and .tar.gz alike, see below)."""
    work = tmp_path_factory.getbasetemp() / "official-release"
    path = work / "model.tar"
    if not path.is_file():
        iemocap = iemocap_release(golden, work / "iemocap")
        with tarfile.open(work / "building.tar", "w") as tar:
            tar.add(golden / "save_model", arcname="MELD/save_model")
            tar.add(iemocap, arcname="IEMOCAP/save_model")
        (work / "building.tar").rename(path)
    return path


def fused_probs(model, io_tensors):
    with torch.inference_mode():
        text, _ = model.teacher(io_tensors["input_ids"], io_tensors["attention_mask"])
        audio, _ = model.audio(io_tensors["audio_values"])
        video, _ = model.video(io_tensors["pixel_values"])
        return model.fusion(text, audio, video).softmax(-1)


def test_local_tarball_becomes_two_loadable_bundles(golden, release_tarball, tmp_path, capsys):
    to = tmp_path / "weights"
    targets = fetch_official(to, archive=release_tarball, backbones=golden_backbones(golden))
    assert sorted(p.name for p in to.iterdir()) == ["telme-iemocap", "telme-meld"]  # no .partial left
    meld, iemocap = load_bundle(targets["meld"]), load_bundle(targets["iemocap"])
    assert meld.live_modalities == iemocap.live_modalities == ("text", "audio", "video", "fusion")
    assert len(meld.labels) == 7 and iemocap.labels == IEMOCAP_LABELS
    assert iemocap.fusion.cfg.num_heads == 4 and meld.fusion.cfg.num_heads == 3
    io_tensors = torch.load(golden / "golden_io.pt", weights_only=True)
    expected = io_tensors["fused_logits"].softmax(-1)
    assert (fused_probs(meld, io_tensors) - expected).abs().max().item() <= 1e-5  # the golden outputs, exactly
    official = load_official(golden / "save_model", backbones=golden_backbones(golden))
    for name, tensor in official.teacher.state_dict().items():
        assert torch.equal(meld.teacher.state_dict()[name], tensor), name


def test_half_storage_is_fp16_on_disk_and_close_to_fp32(golden, release_tarball, tmp_path):
    from safetensors import safe_open

    targets = fetch_official(tmp_path / "w", datasets=("meld",), archive=release_tarball, half=True,
                             backbones=golden_backbones(golden))
    with safe_open(str(targets["meld"] / "model.safetensors"), "pt") as handle:
        assert handle.get_tensor("video.W.weight").dtype == torch.float16
    model = load_bundle(targets["meld"])
    assert model.card["storage"] == "fp16" and next(model.video.parameters()).dtype == torch.float32
    io_tensors = torch.load(golden / "golden_io.pt", weights_only=True)
    change = (fused_probs(model, io_tensors) - io_tensors["fused_logits"].softmax(-1)).abs().max().item()
    assert 0 < change <= 1e-2, change  # rounded, so not exact, but close


def test_release_that_does_not_fit_the_full_size_configs_is_refused_and_nothing_written(release_tarball, tmp_path):
    """Without the tiny backbones the shapes are the full-size ones: the tiny golden files do not fit."""
    to = tmp_path / "weights"
    layout = r"does not fit the official layout \(MELD/save_model/teacher.bin: 352 missing"
    with pytest.raises(FetchError, match=layout):
        fetch_official(to, datasets=("meld",), archive=release_tarball)
    assert not to.exists()


def test_existing_bundle_is_not_overwritten(release_tarball, tmp_path):
    (tmp_path / "telme-meld").mkdir()
    with pytest.raises(FetchError, match="already exists"):
        fetch_official(tmp_path, datasets=("meld",), archive=release_tarball)


def hostile_tarball(path, member: tarfile.TarInfo, payload=b"x"):
    """A tarball whose first member is harmless and whose second is `member`."""
    with tarfile.open(path, "w") as tar:
        harmless = tarfile.TarInfo("MELD/save_model/teacher.bin")
        harmless.size = 4
        tar.addfile(harmless, io.BytesIO(b"safe"))
        if member.isfile():
            member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))
        else:
            tar.addfile(member)
    return path


def link(name, target, kind):
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, target
    return member


def device(name):
    member = tarfile.TarInfo(name)
    member.type = tarfile.CHRTYPE
    return member


@pytest.mark.parametrize("member, reason", [
    (tarfile.TarInfo("MELD/save_model/../../../escaped.txt"), "outside"),
    (tarfile.TarInfo("/tmp/telme-absolute-escape.txt"), "absolute"),
    (link("MELD/save_model/student_audio", "/etc", tarfile.SYMTYPE), "link"),
    (link("MELD/save_model/total_fusion.bin", "../../outside.bin", tarfile.LNKTYPE), "link"),
    (device("MELD/save_model/null"), "not a plain file"),
], ids=["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_hostile_tarball_is_refused_before_anything_is_written(tmp_path, member, reason):
    archive = hostile_tarball(tmp_path / "model.tar", member)
    to = tmp_path / "out" / "weights"
    with pytest.raises(UnsafeArchive, match=reason):
        fetch_official(to, datasets=("meld",), archive=archive)
    assert not to.exists()  # not even the harmless first member was extracted
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["model.tar", "out"]


def test_missing_release_folder_names_what_the_tarball_holds(tmp_path):
    archive = tmp_path / "model.tar.gz"  # gzip, as the real release
    with tarfile.open(archive, "w:gz") as tar:
        other = tarfile.TarInfo("something_else/readme.txt")
        other.size = 2
        tar.addfile(other, io.BytesIO(b"hi"))
    with pytest.raises(FetchError, match="no MELD/save_model/teacher.bin.*something_else"):
        fetch_official(tmp_path / "w", datasets=("meld",), archive=archive)
    assert not (tmp_path / "w").exists()


class StandInGdown:
    """Records the call; writes `content` to the output path (as gdown does), or raises `error`."""

    def __init__(self, content=None, error=None):
        self.content, self.error, self.calls = content, error, []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        with open(kwargs["output"], "wb") as handle:
            handle.write(self.content)
        return kwargs["output"]


def test_download_goes_through_gdown_resumable_and_is_removed_once_converted(golden, release_tarball, tmp_path,
                                                                              monkeypatch):
    import gdown

    stand_in = StandInGdown(content=release_tarball.read_bytes())
    monkeypatch.setattr(gdown, "download", stand_in)
    targets = fetch_official(tmp_path / "w", datasets=("meld",), backbones=golden_backbones(golden), quiet=True)
    (call,) = stand_in.calls
    assert call["id"] == DRIVE_FILE_ID and call["resume"] is True and call["output"].endswith("model.tar.gz")
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["telme-meld"]  # the download is gone
    assert load_bundle(targets["meld"]).live_modalities[-1] == "fusion"


def test_offline_is_one_clear_error_line_and_nothing_is_left(tmp_path, monkeypatch, capsys):
    import gdown
    import requests

    from telme.__main__ import main

    offline = StandInGdown(error=requests.ConnectionError("Failed to resolve 'drive.google.com'\nmore detail"))
    monkeypatch.setattr(gdown, "download", offline)
    to = tmp_path / "weights"
    assert main(["fetch-official", "--to", str(to), "--dataset", "meld"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: could not download the official TelME release")
    assert "Failed to resolve" in err[0] and "--archive" in err[0]
    assert not to.exists()


def test_changed_drive_file_is_refused_and_the_download_removed(tmp_path, monkeypatch):
    import gdown

    monkeypatch.setattr(gdown, "download", StandInGdown(content=b"<html>Google Drive - quota exceeded</html>"))
    with pytest.raises(FetchError, match="not a readable TelME release tarball.*Drive file may have changed"):
        fetch_official(tmp_path / "w", quiet=True)
    assert not (tmp_path / "w").exists()


def test_cli_prints_the_weights_line(golden, release_tarball, tmp_path, capsys):
    from telme.__main__ import main

    backbones = tmp_path / "backbones.json"
    backbones.write_text(json.dumps(golden_backbones(golden)))
    to = tmp_path / "weights"
    assert main(["fetch-official", "--dataset", "iemocap", "--archive", str(release_tarball), "--to", str(to),
                 "--backbones", str(backbones)]) == 0
    assert f"--weights {to / 'telme-iemocap'}" in capsys.readouterr().out
    assert fetch_module.DEFAULT_DESTINATION.name == "weights"
