"""The bundle format: save -> load round trip, Hub ids through the cache, malformed bundles."""

import json
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file

from telme.checkpoints import (
    DEFAULT_BUNDLE,
    CheckpointError,
    LabelCountMismatch,
    MissingCheckpoint,
    ShapeMismatch,
    UnpinnedRevisionWarning,
    load_bundle,
    load_model,
    save_bundle,
)
from telme.checkpoints.state import prefixed_state
from telme.checkpoints.tiny import tiny_model

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=1)


@pytest.fixture(scope="module")
def bundle(model, tmp_path_factory):
    return save_bundle(model, tmp_path_factory.mktemp("bundle") / "tiny")


def teacher_logits(model, text="<s1> Oh my God! </s> Now <s1> feels"):
    ids = torch.tensor([model.tokenizer.encode(text) + [model.tokenizer.mask_id]])
    with torch.inference_mode():
        return model.teacher(ids, torch.ones_like(ids))[1]


def same_outputs(a, b):
    """Equal weights, equal outputs (up to float rounding: memory alignment changes kernels)."""
    return torch.allclose(teacher_logits(a), teacher_logits(b), rtol=0, atol=1e-6)


def test_round_trip_keeps_tensors_configs_profile_tokenizer(model, bundle):
    reloaded = load_bundle(bundle)
    assert sorted(p.name for p in bundle.iterdir()) == ["config.json", "model.safetensors", "tokenizer"]
    assert reloaded.labels == model.labels and reloaded.profile == model.profile
    assert reloaded.configs() == model.configs()
    assert reloaded.live_modalities == model.live_modalities == ("text", "audio", "video", "fusion")
    for part, module in model.parts().items():
        original, loaded = module.state_dict(), reloaded.part(part).state_dict()
        assert all(torch.equal(original[name], loaded[name]) for name in original), part
    assert reloaded.tokenizer.kind == model.tokenizer.kind
    assert same_outputs(reloaded, model)


def test_config_json_describes_the_bundle(bundle):
    config = json.loads((bundle / "config.json").read_text())
    assert config["format_version"] == 1 and config["name"] == "telme-tiny"
    assert config["trained"] == {"teacher": True, "audio": True, "video": True, "fusion": True}
    assert config["fusion"]["group_size"] == 4 and config["profile"]["name"] == "tiny"
    assert config["tokenizer"] == {"kind": "official-roberta", "folder": "tokenizer"}


def test_untrained_and_absent_parts_are_not_live_after_reload(tmp_path):
    partial = tiny_model(parts=("teacher", "audio"))
    partial.trained["audio"] = False  # randomly initialised: saved, but never reported live
    reloaded = load_bundle(save_bundle(partial, tmp_path / "partial"))
    assert reloaded.audio is not None and reloaded.live_modalities == ("text",)
    assert {reason.split(":")[0] for reason in reloaded.missing} == {"video student", "fusion"}


def test_missing_files_are_named(bundle, tmp_path):
    with pytest.raises(MissingCheckpoint, match="config.json"):
        load_bundle(tmp_path)
    (tmp_path / "config.json").write_text((bundle / "config.json").read_text())
    with pytest.raises(MissingCheckpoint, match="model.safetensors"):
        load_bundle(tmp_path)


def edited_copy(bundle, tmp_path, edit):
    copy = tmp_path / "edited"
    copy.mkdir(parents=True)
    for name in ("model.safetensors",):
        (copy / name).write_bytes((bundle / name).read_bytes())
    config = json.loads((bundle / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    return copy


def test_label_count_shape_and_version_errors(bundle, tmp_path):
    drop_label = edited_copy(bundle, tmp_path / "a", lambda c: c["labels"].pop())
    with pytest.raises(LabelCountMismatch, match="7 labels but the label set has 6"):
        load_bundle(drop_label)
    wider = edited_copy(bundle, tmp_path / "b", lambda c: c["audio"]["backbone"].update(intermediate_size=40))
    with pytest.raises(ShapeMismatch, match=r"audio\.\*.*\(32, 16\).*\(40, 16\)"):
        load_bundle(wider)
    newer = edited_copy(bundle, tmp_path / "c", lambda c: c.update(format_version=99))
    with pytest.raises(CheckpointError, match="format_version 99"):
        load_bundle(newer)


def test_corrupt_weights_file(bundle, tmp_path):
    (tmp_path / "config.json").write_text((bundle / "config.json").read_text())
    (tmp_path / "model.safetensors").write_bytes(b"{not safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_bundle(tmp_path)


def fake_hub_cache(model, root, repo="telme/tiny"):
    """The huggingface_hub cache layout for `repo` at COMMIT (refs/main points at it)."""
    repo_folder = root / f"models--{repo.replace('/', '--')}"
    save_bundle(model, repo_folder / "snapshots" / COMMIT)
    (repo_folder / "refs").mkdir()
    (repo_folder / "refs" / "main").write_text(COMMIT)
    return root


def test_hub_id_resolves_from_the_cache_offline(model, tmp_path):
    cache = fake_hub_cache(model, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pinned = load_bundle("telme/tiny", revision=COMMIT, cache_dir=cache)
    assert same_outputs(pinned, model)
    with pytest.warns(UnpinnedRevisionWarning, match="telme/tiny"):
        load_bundle("telme/tiny", cache_dir=cache)
    with pytest.raises(MissingCheckpoint, match="telme/absent"):
        load_bundle("telme/absent", revision=COMMIT, cache_dir=cache)


def test_load_model_dispatch(model, bundle, tmp_path, monkeypatch):
    assert load_model(bundle).name == "telme-tiny"
    assert load_model(model) is model
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingCheckpoint, match="telme/nothing-here@"):
        load_model(f"telme/nothing-here@{COMMIT}")
    (tmp_path / "checkpoints").mkdir()
    save_bundle(model, tmp_path / DEFAULT_BUNDLE)
    assert load_model().labels == model.labels


def test_shared_tensors_are_stored_once_each_and_reload(tmp_path):
    """Tied weights (one storage under two names) would make safetensors refuse to save."""
    first, second = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    second.weight = first.weight
    state = prefixed_state({"teacher": first, "audio": second})
    save_file(state, str(tmp_path / "w.safetensors"))
    reloaded = load_file(str(tmp_path / "w.safetensors"))
    assert torch.equal(reloaded["teacher.weight"], reloaded["audio.weight"])
