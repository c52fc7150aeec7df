"""Tests that fail under the bugs they guard: every coded method's bit-exact check, NAC's decoding and code width.

For each coded method a decoder made to flip one sample (our decode step patched in process; the real
libraries still run) must give a failed row and exit status 1 through the CLI's ``main(argv)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import synth
from malformed import TRILOBYTE_FLAGS, tiny_trilobyte_model

from trilobyte.core import audio
from trilobyte.core.results import ResultStore

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

QUIET = ["--no-progress", "--jobs", "1"]


def flipped(samples: np.ndarray) -> np.ndarray:
    """The same samples with the lowest bit of the first one flipped."""
    out = np.array(samples, copy=True)
    out.flat[0] ^= 1
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short 16-bit 8 kHz files, mono and stereo."""
    folder = tmp_path_factory.mktemp("guards") / "pair"
    folder.mkdir()
    audio.write_pcm(folder / "mono.wav", synth(700, 1, 16, seed=1), 8000, 16)
    audio.write_pcm(folder / "stereo.wav", synth(700, 2, 16, seed=2), 8000, 16)
    return folder


def failed_rows(out: Path, method: str) -> list:
    results = [r for _, r in ResultStore(out).all_results() if r.method == method]
    assert results, f"no {method} result written"
    return [f for r in results for f in r.failures]


# -- every coded method catches a decoder that flips one sample


def test_flac_sweep_catches_a_flipped_sample(folder, tmp_path, monkeypatch):
    from baselines.flac import codec as flac_codec
    from baselines.flac.sweep import main

    real = flac_codec.decode
    monkeypatch.setattr(flac_codec, "decode", lambda data: (flipped(real(data)[0]), *real(data)[1:]))
    out = tmp_path / "out"
    argv = ["--dataset", str(folder), "--levels", "5", "--disable-subframes", "none", "--out", str(out), *QUIET]
    assert main(argv) == 1
    rows = failed_rows(out, "flac")
    assert len(rows) == 2 and all("LosslessError" in r.error and "not bit-exact" in r.error for r in rows)


def test_flac_frames_catches_a_flipped_sample(folder, tmp_path, monkeypatch):
    from baselines.flac import frames
    from baselines.flac.frames_cli import main

    real = frames.FlacStream.samples
    monkeypatch.setattr(frames.FlacStream, "samples", lambda self: flipped(real(self)))
    out = tmp_path / "out"
    assert main(["--dataset", str(folder), "--out", str(out), *QUIET]) == 1
    rows = failed_rows(out, "flac-frames")
    assert len(rows) == 2 and all("FlacFrameError" in r.error and "differ from the input" in r.error for r in rows)


def test_command_line_codec_catches_a_flipped_sample(folder, tmp_path, monkeypatch):
    """WavPack's real decoder runs; then one sample of the WAV it wrote is flipped."""
    from baselines.classical import commands
    from baselines.classical.cli import main

    real = commands._run

    def run(argv, what, *limits):
        seconds = real(argv, what, *limits)
        if what.endswith("decoder"):
            (path,) = [Path(a) for a in argv if a.endswith("decoded.wav")]
            samples, info = audio.read_pcm(path)
            audio.write_pcm(path, flipped(samples), info.sample_rate, info.bit_depth)
        return seconds

    monkeypatch.setattr(commands, "_run", run)
    out = tmp_path / "out"
    assert main(["--codec", "wavpack", "--no-with-flac", "--dataset", str(folder), "--out", str(out), *QUIET]) == 1
    rows = failed_rows(out, "wavpack")
    assert len(rows) == 2 and all("LosslessError" in r.error and "not bit-exact" in r.error for r in rows)


def test_general_compressor_catches_a_flipped_sample(folder, tmp_path, monkeypatch):
    from baselines.classical import general
    from baselines.classical.cli import main

    real = general._decompress

    def decompress(name, backend, data, *limits):
        raw = bytearray(real(name, backend, data, *limits))
        raw[0] ^= 1  # the lowest bit of the first little-endian sample
        return bytes(raw)

    monkeypatch.setattr(general, "_decompress", decompress)
    out = tmp_path / "out"
    assert main(["--codec", "gzip", "--no-with-flac", "--dataset", str(folder), "--out", str(out), *QUIET]) == 1
    rows = failed_rows(out, "gzip")
    assert len(rows) == 2 and all("LosslessError" in r.error and "not bit-exact" in r.error for r in rows)


@pytest.fixture(scope="module")
def nac_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from baselines.nac.models import save_random_model

    base = tmp_path_factory.mktemp("nac")
    return {codec: save_random_model(codec, "tiny", base / codec, seed=1) for codec in ("dac", "encodec")}


def test_nac_catches_a_flipped_sample(folder, nac_weights, tmp_path, monkeypatch):
    from baselines.nac.cli import main
    from baselines.nac.codec import NacCodec

    real = NacCodec.decode
    monkeypatch.setattr(NacCodec, "decode", lambda self, data: (flipped(real(self, data)[0]), *real(self, data)[1:]))
    out = tmp_path / "out"
    argv = ["--codec", "dac", "--weights", str(nac_weights["dac"]), "--resample", "none", "--no-with-flac",
            "--dataset", str(folder), "--out", str(out), *QUIET]
    assert main(argv) == 1
    rows = failed_rows(out, "nac-dac")
    assert len(rows) == 2 and all("LosslessError" in r.error and "not bit-exact" in r.error for r in rows)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.llm_tiny import llama_tokenizer, save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny-llama", llama_tokenizer())


