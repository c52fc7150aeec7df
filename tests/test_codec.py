"""The Trilobyte codec: exact tables, range coding, bit-exact round trips, parallel decoding, damaged files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("constriction")
torch.set_num_threads(1)

from trilobyte.core import audio, container  # noqa: E402
from trilobyte.core.datasets import folder_dataset, get_dataset  # noqa: E402
from trilobyte.gpt2 import __main__ as cli  # noqa: E402
from trilobyte.gpt2 import codec, entropy, train  # noqa: E402
from trilobyte.gpt2.estimate import TrilobyteRate  # noqa: E402
from trilobyte.gpt2.scoring import score_clip  # noqa: E402
from trilobyte.gpt2.tokenize import ClipTokens  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 24-bit model (it takes 8, 16 and 24-bit audio) trained for 30 steps on real speech."""
    out = tmp_path_factory.mktemp("model24")
    argv = ["--dataset", "demo-speech48", "--preset", "tiny", "--steps", "30", "--model-bit-depth", "24"]
    argv += ["--out", str(out), "--eval-every", "30", "--val-windows", "4", "--no-progress", "--threads", "1"]
    assert train.main(argv) == 0
    return out


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised model of the same shape: another model."""
    from trilobyte.gpt2.model import build_model, save_model
    from trilobyte.gpt2.tokenize import TokenizerSettings

    settings = TokenizerSettings("bytes", 24)
    return save_model(build_model("tiny", settings, seed=7), settings, tmp_path_factory.mktemp("other"), "tiny")


@pytest.fixture(scope="module")
def loaded(model_dir: Path) -> codec.LoadedModel:
    return codec.get_model(model_dir)


def excerpt(depth: int, channels: int, samples: int) -> np.ndarray:
    """Real audio: demo speech (16-bit), a real 24-bit clip, 8-bit by the data layer's linear conversion."""
    if depth == 24:
        clip = next(c for c in get_dataset("demo-24bit").clips() if c.num_samples > 4000)
        x = clip.samples[2000 : 2000 + samples]
    else:
        ds = get_dataset("demo-music" if channels == 2 else "demo-speech48")
        clip = next(c for c in ds.clips() if c.num_samples > 30000 and c.channels >= channels)
        x = clip.samples[20000 : 20000 + samples]
        x = audio.to_linear(x, 16, depth) if depth == 8 else x
    x = x[:, :channels] if x.shape[1] >= channels else np.repeat(x, channels, axis=1)
    return np.ascontiguousarray(x, dtype=np.int32)


@pytest.fixture(scope="module")
def speech_file(loaded: codec.LoadedModel) -> tuple[np.ndarray, codec.Encoded]:
    """900 samples of mono speech in 5 frames, groups of 2: three groups."""
    x = excerpt(16, 1, 900)
    return x, codec.encode(x, 48000, 16, loaded, codec.CodecSettings(frame_samples=180, group_frames=2))


# -- the probability tables and the range coder ------------------------------------------------------


