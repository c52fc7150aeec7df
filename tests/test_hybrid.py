"""The hybrid coder: constriction-compatible range coding, exact round trips, the codec CLI, damaged files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("numba")
pytest.importorskip("constriction")

from tests.conftest import synth
from tests.hybrid_models import SMALL, random_model
from trilobyte.core import audio, container
from trilobyte.core.datasets import get_dataset
from trilobyte.core.leakage import CLIPS_FILE, LeakageError
from trilobyte.gpt2 import entropy
from trilobyte.hybrid import __main__ as cli
from trilobyte.hybrid import codec, engine, method
from trilobyte.hybrid import rangecoder as rc
from trilobyte.hybrid.model import HybridModel, ModelError, fixed_weights, load, quantize
from trilobyte.hybrid.settings import LEGACY, HybridSettings


def short_music(samples: int) -> np.ndarray:
    clip = next(c for c in get_dataset("demo-music", split="valid").clips() if c.num_samples > samples + 5000)
    return clip.samples[5000 : 5000 + samples].astype(np.int64)


def short_music_at(samples: int, bits: int, channels: int) -> np.ndarray:
    """:func:`short_music` (16-bit) moved to ``bits`` by shifting, its first ``channels`` channels."""
    x = short_music(samples)[:, :channels]
    return x << (bits - 16) if bits > 16 else x >> (16 - bits)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_model(1).save(tmp_path_factory.mktemp("hybrid"))


@pytest.fixture(scope="module")
def other_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_model(2).save(tmp_path_factory.mktemp("hybrid-other"))


def test_range_coder_writes_constrictions_words() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        n, k = int(rng.integers(1, 2000)), int(rng.integers(2, 40))
        tables = entropy.probability_table((rng.normal(size=(n, k)) * rng.uniform(0.1, 8)).astype(np.float32))
        symbols = np.array([rng.choice(k, p=t / t.sum()) for t in tables], dtype=np.int32)
        cums = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(tables, axis=1)], axis=1)
        state, io, words = np.zeros(5, np.uint64), np.zeros(1, np.int64), np.zeros(2 * n + 8, np.uint32)
        rc.encoder_init(state, io)
        for i, s in enumerate(symbols):
            rc.encode(state, io, words, int(cums[i, s]), int(tables[i, s]))
        data = words[: rc.finish(state, io, words)].astype("<u4").tobytes()
        assert data == entropy.encode_symbols(symbols, tables)
        assert np.array_equal(entropy.decode_symbols(data, tables), symbols)


@pytest.mark.parametrize("depth,channels,rate", [(8, 1, 8000), (16, 2, 44100), (24, 2, 96000), (24, 1, 16000)])
def test_frames_round_trip_exactly(model_dir: Path, depth: int, channels: int, rate: int) -> None:
    model = load(model_dir)
    x = synth(3000, channels, depth, seed=depth)
    payload = engine.encode_frame(model, x, depth, rate)
    assert len(payload) < x.size * depth // 8  # it compresses
    assert np.array_equal(engine.decode_frame(model, payload, len(x), channels, depth, rate), x)


def test_the_sample_rate_picks_the_stages() -> None:
    assert SMALL.stages(44100) == (SMALL.wide_orders, SMALL.wide_rates) != SMALL.stages(8000)
    assert SMALL.stages(8000) == (SMALL.orders, SMALL.rates)
    assert replace(SMALL, wide_from=0).stages(192000) == (SMALL.orders, SMALL.rates)
    x = short_music(4000)
    wide, narrow = (engine.frame_features(SMALL, x, 16, rate)[1][:, 0] for rate in (32000, 31999))
    assert not np.array_equal(wide, narrow)  # the residuals differ: another cascade ran


def test_escapes_silence_and_extremes_round_trip(model_dir: Path) -> None:
    model = load(model_dir)
    x = np.zeros((2000, 2), dtype=np.int64)
    x[500::97] = 8_388_607  # full-scale spikes after silence: escape codes
    x[501::89] = -8_388_608
    payload = engine.encode_frame(model, x, 24, 48000)
    assert np.array_equal(engine.decode_frame(model, payload, 2000, 2, 24, 48000), x)


def test_real_speech_beats_raw_and_files_round_trip(model_dir: Path, tmp_path: Path) -> None:
    clip = next(get_dataset("demo-speech", split="valid").clips())
    encoded = codec.encode(clip.samples, clip.sample_rate, 16, model_dir)
    assert encoded.container.header["frames"]["count"] == -(-clip.num_samples // SMALL.frame_samples)
    decoded, info = codec.decode(encoded.data, model_dir, workers=2)
    assert np.array_equal(decoded, clip.samples) and info.sample_rate == clip.sample_rate
    assert encoded.payload_bits < clip.raw_bits / 1.3


def test_cli_encode_decode_test_info(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x = synth(4000, 2, 24, seed=3)
    wav = tmp_path / "a.wav"
    audio.write_pcm(wav, x, 96000, 24)
    assert cli.main(["encode", "--model", str(model_dir), str(wav)]) == 0
    trh = tmp_path / "a.trh"
    assert "verified" in capsys.readouterr().out
    assert cli.main(["test", "--model", str(model_dir), str(trh)]) == 0
    assert cli.main(["decode", "--model", str(model_dir), str(trh), "-o", str(tmp_path / "b.flac")]) == 0
    back, info = audio.read_pcm(tmp_path / "b.flac")
    assert np.array_equal(back, x) and info.sample_rate == 96000 and info.bit_depth == 24
    assert cli.main(["info", str(trh)]) == 0
    assert json.loads(capsys.readouterr().out.split(":\n", 1)[1])["model"]["id"] == load(model_dir).model_id
    assert cli.main(["encode", "--model", str(model_dir), str(wav)]) == 1  # exists, no -f


def _file(model_dir: Path) -> bytes:
    return codec.encode(synth(4000, 1, 16, seed=5), 16000, 16, model_dir).data


def test_damaged_files_are_refused(model_dir: Path) -> None:
    data = _file(model_dir)
    parsed = codec.parse(data)
    flipped = bytearray(data)
    flipped[-5] ^= 0x10  # inside the last frame's payload
    with pytest.raises(container.ContainerError, match="frame 2: damaged payload"):
        codec.decode(bytes(flipped), model_dir)
    with pytest.raises(container.ContainerError, match="truncated"):
        codec.decode(data[:-3], model_dir)
    header = bytearray(data)
    header[20] ^= 0x01
    with pytest.raises(container.ContainerError, match="header"):
        codec.decode(bytes(header), model_dir)
    assert len(parsed.frames) == 3


def test_damaged_payload_with_matching_crc_fails_the_pcm_check(model_dir: Path) -> None:
    """A payload changed under a recomputed CRC (a forged file) still fails the frame's PCM checksum."""
    parsed = codec.parse(_file(model_dir))
    words = bytearray(parsed.frames[1].payload)
    words[8] ^= 0x40
    parsed.frames[1] = container.Frame(bytes(words), parsed.frames[1].pcm_crc)
    with pytest.raises(codec.CodecError, match="frame 1"):
        codec.decode(parsed.to_bytes(), model_dir)