def test_in_context_coded_catches_a_flipped_sample(folder, tiny_llama, tmp_path, monkeypatch):
    from baselines.llm_incontext import method
    from baselines.llm_incontext.cli import main

    real = method.bytes_to_pcm
    monkeypatch.setattr(method, "bytes_to_pcm", lambda *args: flipped(real(*args)))
    out = tmp_path / "out"
    argv = ["--model", str(tiny_llama), "--dataset", str(folder), "--coded", "--chunks", "2", "--chunk-samples", "32",
            "--mapping", "bytes", "--out", str(out), *QUIET]
    assert main(argv) == 1
    rows = failed_rows(out, "llm-incontext")
    assert len(rows) == 2 and all("LosslessError" in r.error and "differs from the original" in r.error for r in rows)


def test_trilobyte_codec_catches_a_flipped_sample(folder, tmp_path, monkeypatch):
    from trilobyte.gpt2 import codec, estimate

    real = codec.decode
    monkeypatch.setattr(codec, "decode", lambda *args, **kw: (flipped(real(*args, **kw)[0]), *real(*args, **kw)[1:]))
    model = tiny_trilobyte_model(tmp_path / "model")
    out = tmp_path / "out"
    argv = ["--model", str(model), "--dataset", str(folder), "--split", "all", "--coded", "--frame-samples", "400",
            *TRILOBYTE_FLAGS, "--out", str(out), *QUIET]
    assert estimate.main(argv) == 1
    rows = failed_rows(out, "trilobyte")
    assert len(rows) == 2 and all("CodecError" in r.error and "differs from the input" in r.error for r in rows)


# -- NAC: the reconstruction is what transformers' own decoders give; codes cost log2 K bits


def reconstruction(codec, samples: np.ndarray, rate: int) -> np.ndarray:
    """The rounded reconstruction the stream encodes against (the input minus the residual)."""
    enc = codec.encode(samples, rate, 16)
    return samples - enc.residual, enc


def stream_codes(codec, data: bytes) -> tuple[np.ndarray, list[float]]:
    from baselines.nac.stream import HEADER, Header, unpack_codes, unpack_scales

    header = Header.unpack(data)
    (block,) = codec.blocks(header)
    n = header.codebooks * block.frames
    codes = unpack_codes(data[HEADER.size:], n, codec.width).reshape(header.codebooks, block.frames)
    scales = list(unpack_scales(data[HEADER.size + (n * codec.width + 7) // 8:], 1)) if header.scaled else []
    return codes, scales


def rounded(y: np.ndarray, length: int) -> np.ndarray:
    return np.clip(np.rint(y[:, :length].T.astype(np.float64) * 32768), -32768, 32767).astype(np.int64)


def test_encodec_reconstruction_is_transformers_decode_with_its_scale(nac_weights):
    """Dropping EnCodec's per-frame scale in decoding still round-trips (both sides drop it); this catches it."""
    from baselines.nac.coder import NacSettings, get_codec

    codec = get_codec(NacSettings("encodec", str(nac_weights["encodec"]), resample=False))
    samples = synth(2400, 2, 16, seed=3) // 8  # quiet: the scale is far from 1
    recon, enc = reconstruction(codec, samples, 24000)
    codes, scales = stream_codes(codec, enc.data)
    assert len(scales) == 1 and abs(scales[0] - 1) > 0.5
    with torch.inference_mode():
        out = codec.model.model.decode(torch.from_numpy(codes)[None, None], [torch.tensor([[scales[0]]])])[0]
    np.testing.assert_array_equal(recon, rounded(out[0].numpy(), 2400))


def test_dac_reconstruction_is_transformers_decode(nac_weights):
    from baselines.nac.coder import NacSettings, get_codec

    codec = get_codec(NacSettings("dac", str(nac_weights["dac"]), resample=False, normalize=False))
    samples = synth(2400, 1, 16, seed=4)
    recon, enc = reconstruction(codec, samples, 44100)
    codes, scales = stream_codes(codec, enc.data)
    assert not scales
    with torch.inference_mode():
        out = codec.model.model.decode(audio_codes=torch.from_numpy(codes)[None]).audio_values
    np.testing.assert_array_equal(recon, rounded(out.reshape(1, -1).numpy(), 2400))


def test_a_1024_entry_codebook_costs_10_bits_a_code():
    from transformers import DacModel

    from baselines.nac.codec import NacCodec
    from baselines.nac.configs import dac_config
    from baselines.nac.models import NacModel
    from baselines.nac.stream import HEADER, code_width

    assert code_width(1024) == 10 and code_width(1025) == 11 and code_width(2) == 1
    config = dac_config("tiny")
    config.codebook_size = 1024
    torch.manual_seed(0)
    codec = NacCodec(NacModel("dac", DacModel(config).eval(), {"origin": "random-init"}), codebooks=3,
                     resample_to_model=False, normalize=False)
    enc = codec.encode(synth(3200, 1, 16), 44100, 16)  # hop 32: 100 frames of 3 codes
    assert enc.bits["codes"] == 3000
    assert enc.code_bits_exact == 3000.0 == 300 * math.log2(1024)
    assert enc.bits["header"] == 8 * HEADER.size and enc.bits["scales"] == 0
    assert 8 * len(enc.data) == enc.bits["total"] == 8 * HEADER.size + 3000 + enc.bits["residual"] + \
        enc.bits["padding"]
