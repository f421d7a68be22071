"""Official release layout: full and partial folders, and the errors a bad file gives."""

import pickle

import pytest
import torch

from telme.checkpoints import (
    OFFICIAL_FILES,
    CheckpointError,
    KeyMismatch,
    LabelCountMismatch,
    MissingCheckpoint,
    ShapeMismatch,
    UnsafeCheckpoint,
    load_official,
)
from telme.checkpoints.tiny import tiny_configs, tiny_model

OFFICIAL_WIDTH, OFFICIAL_HEADS = 768, 3  # the official fusion's shapes (MELD)


def backbones():
    """Tiny backbones whose outputs have the official widths, as load_official expects."""
    configs = tiny_configs(width=OFFICIAL_WIDTH, fusion_heads=OFFICIAL_HEADS)
    return {part: configs[part].backbone for part in ("teacher", "audio", "video")}


def write_official(model, folder, parts=("teacher", "audio", "video", "fusion")):
    """The official layout, with the legacy position_ids buffer the official teacher file carries."""
    for part in parts:
        state = dict(model.part(part).state_dict())
        if part == "teacher":
            state["text_model.embeddings.position_ids"] = torch.arange(514).unsqueeze(0)
        path = folder / OFFICIAL_FILES[part]
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, path)
    return folder


@pytest.fixture(scope="module")
def source():
    return tiny_model(width=OFFICIAL_WIDTH, fusion_heads=OFFICIAL_HEADS, seed=3)


@pytest.fixture(scope="module")
def release(source, tmp_path_factory):
    return write_official(source, tmp_path_factory.mktemp("release") / "save_model")


def test_full_release_loads_every_tensor_and_all_parts_are_live(source, release):
    model = load_official(release.parent, backbones=backbones())  # the parent of save_model/ works too
    assert model.live_modalities == ("text", "audio", "video", "fusion")
    assert model.missing == []
    for part in ("teacher", "audio", "video", "fusion"):
        loaded, original = model.part(part).state_dict(), source.part(part).state_dict()
        assert loaded.keys() == original.keys()
        assert all(torch.equal(loaded[name], original[name]) for name in original), part
    assert model.teacher.cfg.vocab_size == source.teacher.cfg.vocab_size  # read from the file


def test_teacher_only_folder_loads_and_names_each_missing_file(source, tmp_path):
    write_official(source, tmp_path, parts=("teacher",))
    model = load_official(tmp_path, backbones=backbones())
    assert model.live_modalities == ("text",)
    assert (model.audio, model.video, model.fusion) == (None, None, None)
    assert len(model.missing) == 3
    for part in ("audio", "video", "fusion"):
        assert any(OFFICIAL_FILES[part] in reason for reason in model.missing), model.missing


def test_fusion_without_students_is_loaded_but_not_live(source, tmp_path):
    write_official(source, tmp_path, parts=("teacher", "fusion"))
    model = load_official(tmp_path, backbones=backbones())
    assert model.trained["fusion"] and model.live_modalities == ("text",)


def test_teacher_and_audio_only(source, tmp_path):
    write_official(source, tmp_path, parts=("teacher", "audio"))
    assert load_official(tmp_path, backbones=backbones()).live_modalities == ("text", "audio")


def test_missing_teacher_names_the_file(source, tmp_path):
    write_official(source, tmp_path, parts=("audio",))
    with pytest.raises(MissingCheckpoint, match="teacher.bin") as error:
        load_official(tmp_path, backbones=backbones())
    assert "student_audio" in str(error.value)  # says what it found instead


def test_wrong_backbone_size_names_tensor_and_both_shapes(release):
    wrong = backbones()
    wrong["teacher"] = dict(wrong["teacher"], intermediate_size=48)
    with pytest.raises(ShapeMismatch) as error:
        load_official(release, backbones=wrong)
    assert error.value.name.endswith("intermediate.dense.weight")
    assert error.value.expected == (48, 16) and error.value.found == (32, 16)
    assert "(32, 16)" in str(error.value) and "(48, 16)" in str(error.value)


def test_wrong_label_count(release):
    with pytest.raises(LabelCountMismatch, match="7 labels but the label set has 6") as error:
        load_official(release, dataset="iemocap", backbones=backbones())
    assert error.value.found == 7 and error.value.expected == 6


def test_unexpected_and_missing_tensors_are_listed(source, tmp_path):
    write_official(source, tmp_path, parts=("teacher",))
    state = torch.load(tmp_path / "teacher.bin", weights_only=True)
    state["extra.weight"] = state.pop("classifier.bias")
    torch.save(state, tmp_path / "teacher.bin")
    with pytest.raises(KeyMismatch, match="classifier.bias") as error:
        load_official(tmp_path, backbones=backbones())
    assert error.value.missing == ["classifier.bias"] and error.value.unexpected == ["extra.weight"]


class CarriesCode:
    """Unpickling this calls open(path, "w"): a file appears if the pickle is trusted."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"classifier.weight": torch.zeros(7, 768), "payload": CarriesCode(marker)}, tmp_path / "teacher.bin")
    with pytest.raises(UnsafeCheckpoint, match="teacher.bin"):
        load_official(tmp_path, backbones=backbones())
    assert not marker.exists()


def test_plain_pickle_of_a_non_state_dict_is_refused(tmp_path):
    (tmp_path / "teacher.bin").write_bytes(pickle.dumps(CarriesCode(tmp_path / "pwned")))
    with pytest.raises(CheckpointError):
        load_official(tmp_path, backbones=backbones())
    assert not (tmp_path / "pwned").exists()


def test_corrupt_file_is_a_checkpoint_error(tmp_path):
    (tmp_path / "teacher.bin").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="teacher.bin"):
        load_official(tmp_path, backbones=backbones())


def test_unknown_dataset_and_backbone_part(release):
    with pytest.raises(ValueError, match="dataset"):
        load_official(release, dataset="iemocapp")
    with pytest.raises(ValueError, match="fusion"):
        load_official(release, backbones={"fusion": {}})


@pytest.mark.slow
def test_official_manifest_fits_the_shipped_configs(reference_dir, tmp_path, monkeypatch):
    """Every key and shape of the real release (manifest) loads into the default full-size parts.

    Tensors are meta (shapes only), so roberta-large costs no memory; the loader itself runs.
    """
    import json

    from telme.checkpoints import official

    manifest = json.loads((reference_dir / "official_checkpoint_manifest.json").read_text())
    for name in OFFICIAL_FILES.values():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    by_path = {str(tmp_path / name): shapes for name, shapes in manifest.items()}

    def meta_state(path, what):
        return {key: torch.empty(shape, device="meta") for key, shape in by_path[str(path)].items()}

    monkeypatch.setattr(official, "read_torch_state", meta_state)
    model = load_official(tmp_path)
    assert model.live_modalities == ("text", "audio", "video", "fusion")
    assert model.teacher.cfg.vocab_size == 50274 and "text_model.embeddings.position_ids" in manifest["teacher.bin"]
    loaded = sum(len(module.state_dict()) for module in model.parts().values())
    assert loaded == sum(len(shapes) for shapes in manifest.values()) - 1  # all but the legacy position_ids
