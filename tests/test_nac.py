"""NAC + Rice baselines: bit-exact round trips (also decoded by a fresh process), accounting, weights."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from baselines import residuals  # noqa: E402
from baselines.nac import cli as nac  # noqa: E402
from baselines.nac import models as nac_models  # noqa: E402
from baselines.nac import resample as nac_resample  # noqa: E402
from baselines.nac.codec import NacCodec  # noqa: E402
from baselines.nac.coder import NacSettings, get_codec  # noqa: E402
from baselines.nac.configs import NacError  # noqa: E402
from baselines.nac.stream import HEADER, Header, NacStreamError, pack_codes, unpack_codes  # noqa: E402
from trilobyte.core import audio  # noqa: E402
from trilobyte.core.datasets import get_dataset  # noqa: E402
from trilobyte.core.protocol import RateResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[str, Path]:
    """Randomly initialised tiny DAC (mono) and EnCodec (stereo, normalizing) saved to disk."""
    base = tmp_path_factory.mktemp("weights")
    return {codec: nac_models.save_random_model(codec, "tiny", base / codec, seed=1)
            for codec in ("dac", "encodec")}


def codec_for(weights: dict[str, Path], codec: str, **kwargs) -> NacCodec:
    return get_codec(NacSettings(codec, str(weights[codec]), **kwargs))


def demo_clips() -> list:
    """Mono and stereo 44.1 kHz music, 8 kHz speech and 24-bit audio, cut short."""
    clips = []
    for name, limit in (("demo-music", 3), ("demo-speech", 1), ("demo-24bit", 1)):
        ds = get_dataset(name, split="test", limit=limit)
        for clip in ds.clips():
            clip.samples = clip.samples[:30000]
            clips.append(clip)
    assert {c.channels for c in clips} == {1, 2} and {c.bit_depth for c in clips} == {16, 24}
    return clips


@pytest.mark.parametrize(
    ("codec", "resample", "normalize"),
    [("dac", True, True), ("dac", False, False), ("encodec", True, True), ("encodec", False, True)],
)
def test_round_trip_in_process(weights, codec, resample, normalize):
    c = codec_for(weights, codec, resample=resample, normalize=normalize)
    for clip in demo_clips():
        enc = c.encode(clip.samples, clip.sample_rate, clip.bit_depth)
        decoded, rate, depth = c.decode(enc.data)
        np.testing.assert_array_equal(decoded, clip.samples)
        assert (rate, depth) == (clip.sample_rate, clip.bit_depth)
        # Accounting: every bit of the stream is in the breakdown, codes at ceil(log2 K) bits each.
        header = Header.unpack(enc.data)
        blocks = c.blocks(header)
        groups = c.groups(clip.channels)
        n_codes = len(groups) * sum(c.codebooks * b.frames for b in blocks)
        assert enc.bits["total"] == 8 * len(enc.data)
        assert enc.bits["header"] == 8 * HEADER.size == 232
        assert enc.bits["codes"] == n_codes * c.width
        assert enc.code_bits_exact == pytest.approx(n_codes * math.log2(c.model.codebook_size))
        assert header.scaled == normalize  # EnCodec's tiny config normalizes; DAC's gain is the pipeline's
        assert enc.bits["scales"] == (16 * len(groups) * len(blocks) if normalize else 0)
        assert header.resampled == (resample and clip.sample_rate != c.model.sample_rate)
        recon = clip.samples - enc.residual  # the rounded, clipped reconstruction: inside the depth's range
        top = 1 << (clip.bit_depth - 1)
        assert recon.min() >= -top and recon.max() < top
        assert residuals.histogram(enc.residual)["count"] == clip.samples.size


@pytest.mark.parametrize("bits", [12, 20])
def test_odd_depths_code_at_their_own_depth(weights, bits):
    from conftest import synth

    c = codec_for(weights, "dac", resample=False, normalize=False)
    samples = synth(6000, 1, bits)
    enc = c.encode(samples, 44100, bits)
    decoded, rate, depth = c.decode(enc.data)
    np.testing.assert_array_equal(decoded, samples)
    assert (rate, depth) == (44100, bits)


def test_depths_beyond_float32_are_refused_by_name(weights):
    c = codec_for(weights, "dac", resample=False, normalize=False)
    with pytest.raises(NacError, match=r"exact up to 24 bits.*this file is 32-bit"):
        c.encode(np.zeros((100, 1), np.int32), 44100, 32)


def test_block_layout(weights):
    c = codec_for(weights, "dac", block_seconds=0.5)
    header = c.header_for(50000, 1, 44100, 16)
    blocks = c.blocks(header)
    assert [b.length for b in blocks] == [22050, 22050, 5900]
    hop = c.model.hop_length
    assert all(b.model_length % hop == 0 and b.model_length - hop < b.length <= b.model_length for b in blocks)
    resampled = c.header_for(8000, 1, 8000, 16)  # 8 kHz file, 44.1 kHz model
    b0, _ = c.blocks(resampled)
    assert resampled.resampled and b0.length == 4000
    assert b0.model_length >= nac_resample.resampled_length(4000, 8000, 44100) > b0.model_length - hop


def write_wav(path: Path, samples: np.ndarray, rate: int, depth: int) -> Path:
    audio.write_pcm(path, samples, rate, depth)
    return path


@pytest.mark.parametrize("codec", ["dac", "encodec"])
def test_a_fresh_process_decodes_exactly(weights, codec, tmp_path):
    """Encode here; decode with `python -m baselines.nac decode` in a new process; compare bit for bit."""
    music = get_dataset("demo-music", split="test", limit=2)
    stereo = next(c for c in music.clips() if c.channels == 2)
    speech = next(get_dataset("demo-speech", split="test", limit=1).clips())
    jobs = []
    for name, clip in (("stereo", stereo), ("speech8k", speech)):
        wav = write_wav(tmp_path / f"{name}.wav", clip.samples[:40000], clip.sample_rate, clip.bit_depth)
        jobs.append((wav, tmp_path / f"{name}.tnac", tmp_path / f"{name}.decoded.wav"))
    common = ["--codec", codec, "--weights", str(weights[codec])]
    assert nac.main(["encode", *common, *[str(p) for wav, stream, _ in jobs for p in (wav, stream)]]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "baselines.nac", "decode", *common,
         *[str(p) for _, stream, out in jobs for p in (stream, out)]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for wav, _, out in jobs:
        original, info = audio.read_pcm(wav)
        decoded, info2 = audio.read_pcm(out)
        np.testing.assert_array_equal(decoded, original)
        assert (info2.sample_rate, info2.bit_depth) == (info.sample_rate, info.bit_depth)


def test_cli_run_results_labelled_and_with_histograms(weights, tmp_path):
    out = tmp_path / "results"
    argv = ["--codec", "encodec", "--weights", str(weights["encodec"]), "--dataset", "demo-music", "--split", "test",
            "--limit", "2", "--block-seconds", "0.5", "--out", str(out), "--no-progress"]
    assert nac.main(argv) == 0
    (path,) = out.glob("*/nac-encodec/*.json")
    result = RateResult.from_dict(json.loads(path.read_text()))
    assert result.mode == "coded" and not result.failures and len(result.files) == 2
    assert result.config["weights_origin"] == "random-init"
    assert path.name.startswith("random-") and "random" in result.extra["note"]
    assert result.model_parameters == get_codec(NacSettings("encodec", str(weights["encodec"].resolve()),
                                                                    None, 0.5)).model.parameters
    hist = result.extra["residual_histogram"]
    assert hist["count"] == sum(f.num_samples * f.channels for f in result.files) == sum(hist["counts"])
    for row in result.files:
        assert row.compressed_bits == row.extra["bits"]["total"]
    (flac_path,) = out.glob("*/flac-frames/*.json")
    flac = RateResult.from_dict(json.loads(flac_path.read_text()))
    assert flac.extra["residual_histogram"]["edges"] == residuals.EDGES.tolist()
    assert nac.main(argv) == 0  # a re-run finds the finished results


def test_other_weights_cannot_decode(weights, tmp_path):
    clip = next(get_dataset("demo-speech", split="test", limit=1).clips())
    data = codec_for(weights, "dac").encode(clip.samples[:8000], 8000, 16).data
    other = nac_models.save_random_model("dac", "tiny", tmp_path / "other", seed=2)
    with pytest.raises(NacStreamError, match="coded with model"):
        get_codec(NacSettings("dac", str(other))).decode(data)
    with pytest.raises((NacStreamError, ValueError)):
        codec_for(weights, "dac").decode(data[: len(data) // 2])
    with pytest.raises(NacStreamError, match="magic"):
        codec_for(weights, "dac").decode(b"XXXX" + data[4:])


def test_weights_errors(weights, tmp_path, caplog):
    with pytest.raises(NacError, match="needs --weights"):
        nac_models.load_model("dac", None)
    with pytest.raises(NacError, match="not found"):
        nac_models.load_model("encodec", tmp_path / "missing")
    with pytest.raises(NacError, match="'dac' model"):
        nac_models.load_model("encodec", weights["dac"])
    assert nac.main(["--codec", "dac", "--dataset", "demo-speech", "--out", str(tmp_path)]) == 2
    assert "needs --weights PATH" in caplog.text
    with pytest.raises(NacError, match="codebooks"):
        codec_for(weights, "dac", codebooks=99)


def test_code_packing():
    codes = np.array([0, 1, 1023, 512, 7], dtype=np.int64)
    data = pack_codes(codes, 10)
    assert len(data) == 7  # 50 bits
    np.testing.assert_array_equal(unpack_codes(data, 5, 10), codes)
    assert pack_codes(np.array([1, 2, 3]), 2) == bytes([0b01101100])


def test_resampling_is_band_limited_and_repeatable():
    t = torch.arange(44100, dtype=torch.float64) / 44100
    x = torch.sin(2 * math.pi * 1000 * t).float()[None]
    y = nac_resample.resample(x, 44100, 24000)
    ref = torch.sin(2 * math.pi * 1000 * torch.arange(24000, dtype=torch.float64) / 24000).float()
    assert y.shape == (1, 24000)
    assert float((y[0, 300:-300] - ref[300:-300]).abs().max()) < 1e-3
    assert torch.equal(nac_resample.resample(x, 44100, 24000), y)
    assert nac_resample.resample(x, 44100, 44100) is x


# ------------------------------------------------------------------------------- conversions


class Snake1d(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.rand(1, channels, 1) + 0.5)

    def forward(self, x):
        return x + (self.alpha + 1e-9).reciprocal() * torch.sin(self.alpha * x).pow(2)


def wn(module):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(module)  # the original package's weight_g / weight_v names


class ResidualUnit(torch.nn.Module):
    def __init__(self, dim: int, dilation: int) -> None:
        super().__init__()
        self.block = torch.nn.Sequential(
            Snake1d(dim), wn(torch.nn.Conv1d(dim, dim, 7, dilation=dilation, padding=3 * dilation)),
            Snake1d(dim), wn(torch.nn.Conv1d(dim, dim, 1)))

    def forward(self, x):
        return x + self.block(x)


def original_dac(dim: int, rates: list[int], latent: int, dec: int, dec_rates: list[int], books: int, size: int,
                 book_dim: int) -> torch.nn.Module:
    """DAC 1.0's module tree (descript-audio-codec): encoder.block, decoder.model, quantizer.quantizers."""
    enc = [wn(torch.nn.Conv1d(1, dim, 7, padding=3))]
    d = dim
    for s in rates:
        enc.append(torch.nn.Module())
        enc[-1].block = torch.nn.Sequential(ResidualUnit(d, 1), ResidualUnit(d, 3), ResidualUnit(d, 9), Snake1d(d),
                                            wn(torch.nn.Conv1d(d, 2 * d, 2 * s, stride=s, padding=math.ceil(s / 2))))
        enc[-1].forward = enc[-1].block.forward
        d *= 2
    enc += [Snake1d(d), wn(torch.nn.Conv1d(d, latent, 3, padding=1))]
    model = torch.nn.Module()
    model.encoder = torch.nn.Module()
    model.encoder.block = torch.nn.Sequential(*enc)
    layers = [wn(torch.nn.Conv1d(latent, dec, 7, padding=3))]
    for i, s in enumerate(dec_rates):
        a, b = dec // 2**i, dec // 2 ** (i + 1)
        layers.append(torch.nn.Module())
        layers[-1].block = torch.nn.Sequential(
            Snake1d(a), wn(torch.nn.ConvTranspose1d(a, b, 2 * s, stride=s, padding=math.ceil(s / 2))),
            ResidualUnit(b, 1), ResidualUnit(b, 3), ResidualUnit(b, 9))
        layers[-1].forward = layers[-1].block.forward
    layers += [Snake1d(b), wn(torch.nn.Conv1d(b, 1, 7, padding=3)), torch.nn.Tanh()]
    model.decoder = torch.nn.Module()
    model.decoder.model = torch.nn.Sequential(*layers)
    model.quantizer = torch.nn.Module()
    model.quantizer.quantizers = torch.nn.ModuleList()
    for _ in range(books):
        q = torch.nn.Module()
        q.in_proj = wn(torch.nn.Conv1d(latent, book_dim, 1))
        q.out_proj = wn(torch.nn.Conv1d(book_dim, latent, 1))
        q.codebook = torch.nn.Embedding(size, book_dim)
        model.quantizer.quantizers.append(q)
    return model