def test_another_models_file_and_a_gpt2_file_are_refused(model_dir: Path, other_dir: Path) -> None:
    data = _file(model_dir)
    with pytest.raises(codec.CodecError, match="another hybrid model"):
        codec.decode(data, other_dir)
    gpt2 = container.Container({"format": container.FORMAT, "frames": {"count": 0}}).to_bytes()
    with pytest.raises(container.ContainerError, match="not a trilobyte-hybrid header"):
        codec.decode(gpt2, model_dir)


def test_a_changed_model_folder_is_refused(model_dir: Path, tmp_path: Path) -> None:
    info = json.loads((model_dir / "hybrid.json").read_text())
    info["settings"]["lpc_order"] = 4
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    (bad / "hybrid.json").write_text(json.dumps(info))
    with pytest.raises(ModelError, match="do not match the recorded model id"):
        load(bad)


def test_estimator_codes_verifies_and_refuses_training_data(model_dir: Path, tmp_path: Path) -> None:
    ds = get_dataset("demo-speech48", split="test")
    coder = method.make_estimator(model=model_dir)
    result = coder.estimate_rate(ds)
    assert result.mode == "coded" and not result.failures and result.rate > 1.5
    assert result.files[0].extra["decode_seconds"] > 0 and result.model_parameters == load(model_dir).parameters
    trained = HybridModel(SMALL, load(model_dir).weights,
                          {"datasets": [{"name": "demo-speech48", "split": "test", "fingerprint": ds.fingerprint}]})
    leaky = method.HybridCoder(str(trained.save(tmp_path / "leaky")))
    with pytest.raises(LeakageError, match="trained on 1 of the 1 clips"):
        leaky.estimate_rate(ds)
    marked = method.make_estimator(model=tmp_path / "leaky", allow_trained_clips=True).estimate_rate(ds)
    assert marked.extra["trained_on_evaluated_clips"]
    assert marked.extra["trained_clips_check"] == "dataset names and splits"
    assert result.extra["trained_on_evaluated_clips"] is False


