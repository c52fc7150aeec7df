"""The neural codecs' model configurations (DAC and EnCodec presets) and the error they share."""

from __future__ import annotations

from typing import Any


class NacError(ValueError):
    """A codec that cannot be used as asked: missing or mismatched weights, unknown settings."""


def dac_config(preset: str, sample_rate: int | None = None) -> Any:
    """A ``DacConfig``: ``paper`` is DAC-44.1kHz (76M parameters, hop 512, 9 codebooks); ``cpu`` a small
    one that trains on a CPU in minutes (0.7M parameters, hop 256, 8 codebooks); ``tiny`` for tests."""
    from transformers import DacConfig

    if preset == "paper":
        return DacConfig(encoder_hidden_size=64, downsampling_ratios=[2, 4, 8, 8], hidden_size=1024,
                         decoder_hidden_size=1536, upsampling_ratios=[8, 8, 4, 2], n_codebooks=9,
                         codebook_size=1024, codebook_dim=8, quantizer_dropout=0.5,
                         sampling_rate=sample_rate or 44100)
    if preset == "cpu":
        return DacConfig(encoder_hidden_size=8, downsampling_ratios=[2, 4, 4, 8], hidden_size=64,
                         decoder_hidden_size=128, upsampling_ratios=[8, 4, 4, 2], n_codebooks=8,
                         codebook_size=1024, codebook_dim=8, quantizer_dropout=0.5,
                         sampling_rate=sample_rate or 44100)
    if preset == "tiny":
        return DacConfig(encoder_hidden_size=4, downsampling_ratios=[2, 4, 4], hidden_size=32,
                         decoder_hidden_size=32, upsampling_ratios=[4, 4, 2], n_codebooks=4,
                         codebook_size=256, codebook_dim=4, quantizer_dropout=0.0,
                         sampling_rate=sample_rate or 44100)
    raise NacError(f"unknown DAC preset {preset!r}; choose from {', '.join(DAC_PRESETS)}")


DAC_PRESETS = ("tiny", "cpu", "paper")


def encodec_config(preset: str) -> Any:
    """An ``EncodecConfig``: ``24khz`` and ``48khz`` as released (mono causal; stereo, normalized,
    1 s chunks), ``tiny`` a small normalized stereo one for tests."""
    from transformers import EncodecConfig

    if preset == "24khz":
        return EncodecConfig()
    if preset == "48khz":
        return EncodecConfig(upsampling_ratios=[8, 5, 4, 2], target_bandwidths=[3.0, 6.0, 12.0, 24.0],
                             sampling_rate=48000, audio_channels=2, use_causal_conv=False,
                             norm_type="time_group_norm", normalize=True, chunk_length_s=1.0, overlap=0.01)
    if preset == "tiny":
        return EncodecConfig(num_filters=4, hidden_size=16, codebook_dim=16, codebook_size=256,
                             upsampling_ratios=[4, 4, 2], num_lstm_layers=1, target_bandwidths=[6.0, 30.0],
                             sampling_rate=24000, audio_channels=2, normalize=True)
    raise NacError(f"unknown EnCodec preset {preset!r}; choose from 24khz, 48khz, tiny")


