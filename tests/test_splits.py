"""Splits that cannot leak: miniature real layouts of every registered dataset, grouped and split.

Each layout is a few real WAV/FLAC files (a few milliseconds each) named as the published dataset names
them. The data root's own name holds fragments that look like groups (``s1_``, ``unit9``, ``LJ999-``):
groups come from the path inside the dataset's folder only. Every layout also holds files its group rule
does not match: each must be an error naming the file, in every split, never a clip of its own group.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trilobyte.core.datasets import NO_GROUP, REGISTRY, DatasetError, get_dataset

SPLITS = ("train", "valid", "test")
ROOT_NAME = "backup_users1_unit9_LJ999-0001"  # looks like a VCTK speaker, a Birdvox unit, an LJ chapter


def write(path: Path, rate: int, channels: int = 1, depth: int = 16, seconds: float = 0.005) -> None:
    """A tiny real audio file: noise at ``depth`` bits, FLAC or WAV by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    frames = max(8, int(rate * seconds))
    if depth == 24:
        data = (rng.integers(-(2**23), 2**23, size=(frames, channels)) << 8).astype(np.int32)
        subtype = "PCM_24"
    else:
        data = rng.integers(-3000, 3000, size=(frames, channels)).astype(np.int16)
        subtype = "PCM_16"
    sf.write(path, data, rate, subtype=subtype, format="FLAC" if path.suffix == ".flac" else "WAV")


Layout = tuple[dict[str, str], list[str]]  # relative path -> expected group; files the rule must refuse


def sc09_speech_commands(base: Path) -> Layout:
    expected = {}
    for speaker in ("0a2b400e", "0b09edd3", "0c40e715", "1a892463", "ffd2ba2f"):
        for word in ("zero", "one", "nine"):
            for take in (0, 1):
                rel = f"{word}/{speaker}_nohash_{take}.wav"
                write(base / rel, 16000)
                expected[rel] = speaker
    write(base / "zero" / "recording.wav", 16000)
    # not SC09 at all: another word and the background noise of a full Speech Commands folder
    write(base / "yes" / "0a2b400e_nohash_0.wav", 16000)
    write(base / "_background_noise_" / "white_noise.wav", 16000)
    return expected, ["zero/recording.wav"]


def sc09_sashimi(base: Path) -> Layout:
    expected = {}
    folders = {"0a2b400e": "train", "0b09edd3": "train", "0c40e715": "valid", "1a892463": "test", "ffd2ba2f": "train"}
    for speaker, folder in folders.items():
        for word in ("Zero", "Five", "Eight"):
            rel = f"{folder}/{word}_{speaker}_nohash_0.wav"
            write(base / rel, 16000)
            expected[rel] = speaker
    write(base / "train" / "Zero_take.wav", 16000)
    return expected, ["train/Zero_take.wav"]


def vctk(base: Path) -> Layout:
    expected = {}
    for speaker in ("p225", "p226", "p227", "p228", "s5"):
        for utterance in ("001", "002"):
            for mic in ("mic1", "mic2"):
                rel = f"wav48_silence_trimmed/{speaker}/{speaker}_{utterance}_{mic}.flac"
                write(base / rel, 48000)
                expected[rel] = speaker
    write(base / "wav48_silence_trimmed" / "p225" / "p225_001_mic1 (copy).flac", 48000)
    return expected, ["wav48_silence_trimmed/p225/p225_001_mic1 (copy).flac"]


def librispeech(base: Path) -> Layout:
    expected = {}
    for speaker, chapters in (("19", ("198", "227")), ("26", ("495",)), ("32", ("21631",)), ("39", ("121914",))):
        for chapter in chapters:
            for k in range(2):
                rel = f"train-clean-100/{speaker}/{chapter}/{speaker}-{chapter}-{k:04d}.flac"
                write(base / rel, 16000)
                expected[rel] = speaker
    write(base / "train-clean-100" / "19" / "198" / "notes.flac", 16000)
    return expected, ["train-clean-100/19/198/notes.flac"]