def test_original_dac_checkpoint_converts_to_the_same_function(tmp_path):
    torch.manual_seed(0)
    kwargs = {"encoder_dim": 4, "encoder_rates": [2, 4], "latent_dim": 16, "decoder_dim": 16,
              "decoder_rates": [4, 2], "n_codebooks": 3, "codebook_size": 64, "codebook_dim": 4,
              "quantizer_dropout": 0.0, "sample_rate": 16000}
    original = original_dac(4, [2, 4], 16, 16, [4, 2], 3, 64, 4).eval()
    with torch.no_grad():
        for name, p in original.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.rand_like(p) + 0.5)  # g differs from ||v||: the conversion must use both
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": original.state_dict(), "metadata": {"kwargs": kwargs}}, path)
    converted = nac_models.load_model("dac", path)
    assert converted.origin["origin"] == "converted" and converted.sample_rate == 16000
    model = converted.model
    x = torch.randn(2, 1, 64) * 0.3
    with torch.no_grad():
        z = original.encoder.block(x)
        torch.testing.assert_close(model.encoder(x), z, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.decoder(z), original.decoder.model(z), rtol=1e-5, atol=1e-6)
        for q, hf in zip(original.quantizer.quantizers, model.quantizer.quantizers, strict=True):
            torch.testing.assert_close(hf.in_proj(z), q.in_proj(z), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(hf.codebook.weight, q.codebook.weight)
    bad = tmp_path / "bad.pth"
    torch.save({"state_dict": {"encoder.block.0.weight_g": torch.zeros(1)}, "metadata": {"kwargs": kwargs}}, bad)
    with pytest.raises(NacError, match="does not fit"):
        nac_models.load_model("dac", bad)


def encodec_original_names(model) -> dict[str, str]:
    """The encodec package's names (SEANet's SConv1d.conv.conv, SConvTranspose1d.convtr.convtr, SLSTM.lstm,
    ResidualVectorQuantizer.vq.layers._codebook) for each tensor of a transformers EnCodec model."""
    import re

    out = {}
    for name in model.state_dict():
        orig = name.replace("parametrizations.weight.original0", "weight_g")
        orig = orig.replace("parametrizations.weight.original1", "weight_v")
        m = re.fullmatch(r"quantizer\.layers\.(\d+)\.codebook\.(\w+)", orig)
        if m:
            out[f"quantizer.vq.layers.{m[1]}._codebook.{m[2]}"] = name
            continue
        side, index, rest = re.fullmatch(r"(encoder|decoder)\.layers\.(\d+)\.(.*)", orig).groups()
        layer = getattr(model, side).layers[int(index)]
        if rest.startswith("lstm."):
            tail = rest
        elif rest.startswith("conv."):
            transposed = isinstance(layer.conv, torch.nn.ConvTranspose1d)
            tail = ("convtr.convtr." if transposed else "conv.conv.") + rest[len("conv."):]
        else:
            tail = re.sub(r"^(block\.\d+|shortcut)\.conv\.", r"\1.conv.conv.", rest)
        out[f"{side}.model.{index}.{tail}"] = name
    return out


def test_original_encodec_checkpoint_names(tmp_path):
    torch.manual_seed(0)
    reference = __import__("transformers").EncodecModel(nac_models.encodec_config("24khz"))
    state = reference.state_dict()
    mapping = encodec_original_names(reference)
    assert "encoder.model.0.conv.conv.weight_g" in mapping and "decoder.model.3.convtr.convtr.weight_v" in mapping
    assert "encoder.model.1.block.1.conv.conv.bias" in mapping and "encoder.model.13.lstm.weight_hh_l1" in mapping
    path = tmp_path / "encodec_24khz.th"
    torch.save({orig: state[hf] for orig, hf in mapping.items()}, path)
    converted = nac_models.load_model("encodec", path).model
    for name, tensor in converted.state_dict().items():
        torch.testing.assert_close(tensor, state[name])


# ---------------------------------------------------------------------------------- training


def test_custom_dac_trains_saves_and_codes_losslessly(tmp_path):
    out = tmp_path / "custom"
    argv = ["train", "--dataset", "demo-speech", "--preset", "tiny", "--steps", "3", "--batch-size", "2",
            "--window", "1024", "--val-windows", "2", "--limit", "40", "--out", str(out)]
    assert nac.main(argv) == 0
    info = json.loads((out / "nac.json").read_text())
    assert info["origin"] == "trained here" and info["steps"] == 3 and info["sample_rate"] == 8000
    assert info["loss"]["adversarial"] is None and set(info["valid_mean_abs_error_lsb"]) == {"1", "2", "3", "4"}
    assert len((out / "train_log.jsonl").read_text().splitlines()) == 3
    assert nac.main(argv) == 1  # an existing model is not overwritten without --overwrite
    codec = get_codec(NacSettings("custom-dac", str(out)))
    assert codec.codebooks == 4 and codec.model.sample_rate == 8000
    clip = next(get_dataset("demo-speech", split="test", limit=1).clips())
    enc = codec.encode(clip.samples, clip.sample_rate, clip.bit_depth)
    np.testing.assert_array_equal(codec.decode(enc.data)[0], clip.samples)
    assert not Header.unpack(enc.data).resampled