def test_training_records_its_data_resumes_and_codes(tmp_path: Path) -> None:
    from trilobyte.hybrid import train

    out = tmp_path / "trained"
    settings = json.dumps({"lpc_order": 8, "orders": [8, 4, 0], "history": 4, "hidden": [8, 8]})
    argv = ["--dataset", "demo-speech48", "--out", str(out), "--settings", settings, "--max-samples", "20000",
            "--valid-samples", "5000", "--eval-every", "10", "--no-progress", "--batch-size", "256",
            "--lr", "0.03"]  # a step large enough that ten more steps move the quantized weights
    assert train.main([*argv, "--steps", "10"]) == 0
    first = load(out)
    checkpoint = next(out.rglob("checkpoint.pt"))
    state = torch.load(checkpoint, weights_only=True)  # tensors and plain containers: no pickled objects
    assert state["step"] == 10 and all(isinstance(v, torch.Tensor) for v in state["best_weights"].values())
    assert train.main([*argv, "--steps", "20"]) == 0  # resumes at step 10
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [10, 20]
    model = load(out)
    assert model.model_id != first.model_id and model.training["trained_steps"] == 20
    ds = get_dataset("demo-speech48", split="train")
    assert model.training["datasets"] == [{"name": ds.name, "split": "train", "fingerprint": ds.fingerprint}]
    assert model.training["valid"][0]["split"] == "valid"
    assert model.training["training_clips"]["count"] == len(ds.refs) and (out / CLIPS_FILE).exists()
    with pytest.raises(SystemExit) as refused:
        train.main([*argv, "--split", "test"])  # the evaluation split, not asked for on purpose
    assert refused.value.code == 2
    with pytest.raises(LeakageError, match="decided from its list of training clips"):
        method.make_estimator(model=out).check_dataset(ds)
    result = method.make_estimator(model=out).estimate_rate(get_dataset("demo-speech48", split="test"))
    assert not result.failures and result.rate > 2.0


def test_evaluate_cli_refuses_trained_clips_unless_allowed(model_dir: Path, tmp_path: Path) -> None:
    from trilobyte.hybrid import evaluate

    record = {"datasets": [{"name": "demo-speech48", "split": "test"}]}
    leaky = HybridModel(SMALL, load(model_dir).weights, record).save(tmp_path / "leaky")
    argv = ["--model", str(leaky), "--dataset", "demo-speech48", "--split", "test", "--out", str(tmp_path / "r"),
            "--no-progress"]
    assert evaluate.main(argv) == 2
    assert not list((tmp_path / "r").rglob("*.json"))
    assert evaluate.main([*argv, "--allow-trained-clips"]) == 0
    saved = [json.loads(p.read_text()) for p in (tmp_path / "r").rglob("*.json")]
    assert [s["extra"]["trained_on_evaluated_clips"] for s in saved] == [True]


