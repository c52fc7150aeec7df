"""Audio between the whole-byte depths (12 and 20-bit FLAC, 4 to 32 bits in all) through every method.

Each method either codes the file at its own depth, verified bit-exactly, or refuses it by name with
the reason, as a failed row: never a crash and never a silent conversion.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from baselines.classical import pcm
from baselines.classical.codecs import WAVPACK
from baselines.classical.commands import UnsupportedInput, make_coder
from baselines.classical.general import COMPRESSORS, GeneralCoder
from baselines.flac.codec import FlacSettings, encode
from baselines.flac.coder import FlacCoder
from baselines.llm_incontext.mappings import pcm_to_bytes
from trilobyte import audio
from trilobyte.datasets import AudioClip, folder_dataset
from trilobyte.runner import code_ref
from trilobyte.tokenize import TokenizeError, TokenizerSettings


def clip_of(bits: int, channels: int = 2, n: int = 4000) -> AudioClip:
    return AudioClip(f"d{bits}", Path(f"d{bits}.flac"), synth(n, channels, bits, seed=bits), 44100, bits, "test", "g")


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "odd"
    for i, bits in enumerate((12, 20, 12, 20)):
        (folder / f"g{i}").mkdir(parents=True)
        data = encode(synth(3000 + i, 1 + i % 2, bits, seed=i), 44100, bits, FlacSettings(5))
        (folder / f"g{i}" / f"c{i}.flac").write_bytes(data)
    return folder


def test_a_12_bit_file_is_read_at_12_bits(odd_folder: Path) -> None:
    """libsndfile refused 12 and 20-bit FLAC ("unimplemented format"); libFLAC reads them exactly."""
    ds = folder_dataset(odd_folder)
    assert [r.error for r in ds.refs] == [None] * 4
    clip = ds.load(ds.refs[0])
    assert clip.bit_depth == 12 and clip.raw_bits == clip.samples.size * 12
    np.testing.assert_array_equal(clip.samples, synth(3000, 1, 12, seed=0))
    assert clip.samples.min() >= -2048 and clip.samples.max() <= 2047


@pytest.mark.parametrize("bits", [4, 12, 20, 32])
def test_flac_codes_odd_depths_at_their_own_depth(bits: int) -> None:
    clip = clip_of(bits)
    row = FlacCoder(FlacSettings(5)).code_file(clip)
    assert row.ok and row.bit_depth == bits and row.raw_bits == clip.samples.size * bits


@pytest.mark.parametrize("compressor", sorted(COMPRESSORS))
@pytest.mark.parametrize("bits", [12, 20])
def test_general_compressors_code_odd_depths_right_justified(compressor: str, bits: int) -> None:
    clip = clip_of(bits, n=2000)
    data = pcm.to_bytes(clip.samples, bits)
    assert len(data) == clip.samples.size * pcm.byte_width(bits)
    width = pcm.byte_width(bits)
    first = int.from_bytes(data[:width], "little", signed=True)
    assert first == clip.samples[0, 0] == -(1 << (bits - 1))  # the value itself, sign-extended, not shifted up
    row = GeneralCoder.create(compressor).code_file(clip)
    assert row.ok and row.raw_bits == clip.samples.size * bits


@pytest.mark.skipif(shutil.which("wavpack") is None, reason="wavpack is not installed")
def test_command_line_codecs_refuse_odd_depths_by_name() -> None:
    clip = clip_of(12)
    with pytest.raises(UnsupportedInput, match=r"WavPack .*8, 16 or 24-bit samples; this file is 12-bit"):
        make_coder(WAVPACK).code_file(clip)


def test_refusals_are_failed_rows_of_the_runner(odd_folder: Path) -> None:
    ds = folder_dataset(odd_folder)
    if shutil.which("wavpack") is None:
        pytest.skip("wavpack is not installed")
    flac_row, wavpack_row = code_ref(ds, [FlacCoder(FlacSettings(5)), make_coder(WAVPACK)], ds.refs[0], [0, 1])
    assert flac_row.ok and flac_row.bit_depth == 12
    assert not wavpack_row.ok and "this file is 12-bit" in wavpack_row.error
    assert wavpack_row.raw_bits == 3000 * 12


@pytest.mark.parametrize("bits", [12, 20])
def test_trilobyte_tokens_refuse_odd_depths_with_the_reason(bits: int) -> None:
    with pytest.raises(TokenizeError, match=rf"byte tokens need 8, 16 or 24-bit audio .*this file is {bits}-bit"):
        TokenizerSettings("bytes", 24).check_depth(bits)


def test_in_context_llm_refuses_odd_depths_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"need 8, 16 or 24-bit audio .*this file is 12-bit"):
        pcm_to_bytes(synth(100, 1, 12), 12)


def test_audio_conversions_accept_odd_source_depths() -> None:
    s12 = synth(1000, 1, 12)
    np.testing.assert_array_equal(audio.to_linear8(s12, 12), s12 >> 4)
    assert audio.to_mulaw8(s12, 12).min() == -128 and audio.to_mulaw8(s12, 12).max() == 127
    with pytest.raises(ValueError, match="libsndfile writes 8, 16 or 24-bit"):
        audio.write_pcm(io_target := Path("/nonexistent/x.wav"), s12, 8000, 12)
    assert not io_target.exists()