def librispeech_flat(base: Path) -> Layout:
    expected = {}
    for speaker in ("19", "26", "32", "39"):
        for k in range(2):
            rel = f"{speaker}-100-{k:04d}.flac"
            write(base / rel, 16000)
            expected[rel] = speaker
    return expected, []


def musdb(stereo: bool) -> Callable[[Path], Layout]:
    def layout(base: Path) -> Layout:
        expected = {}
        tracks = {"train": ("A Classic Education - NightOwl", "ANiMAL - Clinic A", "Actions - Devil's Words"),
                  "test": ("Al James - Schoolboy Facination", "AM Contra - Heart Peripheral")}
        for folder, names in tracks.items():
            for track in names:
                for stem in ("mixture", "drums", "bass", "other", "vocals"):
                    rel = f"{folder}/{track}/{stem}.wav"
                    write(base / rel, 44100, channels=2)
                    if stem == "mixture" or not stereo:
                        expected[rel] = track
        write(base / "train" / "stray.wav", 44100, channels=2)
        write(base / "mixture.wav", 44100, channels=2)
        return expected, ["mixture.wav"] if stereo else ["mixture.wav", "train/stray.wav"]

    return layout


def birdvox(base: Path) -> Layout:
    expected = {}
    for unit in ("unit01", "unit02", "unit03", "unit05", "unit07"):
        rel = f"BirdVox-full-night/BirdVox-full-night_{unit}.flac"
        write(base / rel, 24000)
        expected[rel] = unit
        for k in range(2):
            rel = f"clips/{unit}/{unit}_{k:08d}.wav"
            write(base / rel, 24000)
            expected[rel] = unit
    write(base / "clips" / "calibration.wav", 24000)
    return expected, ["clips/calibration.wav"]


def ljspeech(base: Path) -> Layout:
    expected = {}
    for chapter in ("LJ001", "LJ002", "LJ003", "LJ004", "LJ050"):
        for k in (1, 2, 3):
            rel = f"wavs/{chapter}-{k:04d}.wav"
            write(base / rel, 22050)
            expected[rel] = chapter
    write(base / "wavs" / "LJ001-0001-copy.wav", 22050)
    return expected, ["wavs/LJ001-0001-copy.wav"]


def one_group_per_file(names: list[str], rate: int, channels: int = 1) -> Callable[[Path], Layout]:
    def layout(base: Path) -> Layout:
        for rel in names:
            write(base / rel, rate, channels)
        return {rel: Path(rel).stem for rel in names}, []

    return layout


def commercial(depth: int) -> Callable[[Path], Layout]:
    def layout(base: Path) -> Layout:
        expected = {}
        albums = ("Artist A/Greatest Hits", "Artist B/Greatest Hits", "Artist B/Live", "Artist C/Debut")
        for album in albums:
            for k in (1, 2):
                rel = f"{album}/{k:02d} Song.flac"
                write(base / rel, 44100, channels=2, depth=depth)
                expected[rel] = album
        write(base / "single.flac", 44100, channels=2, depth=depth)
        return expected, ["single.flac"]

    return layout