def test_evaluate_cli_without_model_uses_the_installed_default(model_dir: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from trilobyte.hybrid import defaults, evaluate

    argv = ["--dataset", "demo-speech48-linear8", "--split", "valid", "--out", str(tmp_path / "r"), "--no-progress"]
    monkeypatch.setattr(defaults, "DEFAULT_MODEL", tmp_path / "absent")
    with pytest.raises(SystemExit) as usage:
        evaluate.main(argv)
    assert usage.value.code == 2
    monkeypatch.setattr(defaults, "DEFAULT_MODEL", model_dir)
    assert evaluate.main(argv) == 0
    saved = [json.loads(p.read_text()) for p in (tmp_path / "r").rglob("*.json")]
    assert [s["config"]["model_id"] for s in saved] == [load(model_dir).model_id]


def test_settings_saved_before_a_field_existed_keep_the_kernel_they_were_made_with() -> None:
    old = {k: v for k, v in HybridSettings().to_dict().items() if k not in LEGACY}
    assert len(old) == 12  # the first models' fields
    loaded = HybridSettings.from_dict(old)
    assert (loaded.nlms, loaded.stereo_taps, loaded.scale_shift) == (False, 2, 4)
    assert (loaded.wide_from, loaded.context_features, loaded.stereo_modes) == (0, False, False)
    assert loaded.stages(96000) == (loaded.orders, loaded.rates)
    assert loaded.identity() == old  # so an old model's id (a hash of its settings) is unchanged
    assert HybridSettings.from_dict(HybridSettings().to_dict()) == HybridSettings()


@pytest.mark.parametrize("depth", [16, 24])
def test_each_stereo_mode_is_chosen_and_round_trips_at_full_scale(model_dir: Path, depth: int) -> None:
    model = load(model_dir)
    top = (1 << (depth - 1)) - 1
    music = short_music(3000)[:, :1] << (depth - 16)
    other = music[::-1] // 8  # another, quieter sound
    cases = {
        0: np.concatenate([music, music[::-1]], axis=1),  # unrelated channels
        1: np.concatenate([music, music], axis=1),  # identical: left and side
        2: np.clip(np.concatenate([music + other, music - other], axis=1), -top - 1, top),  # mid and side
    }
    for expected, x in cases.items():
        assert engine.stereo_mode(x) == expected
        payload = engine.encode_frame(model, x, depth, 44100)
        assert np.array_equal(engine.decode_frame(model, payload, len(x), 2, depth, 44100), x), expected
    extremes = cases[1].copy()
    extremes[1000:1100:2] = [top, -top - 1]  # the side's extremes: one bit beyond the depth
    extremes[1001:1100:2] = [-top - 1, top]
    for forced in (0, 1, 2):
        payload = engine.encode_frame(model, extremes, depth, 44100, stereo=forced)
        assert np.array_equal(engine.decode_frame(model, payload, 3000, 2, depth, 44100), extremes), forced
    legacy = HybridModel(replace(SMALL, stereo_modes=False), model.weights, {})
    x = cases[2]
    without = engine.encode_frame(legacy, x, depth, 44100)
    assert np.array_equal(engine.decode_frame(legacy, without, len(x), 2, depth, 44100), x)
    assert len(engine.encode_frame(model, x, depth, 44100)) < len(without)  # mid/side pays here


@pytest.mark.parametrize("depth,channels", [(8, 1), (24, 2)])
def test_a_network_that_sees_the_depth_round_trips(depth: int, channels: int) -> None:
    model = random_model(5, replace(SMALL, context_features=2))
    assert model.settings.features == SMALL.features + 1
    x = synth(2000, channels, depth, seed=depth)
    payload = engine.encode_frame(model, x, depth, 48000)
    assert np.array_equal(engine.decode_frame(model, payload, len(x), channels, depth, 48000), x)
    feats, _ = engine.frame_features(model.settings, x, depth, 48000)
    assert set(feats[:, -1]) == {(depth - 16) * 128} and set(feats[:, -2]) == {1024}  # bit depth, wide stages


def test_the_log_scale_inputs_are_in_sample_units_at_every_depth() -> None:
    """The same integers as 8, 16 or 24-bit audio give the same log-scale inputs (a quiet 24-bit fade looks
    like quiet 16-bit audio, not like an input training never saw); older models' inputs are relative to
    full scale, 1024 (one octave) lower per extra bit."""
    x = synth(3000, 1, 8, seed=3)
    cols = [2 * SMALL.history + 3, 2 * SMALL.history + 4]
    new = {d: engine.frame_features(SMALL, x, d, 16000)[0][:, cols] for d in (8, 16, 24)}
    # the prefiltered samples' scale (the cascade's residual may differ by depth) is the same input
    assert np.array_equal(new[8][:, 1], new[16][:, 1]) and np.array_equal(new[16][:, 1], new[24][:, 1])
    legacy = replace(SMALL, absolute_scale=False)
    old = {d: engine.frame_features(legacy, x, d, 16000)[0][:, cols] for d in (8, 16, 24)}
    assert np.array_equal(old[16], new[16])  # 16-bit audio's inputs are unchanged
    assert np.array_equal(old[24], new[24] - 8 * 1024) and np.array_equal(old[8], new[8] + 8 * 1024)
    model = random_model(6)
    payload = engine.encode_frame(model, x << 16, 24, 16000)
    assert np.array_equal(engine.decode_frame(model, payload, len(x), 1, 24, 16000), x << 16)


@pytest.mark.parametrize("depth", [16, 24])
def test_digital_silence_is_nearly_free_when_the_centre_is_a_hair_below_zero(depth: int) -> None:
    """A narrow distribution centred 1% of the scale below the prediction: rounded to the nearest half
    sample the centre is the prediction and an exact zero costs almost nothing; rounded down (older models)
    it sat half a sample low, a bit a sample."""
    w = fixed_weights(SMALL, log2_width=-6.0)
    w["b3"][1] = -0.01
    x = np.zeros((20000, 1), dtype=np.int64)
    sizes = {}
    for rounded in (True, False):
        model = HybridModel(replace(SMALL, round_centre=rounded), quantize(w), {})
        payload = engine.encode_frame(model, x, depth, 44100)
        assert np.array_equal(engine.decode_frame(model, payload, len(x), 1, depth, 44100), x)
        sizes[rounded] = len(payload)
    assert sizes[True] < 100 and sizes[False] > len(x) // 8


def train_music(name: str) -> np.ndarray:
    """One clip of demo-music's train split by file name."""
    ds = get_dataset("demo-music", split="train")
    return ds.load(next(r for r in ds.refs if r.path.name == name)).samples


def bass_drum() -> np.ndarray:
    """A 43 Hz bass drum near full scale (bd_pure): a hard case for the cascade."""
    return train_music("bd_pure.flac")


def cascade_residual(x: np.ndarray, settings: HybridSettings) -> np.ndarray:
    """|residual| of the cascade (44.1 kHz, 16-bit) sample by sample."""
    _, aux = engine.frame_features(settings, x, 16, 44100)
    return np.abs(aux[:, 0])


def test_robust_steps_keep_the_stages_through_an_outlying_error() -> None:
    """One burst of the LPC stage's residual (here from its old scaling, lpc_cover_rhs off) used to throw
    the normalized LMS stages off for good: the residual grew to the size of the signal. With the error's
    square in each step's denominator the stages ride it out. (The stage mix shrinks a lost stage's part,
    but it stays lost.)"""
    x = bass_drum()
    old = cascade_residual(x, HybridSettings(nlms_robust=False, lpc_cover_rhs=False, stage_mix=False))
    mixed = cascade_residual(x, HybridSettings(nlms_robust=False, lpc_cover_rhs=False))
    robust = cascade_residual(x, HybridSettings(lpc_cover_rhs=False))
    assert old[4096:].mean() > 1000 and mixed[4096:].mean() > 300
    assert robust[4096:].mean() < 2