def test_probability_table_is_exact_and_close_to_softmax() -> None:
    rng = np.random.default_rng(0)
    logits = np.concatenate(
        [rng.normal(0, 4, (200, 256)), np.zeros((1, 256)), np.full((1, 256), 80.0), [[0] * 255 + [200.0]]]
    ).astype(np.float32)
    tables = entropy.probability_table(logits)
    assert tables.dtype == np.int64 and tables.min() >= 1
    assert (tables.sum(axis=1) == entropy.TOTAL).all()
    assert (tables[200] == entropy.TOTAL // 256).all() and (tables[201] == entropy.TOTAL // 256).all()
    assert tables[202, 255] == entropy.TOTAL - 255 and (tables[202, :255] == 1).all()  # every symbol codable
    p = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert np.abs(tables / entropy.TOTAL - p).max() < 256 / entropy.TOTAL + 1e-9
    # one function of the logits alone: the same rows give the same tables in any batch
    assert np.array_equal(entropy.probability_table(logits[5:9]), tables[5:9])
    digest = hashlib.sha256(entropy.probability_table(logits[:3]).tobytes()).hexdigest()[:16]
    assert digest == hashlib.sha256(tables[:3].tobytes()).hexdigest()[:16]


def test_range_coder_reproduces_the_tables_exactly() -> None:
    """constriction codes each symbol at exactly -log2(table / 2**24): the size is the table's information."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 6, (20000, 256)).astype(np.float32)
    tables = entropy.probability_table(logits)
    p = tables / tables.sum(axis=1, keepdims=True)
    symbols = (p.cumsum(axis=1) > rng.random((20000, 1))).argmax(axis=1).astype(np.int32)
    symbols[:50] = np.argmin(tables[:50], axis=1)  # the least probable symbols too
    data = entropy.encode_symbols(symbols, tables)
    assert np.array_equal(entropy.decode_symbols(data, tables), symbols)
    info = entropy.information_bits(tables, symbols)
    assert info <= 8 * len(data) <= info + 64


def test_cached_steps_compute_the_models_own_logits(loaded: codec.LoadedModel) -> None:
    """The stepper (prefill, then one token at a time) agrees with the Hugging Face forward pass to float noise."""
    from trilobyte.gpt2.stepper import KVStepper

    tokens = np.random.default_rng(3).integers(0, 256, (3, 60))
    with torch.inference_mode():
        full = loaded.model(input_ids=torch.from_numpy(tokens)).logits[..., :256].numpy()
    steps = KVStepper(loaded.model, 3, 256)
    got = [steps.feed(tokens[:, :20])] + [steps.feed(tokens[:, i : i + 1]) for i in range(20, 60)]
    assert np.abs(np.stack(got, axis=1) - full[:, 19:]).max() < 1e-4


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [8, 16, 24])
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_is_bit_exact(loaded: codec.LoadedModel, depth: int, channels: int) -> None:
    x = excerpt(depth, channels, 260)
    encoded = codec.encode(x, 44100, depth, loaded, codec.CodecSettings(frame_samples=100, group_frames=4))
    decoded, info = codec.decode(encoded.data, loaded)
    assert decoded.dtype == np.int32 and np.array_equal(decoded, x)
    assert (info.bit_depth, info.channels, info.num_samples, info.frame_count) == (depth, channels, 260, 3)
    # the payload is the tables' information plus at most two 32-bit words of coder state per frame
    payload = 8 * encoded.container.payload_bytes
    assert encoded.info_bits <= payload <= encoded.info_bits + 64 * 3
    assert abs(encoded.info_bits - encoded.ideal_bits) < 1e-3 * encoded.ideal_bits


def test_coded_size_is_the_ideal_estimate(loaded: codec.LoadedModel, speech_file) -> None:
    """The estimator's ideal bits of the same frames (full-window pass) against the coded payload."""
    x, encoded = speech_file
    stride = encoded.container.header["compute"]["stride"]
    estimate = sum(
        score_clip(loaded.model, ClipTokens.from_samples(x[a:b], 16, loaded.settings), 256, stride).total_bits
        for a, b in codec.frame_bounds(len(x), 180)
    )
    assert encoded.ideal_bits == pytest.approx(estimate, rel=1e-6)  # cached steps vs full pass: ~1e-6
    payload = 8 * encoded.container.payload_bytes
    # each frame's payload: its symbols' information plus at most 64 bits of final coder state
    assert estimate <= payload <= estimate + 64 * 5
    raw_bits = x.size * 16
    assert payload < 0.9 * raw_bits  # trained a little: it compresses
    # the container's share: its fixed header and 16 bytes a frame (length, two CRCs, the table)
    assert encoded.container_bits < 8 * (1200 + 12 * 5)


def test_whole_file_frame_matches_the_estimator(loaded: codec.LoadedModel, model_dir: Path, tmp_path: Path) -> None:
    """One frame per file: the coded payload is within 0.5% of the estimator's ideal rate."""
    x = excerpt(16, 1, 1500)
    audio.write_pcm(tmp_path / "a.wav", x, 48000, 16)
    rate = TrilobyteRate(model_dir)
    clip = next(iter(folder_dataset(tmp_path).clips()))
    ideal = rate.code_file(clip).extra["ideal_bits"]
    encoded = codec.encode(x, 48000, 16, loaded, codec.CodecSettings(frame_samples=1500))
    assert encoded.ideal_bits == pytest.approx(ideal, rel=1e-6)
    assert ideal <= 8 * encoded.container.payload_bytes <= min(ideal + 64, 1.005 * ideal)


# -- exactness across parallelism settings ------------------------------------------------------------


@pytest.mark.slow
def test_decoding_in_fresh_processes_with_other_parallelism(model_dir: Path, speech_file, tmp_path: Path) -> None:
    """Encoded here one group at a time; decoded in a fresh interpreter with 3 threads, then 2 processes."""
    x, encoded = speech_file
    path = tmp_path / "speech.trb"
    path.write_bytes(encoded.data)
    out = tmp_path / "out.wav"
    script = (
        "import sys; from trilobyte.__main__ import main; m = ['--model', sys.argv[1], sys.argv[2]];"
        " sys.exit(main(['decode', *m, '-o', sys.argv[3], '--jobs', '3', '--parallel', 'thread'])"
        " or main(['test', *m, '--jobs', '2', '--parallel', 'process']))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-c", script, str(model_dir), str(path), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(audio.read_pcm(out)[0], x)
    assert "ok, MD5" in done.stdout


def test_a_different_computation_is_refused_never_silent(loaded: codec.LoadedModel, speech_file) -> None:
    """Decode with another batch shape than the encoder's (probe forged to match): refused or exact, never wrong."""
    x, encoded = speech_file
    parsed = container.parse(encoded.data)
    for group in (1, 3):
        parsed.header["frames"]["per_group"] = group
        parsed.header["compute"]["probe"] = codec._probe(loaded, group, 1)
        try:
            decoded, _ = codec.decode(parsed.to_bytes(), loaded)
        except codec.CodecError as err:
            assert "checksum" in str(err) or "invalid" in str(err) or "MD5" in str(err)
        else:
            assert np.array_equal(decoded, x)  # this batch shape happened to compute the same floats
    parsed.header["compute"]["probe"] = "0" * 16
    with pytest.raises(codec.CodecError, match="differently from the encoder"):
        codec.decode(parsed.to_bytes(), loaded)


# -- damaged files, another model, fuzzing ------------------------------------------------------------


def test_damage_names_the_frame(speech_file) -> None:
    _, encoded = speech_file
    data = bytearray(encoded.data)
    payload_start = len(data) - encoded.container.payload_bytes
    sizes = [len(f.payload) for f in encoded.container.frames]
    third = payload_start + sum(sizes[:2]) + 1
    data[third] ^= 0x10
    with pytest.raises(container.ContainerError, match=r"frame 2: damaged payload"):
        container.parse(bytes(data))
    cut = encoded.data[: payload_start + sum(sizes[:3]) + 2]
    with pytest.raises(container.ContainerError, match=r"truncated file: frame 3 of 5 is cut short"):
        container.parse(cut)
    with pytest.raises(container.ContainerError, match="damaged header"):
        container.parse(encoded.data[:30] + bytes([encoded.data[30] ^ 1]) + encoded.data[31:])
    with pytest.raises(container.ContainerError, match="unexpected bytes"):
        container.parse(encoded.data + b"\0")
    with pytest.raises(container.ContainerError, match="not a Trilobyte file"):
        container.parse(b"RIFF" + encoded.data[4:])


def test_another_model_is_refused_before_decoding(other_model_dir: Path, speech_file, monkeypatch) -> None:
    _, encoded = speech_file
    other = codec.get_model(other_model_dir)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoding started")

    monkeypatch.setattr(codec, "run_jobs", no_decoding)
    with pytest.raises(codec.CodecError, match="encoded with another model"):
        codec.decode(encoded.data, other)


def test_fuzzed_files_never_crash_or_hang(loaded: codec.LoadedModel, speech_file) -> None:
    x, encoded = speech_file
    rng = np.random.default_rng(2024)
    start, outcomes = time.perf_counter(), {"refused": 0, "exact": 0}
    for trial in range(400):
        data = bytearray(encoded.data)
        kind = trial % 5
        if kind == 0:
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            for i in rng.integers(len(data), size=int(rng.integers(1, 8))):
                data[i] = int(rng.integers(256))
        elif kind == 2:
            del data[int(rng.integers(len(data))) :]
        elif kind == 3:
            at = int(rng.integers(len(data)))
            data[at:at] = rng.bytes(int(rng.integers(1, 9)))
        else:
            at = int(rng.integers(len(data) - 8))
            del data[at : at + int(rng.integers(1, 8))]
        try:
            decoded, _ = codec.decode(bytes(data), loaded)
        except (container.ContainerError, codec.CodecError):
            outcomes["refused"] += 1
        else:
            assert np.array_equal(decoded, x)
            outcomes["exact"] += 1
    assert outcomes["refused"] >= 390
    assert time.perf_counter() - start < 60


# -- the command line and the estimator's coded mode ------------------------------------------------------


def test_cli_encode_decode_test_info(model_dir: Path, tmp_path: Path, capsys, caplog) -> None:
    x = excerpt(16, 2, 300)
    wav = tmp_path / "clip.wav"
    audio.write_pcm(wav, x, 44100, 16)
    common = ["--model", str(model_dir)]
    assert cli.main(["encode", *common, str(wav), "--frame-samples", "128", "--group-frames", "2"]) == 0
    trb = tmp_path / "clip.trb"
    assert "verified" in capsys.readouterr().out and trb.exists()
    assert cli.main(["encode", *common, str(wav)]) == 1  # exists without -f
    assert "exists (use -f" in caplog.text
    out = tmp_path / "back.flac"
    assert cli.main(["decode", *common, str(trb), "-o", str(out)]) == 0
    samples, info = audio.read_pcm(out)
    assert np.array_equal(samples, x) and (info.sample_rate, info.bit_depth, info.channels) == (44100, 16, 2)
    assert cli.main(["test", *common, str(trb)]) == 0
    assert hashlib.md5(container.pcm_bytes(x, 16)).hexdigest() in capsys.readouterr().out
    assert cli.main(["info", str(trb)]) == 0
    assert json.loads(capsys.readouterr().out.split(":\n", 1)[1])["frames"]["count"] == 3
    damaged = bytearray(trb.read_bytes())
    damaged[-3] ^= 0xFF
    (tmp_path / "bad.trb").write_bytes(bytes(damaged))
    assert cli.main(["test", *common, str(tmp_path / "bad.trb")]) == 1
    assert "frame 2: damaged payload" in caplog.text


def test_estimator_coded_mode(model_dir: Path, tmp_path: Path) -> None:
    audio.write_pcm(tmp_path / "a.wav", excerpt(16, 1, 500), 48000, 16)
    audio.write_pcm(tmp_path / "b.wav", excerpt(16, 2, 200), 44100, 16)
    dataset = folder_dataset(tmp_path, name="cuts")
    result = TrilobyteRate(model_dir, coded=True, frame_samples=256, group_frames=4).estimate_rate(dataset)
    assert result.mode == "coded" and len(result.ok_files) == 2 and not result.failures
    for row in result.ok_files:
        assert row.extra["verified"] is True
        ideal = row.extra["ideal_bits"]
        assert ideal <= row.compressed_bits <= 1.005 * ideal + 64 * 2 + 32 * 2
        assert row.container_bits > 0
    assert result.config["coded"]["frame_samples"] == 256


def test_pcm_bytes_and_crc_layout() -> None:
    x = np.array([[-1, 2], [-(1 << 23), (1 << 23) - 1]], dtype=np.int32)
    assert container.pcm_bytes(x, 24) == bytes.fromhex("ffffff 020000 000080 ffff7f".replace(" ", ""))
    assert zlib.crc32(container.pcm_bytes(x[:, :1], 8)) == zlib.crc32(bytes([0xFF, 0x00]))