LAYOUTS: dict[str, tuple[str, str, Callable[[Path], Layout]]] = {
    # test id: (registered name, folder under the data root, layout)
    "sc09-speech-commands": ("sc09", "sc09", sc09_speech_commands),
    "sc09-sashimi": ("sc09", "sc09", sc09_sashimi),
    "vctk": ("vctk", "vctk", vctk),
    "librispeech": ("librispeech", "librispeech", librispeech),
    "librispeech-flat": ("librispeech", "librispeech", librispeech_flat),
    "musdb18-mono": ("musdb18-mono", "musdb18", musdb(stereo=False)),
    "musdb18-stereo": ("musdb18-stereo", "musdb18", musdb(stereo=True)),
    "birdvox": ("birdvox", "birdvox", birdvox),
    "ljspeech": ("ljspeech", "ljspeech", ljspeech),
    "beethoven": ("beethoven", "beethoven", one_group_per_file([f"{k}.wav" for k in range(6)], 16000)),
    "youtubemix": ("youtubemix", "youtubemix", one_group_per_file([f"out{k:03d}.wav" for k in range(6)], 16000)),
    "epidemic": (
        "epidemic",
        "epidemic",
        one_group_per_file([f"{c}/{c} {k}.wav" for c in ("Doors", "Rain", "Cars") for k in (1, 2)], 48000),
    ),
    "commercial16": ("commercial16", "commercial16", commercial(16)),
    "commercial24": ("commercial24", "commercial24", commercial(24)),
}


def test_every_registered_paper_dataset_has_a_layout() -> None:
    paper = {name for name, spec in REGISTRY.items() if not spec.demo and spec.splits is None}  # not dev-*
    assert {name for name, _, _ in LAYOUTS.values()} == paper


@pytest.mark.parametrize("case", list(LAYOUTS))
def test_no_group_crosses_splits(case: str, tmp_path: Path) -> None:
    name, folder, layout = LAYOUTS[case]
    root = tmp_path / ROOT_NAME
    expected, strays = layout(root / folder)
    ds = get_dataset(name, root=root)

    good = {r.id.split("#")[0]: r.group for r in ds.refs if not r.error}
    assert good == expected  # every file of the layout, in the group its name says, and nothing else
    placed: dict[str, str] = {}
    for split in SPLITS:
        part = ds.with_split(split)
        for ref in part.refs:
            if not ref.error:
                assert placed.setdefault(ref.group, split) == split, f"{ref.group} is in two splits"
        assert sorted(r.id for r in part.refs if r.error) == sorted(strays)
    assert set(placed) == set(expected.values()) and set(placed.values()) == set(SPLITS)


RULES_THAT_CAN_REFUSE = [c for c in LAYOUTS if c not in ("librispeech-flat", "beethoven", "youtubemix", "epidemic")]


@pytest.mark.parametrize("case", RULES_THAT_CAN_REFUSE)
def test_a_file_the_group_rule_does_not_match_is_an_error_naming_it(case: str, tmp_path: Path) -> None:
    name, folder, layout = LAYOUTS[case]
    root = tmp_path / ROOT_NAME
    _, strays = layout(root / folder)
    assert strays
    for split in ("all", *SPLITS):
        ds = get_dataset(name, root=root, split=split)
        for stray in strays:
            (ref,) = [r for r in ds.refs if r.id == stray]
            assert ref.group == NO_GROUP and str(root / folder / stray) in ref.error
            assert "group rule" in ref.error and name in ref.error
            with pytest.raises(DatasetError, match=re.escape(str(root / folder / stray))):
                ds.load(ref)


def test_vctk_microphones_of_one_utterance_share_a_split(tmp_path: Path) -> None:
    root = tmp_path / ROOT_NAME
    vctk(root / "vctk")
    ds = get_dataset("vctk", root=root)
    split_of = {r.id: s for s in SPLITS for r in ds.with_split(s).refs if not r.error}
    for speaker in ("p225", "p226", "p227", "p228", "s5"):
        for utterance in ("001", "002"):
            rel = f"wav48_silence_trimmed/{speaker}/{speaker}_{utterance}"
            assert split_of[f"{rel}_mic1.flac"] == split_of[f"{rel}_mic2.flac"]


def test_a_file_without_a_group_is_never_trained_on(tmp_path: Path) -> None:
    root = tmp_path / ROOT_NAME
    ljspeech(root / "ljspeech")
    train = get_dataset("ljspeech", root=root, split="train")
    with pytest.raises(DatasetError, match=re.escape("LJ001-0001-copy.wav")):
        list(train.clips())
