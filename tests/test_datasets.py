"""Datasets: the demo corpus, folders, conversions, fingerprints and group-aware splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import synth

from trilobyte.core import audio
from trilobyte.core.datasets import DatasetError, assign_splits, folder_dataset, get_dataset


def test_demo_corpus_is_real_and_at_the_stated_depths() -> None:
    music = get_dataset("demo-music")
    speech = get_dataset("demo-speech")
    speech48 = get_dataset("demo-speech48")
    hires = get_dataset("demo-24bit")
    assert len(music) > 100 and {r.bit_depth for r in music.refs} == {16}
    assert {r.sample_rate for r in speech.refs} == {8000} and len(speech) > 500
    assert {r.sample_rate for r in speech48.refs} == {48000}
    assert not any("Noise" in r.id for r in speech48.refs)
    assert len(hires) == 4 and {r.bit_depth for r in hires.refs} == {24}
    assert {r.sample_rate for r in hires.refs} == {44100, 96000}
    # really 24-bit: the low byte carries information in every clip
    for clip in hires.clips():
        assert clip.bit_depth == 24
        assert np.count_nonzero(clip.samples & 0xFF) > clip.samples.size // 4


def test_demo_ids_do_not_depend_on_where_the_project_lives() -> None:
    ids = [r.id for r in get_dataset("demo-24bit").refs]
    assert ids == sorted(["hires-96k24-a.flac", "hires-96k24-b.flac", "misc_burp.flac", "perc_swash.flac"])


def test_8bit_variants_convert_once_in_integers() -> None:
    native = get_dataset("demo-speech48")
    mulaw = get_dataset("demo-speech48-mulaw8")
    linear = get_dataset("demo-speech48", bit_depth=8, conversion="linear")
    assert mulaw.name == "demo-speech48-mulaw8" and linear.name == "demo-speech48-linear8"
    ref = native.refs[0]
    clip16, clip_mu, clip_lin = native.load(ref), mulaw.load(ref), linear.load(ref)
    assert clip_mu.bit_depth == clip_lin.bit_depth == 8
    np.testing.assert_array_equal(clip_mu.samples, audio.to_mulaw8(clip16.samples, 16))
    np.testing.assert_array_equal(clip_lin.samples, clip16.samples >> 8)
    assert clip_mu.raw_bits == clip16.raw_bits // 2
    assert len({native.fingerprint, mulaw.fingerprint, linear.fingerprint}) == 3


def test_24bit_to_16bit_keeps_top_bits() -> None:
    ds = get_dataset("demo-24bit", bit_depth=16)
    ref = ds.refs[0]
    full = get_dataset("demo-24bit").load(ref)
    np.testing.assert_array_equal(ds.load(ref).samples, full.samples >> 8)


def test_cannot_invent_bits() -> None:
    with pytest.raises(DatasetError, match="shallower than 24 bits"):
        get_dataset("demo-speech48", bit_depth=24)


def test_missing_dataset_names_expected_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=str(tmp_path / "librispeech")):
        get_dataset("librispeech", root=tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        get_dataset("no-such-dataset")


def test_registered_dataset_from_data_root(tmp_path: Path) -> None:
    # LibriSpeech layout: speaker/chapter/file; grouped by speaker
    for speaker in ("19", "26", "32", "39"):
        d = tmp_path / "librispeech" / "test-clean" / speaker / "100"
        d.mkdir(parents=True)
        for k in range(2):
            audio.write_pcm(d / f"{speaker}-100-{k:04d}.flac", synth(1600, 1, 16, seed=k), 16000, 16, "FLAC")
    ds = get_dataset("librispeech", root=tmp_path)
    assert len(ds) == 8 and {r.group for r in ds.refs} == {"19", "26", "32", "39"}
    assert ds.bit_depth is None and ds.domain == "speech"


def test_registered_dataset_refuses_wrong_sample_rate(tmp_path: Path) -> None:
    d = tmp_path / "vctk"
    d.mkdir()
    audio.write_pcm(d / "p225_001_mic1.wav", synth(1000, 1, 16), 44100, 16)
    with pytest.raises(DatasetError, match="expects 48000 Hz"):
        get_dataset("vctk", root=tmp_path)


def test_sc09_is_mulaw_8bit_grouped_by_speaker(tmp_path: Path) -> None:
    d = tmp_path / "sc09"
    d.mkdir()
    for speaker in ("0a7c2a8d", "0b09edd3", "0c40e715"):
        audio.write_pcm(d / f"Zero_{speaker}_nohash_0.wav", synth(1600, 1, 16), 16000, 16)
    ds = get_dataset("sc09", root=tmp_path)
    assert ds.name == "sc09" and ds.bit_depth == 8 and ds.conversion == "mulaw"
    assert {r.group for r in ds.refs} == {"0a7c2a8d", "0b09edd3", "0c40e715"}
    assert next(ds.clips()).samples.max() <= 127


def test_splits_are_deterministic_disjoint_and_complete() -> None:
    ds = get_dataset("demo-speech")
    parts = {s: ds.with_split(s) for s in ("train", "valid", "test")}
    again = {s: get_dataset("demo-speech", split=s) for s in ("train", "valid", "test")}
    for s in parts:
        assert [r.id for r in parts[s].refs] == [r.id for r in again[s].refs]
        assert parts[s].fingerprint == again[s].fingerprint
    groups = {s: {r.group for r in p.refs} for s, p in parts.items()}
    assert not groups["train"] & groups["valid"] and not groups["train"] & groups["test"]
    assert not groups["valid"] & groups["test"]
    assert sum(len(p) for p in parts.values()) == len(ds)
    assert 0.05 < len(parts["test"]) / len(ds) < 0.15


def test_split_keeps_groups_together(audio_folder: Path) -> None:
    ds = folder_dataset(audio_folder)
    assert {r.group for r in ds.refs} == {f"speaker{i}" for i in range(4)}
    seen = {}
    for split in ("train", "valid", "test"):
        for r in ds.with_split(split).refs:
            assert seen.setdefault(r.group, split) == split


def test_assign_splits_needs_three_groups() -> None:
    with pytest.raises(DatasetError, match="cannot split"):
        assign_splits(["a", "b"], 0.1, 0.1)
    assert sorted(assign_splits(["a", "b", "c"], 0.1, 0.1).values()) == ["test", "train", "valid"]


def test_folder_dataset_records_unreadable_files(audio_folder: Path) -> None:
    (audio_folder / "speaker0" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    ds = folder_dataset(audio_folder)
    broken = [r for r in ds.refs if r.error]
    assert len(broken) == 1 and "broken.wav" in broken[0].error
    with pytest.raises(audio.AudioError):
        ds.load(broken[0])


def test_limit_changes_name_and_fingerprint() -> None:
    full = get_dataset("demo-speech48")
    few = get_dataset("demo-speech48", limit=3)
    assert len(few) == 3 and few.name.endswith("first3") and few.fingerprint != full.fingerprint


def test_split_channels_makes_mono_clips(tmp_path: Path) -> None:
    track = tmp_path / "musdb18" / "train" / "Artist - Song"
    track.mkdir(parents=True)
    stereo = synth(2000, 2, 16)
    for stem in ("mixture", "drums", "bass"):
        audio.write_pcm(track / f"{stem}.wav", stereo, 44100, 16)
    for other in ("Other - A", "Other - B"):
        (tmp_path / "musdb18" / "train" / other).mkdir()
        audio.write_pcm(tmp_path / "musdb18" / "train" / other / "mixture.wav", stereo, 44100, 16)
    mono = get_dataset("musdb18-mono", root=tmp_path)
    assert len(mono) == 10 and all(r.out_channels == 1 for r in mono.refs)
    clip = mono.load(next(r for r in mono.refs if r.id.endswith("drums.wav#ch1")))
    np.testing.assert_array_equal(clip.samples[:, 0], stereo[:, 1])
    assert len(get_dataset("musdb18-stereo", root=tmp_path)) == 3
