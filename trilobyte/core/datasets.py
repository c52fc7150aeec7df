"""Clips, datasets, the named registry, group-aware splits and the embedded demo corpus.

A :class:`Dataset` is a list of :class:`ClipRef` (file, group, header facts) plus what every method
must see: the evaluated bit depth and the integer conversion that produces it, and a split. Samples
are read only when a clip is loaded, and converted once, here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from trilobyte.core import audio
from trilobyte.core.devcorpus import manifest as devmanifest

log = logging.getLogger("trilobyte.core.datasets")
SPLITS = ("all", "train", "valid", "test")
DATA_ROOT_ENV = "TRILOBYTE_DATA"
DEFAULT_DATA_ROOT = Path("~/trilobyte-data")
PACKAGE_AUDIO = Path(__file__).resolve().parent / "demo_audio"
NO_GROUP = ""  # the group of a file its dataset's group rule does not match


class DatasetError(ValueError):
    """A dataset that cannot be built: unknown name, missing files, wrong bit depth, ..."""


@dataclass(frozen=True)
class ClipRef:
    """One audio file of a dataset, known from its header; ``channel`` picks one channel of it."""

    id: str
    path: Path
    group: str
    sample_rate: int
    channels: int
    bit_depth: int
    num_samples: int
    channel: int | None = None
    error: str | None = None  # why the file cannot be read; loading it raises this, the runner records it

    @property
    def out_channels(self) -> int:
        return 1 if self.channel is not None else self.channels


@dataclass
class AudioClip:
    """Exact integer samples of one clip, shape ``(num_samples, channels)``, at the evaluated depth."""

    id: str
    path: Path
    samples: np.ndarray
    sample_rate: int
    bit_depth: int
    domain: str
    group: str

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def raw_bits(self) -> int:
        """Samples x channels x bit depth: the benchmark's uncompressed size (no header)."""
        return int(self.samples.size) * self.bit_depth

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


def load_clip(ref: ClipRef, bit_depth: int | None, conversion: str, domain: str) -> AudioClip:
    """Read a clip's exact samples and apply the dataset's integer conversion."""
    if ref.error:
        raise (DatasetError if ref.group == NO_GROUP else audio.AudioError)(ref.error)
    samples, info = audio.read_pcm(ref.path)
    if info.num_samples != ref.num_samples or info.channels != ref.channels:
        raise audio.AudioError(f"{ref.path}: file changed since the dataset was listed")
    if ref.channel is not None:
        samples = np.ascontiguousarray(samples[:, ref.channel : ref.channel + 1])
    target = info.bit_depth if bit_depth is None else bit_depth
    if target > info.bit_depth:
        raise DatasetError(f"{ref.path}: is {info.bit_depth}-bit; it cannot be evaluated at {target} bits")
    samples = audio.convert(samples, info.bit_depth, target, conversion)
    return AudioClip(ref.id, ref.path, samples, ref.sample_rate, target, domain, ref.group)


@dataclass(frozen=True)
class Dataset:
    """A named, fingerprinted list of clips at one evaluated bit depth (None: each file's own)."""

    name: str
    domain: str
    refs: tuple[ClipRef, ...]
    bit_depth: int | None = None
    conversion: str = "linear"
    split: str = "all"
    description: str = ""
    fixed_splits: tuple[tuple[str, str], ...] = ()  # (group, split) decided when the corpus was built

    def __len__(self) -> int:
        return len(self.refs)

    @property
    def key(self) -> str:
        """Directory name of this dataset's results: name plus split."""
        return self.name if self.split == "all" else f"{self.name}.{self.split}"

    @property
    def bit_depth_label(self) -> str:
        return "native" if self.bit_depth is None else str(self.bit_depth)

    @property
    def fingerprint(self) -> str:
        """Hash of clip ids, lengths, formats and the conversion: results never mix subsets."""
        h = hashlib.sha256()
        h.update(json.dumps([self.bit_depth_label, self.conversion]).encode())
        for r in self.refs:
            h.update(f"{r.id}|{r.num_samples}|{r.out_channels}|{r.sample_rate}|{r.bit_depth}\n".encode())
        return h.hexdigest()[:16]

    def evaluated_depth(self, ref: ClipRef) -> int:
        return ref.bit_depth if self.bit_depth is None else self.bit_depth

    def load(self, ref: ClipRef) -> AudioClip:
        return load_clip(ref, self.bit_depth, self.conversion, self.domain)

    def clips(self) -> Iterator[AudioClip]:
        for ref in self.refs:
            yield self.load(ref)

    def total_seconds(self) -> float:
        return sum(r.num_samples / r.sample_rate for r in self.refs if not r.error)

    def with_bit_depth(self, bit_depth: int | None, conversion: str | None = None) -> Dataset:
        """The same clips at another evaluated depth (8-bit defaults to mu-law, others to linear)."""
        if bit_depth is None:
            return self
        if bit_depth not in audio.SUPPORTED_BIT_DEPTHS:
            raise DatasetError(f"bit depth must be native, 8, 16 or 24, not {bit_depth}")
        conversion = conversion or ("mulaw" if bit_depth == 8 else "linear")
        if conversion not in audio.CONVERSIONS:
            raise DatasetError(f"unknown conversion {conversion!r}; choose from {audio.CONVERSIONS}")
        if conversion == "mulaw" and bit_depth != 8:
            raise DatasetError("mu-law conversion gives 8-bit audio only")
        too_shallow = [r for r in self.refs if r.bit_depth < bit_depth and not r.error]
        if too_shallow:
            raise DatasetError(
                f"{self.name}: {len(too_shallow)} clip(s) are shallower than {bit_depth} bits,"
                f" e.g. {too_shallow[0].path} ({too_shallow[0].bit_depth}-bit)"
            )
        if all(r.bit_depth == bit_depth for r in self.refs if not r.error):
            # the files' own depth: nothing is converted
            name = self.name if self.bit_depth in (None, bit_depth) else f"{self.name}-native{bit_depth}"
            return replace(self, name=name, bit_depth=bit_depth, conversion="linear")
        suffix = f"{conversion}{bit_depth}"
        return replace(self, name=f"{self.name}-{suffix}", bit_depth=bit_depth, conversion=conversion)

    def with_split(self, split: str, fractions: tuple[float, float] = (0.1, 0.1)) -> Dataset:
        """Group-aware deterministic split: no group (speaker, track, recording) is in two splits."""
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose from {SPLITS}")
        if split == "all":
            return self
        groups = sorted({r.group for r in self.refs if r.group != NO_GROUP})
        if self.fixed_splits:
            assignment = dict(self.fixed_splits)
            unknown = [g for g in groups if g not in assignment]
            if unknown:
                raise DatasetError(f"{self.name}: group {unknown[0]!r} has no split in the corpus's manifest")
        else:
            assignment = assign_splits(groups, *fractions)
        # a file without a group is in every split, as a failed file: never silently placed, never lost
        refs = tuple(r for r in self.refs if r.group == NO_GROUP or assignment[r.group] == split)
        if not any(r.group != NO_GROUP for r in refs):
            raise DatasetError(f"{self.name}: the {split} split is empty ({len(assignment)} groups)")
        return replace(self, refs=refs, split=split)

    def limited(self, limit: int | None) -> Dataset:
        """The first ``limit`` clips in id order (for quick runs; changes the fingerprint)."""
        if limit is None or limit >= len(self.refs):
            return self
        return replace(self, refs=self.refs[:limit], name=f"{self.name}-first{limit}")


def assign_splits(groups: list[str], valid_fraction: float, test_fraction: float) -> dict[str, str]:
    """Map each group to train/valid/test by the rank of its hash: deterministic, balanced, disjoint."""
    order = sorted(groups, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    n = len(order)
    if n < 3:
        raise DatasetError(f"cannot split {n} group(s) into train, valid and test")
    n_test = max(1, round(test_fraction * n))
    n_valid = max(1, round(valid_fraction * n))
    split_of = {}
    for i, g in enumerate(order):
        split_of[g] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return split_of


def scan_files(root: Path, pattern: str = "**/*") -> list[Path]:
    files = [p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in audio.AUDIO_SUFFIXES]
    return sorted(files)


GroupRule = Callable[[str], "str | None"]  # relative posix path -> group; None: the rule does not match


def refs_from_files(
    files: list[Path], root: Path, group_of: GroupRule, split_channels: bool = False, name: str = ""
) -> list[ClipRef]:
    """One ClipRef per file (per channel with ``split_channels``); unreadable files carry their error.

    ``group_of`` sees the path relative to ``root``, so the folders above the dataset never decide a group.
    A file it finds no group for carries an error naming it (and the dataset ``name``) and the empty
    group: it cannot be placed in a split safely, so every split lists it as a failed file.
    """
    refs = []
    for path in files:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        group = group_of(rel)
        if not group:
            message = (
                f"{path}: the {name or 'dataset'}'s group rule ({describe_rule(group_of)}) finds no group"
                f" in {rel!r}, so it cannot be placed in a split safely"
            )
            refs.append(ClipRef(rel, path, NO_GROUP, 0, 0, 0, 0, error=message))
            continue
        try:
            info = audio.probe(path)
        except audio.AudioError as err:
            refs.append(ClipRef(rel, path, group, 0, 0, 0, 0, error=str(err)))
            continue
        common = dict(
            group=group,
            sample_rate=info.sample_rate,
            channels=info.channels,
            bit_depth=info.bit_depth,
            num_samples=info.num_samples,
        )
        if split_channels and info.channels > 1:
            refs.extend(ClipRef(f"{rel}#ch{c}", path, channel=c, **common) for c in range(info.channels))
        else:
            refs.append(ClipRef(rel, path, **common))
    return refs


# -- The registry ---------------------------------------------------------------------------------


def group_by_file(rel: str) -> str:
    """Each file its own group (its name without the suffix)."""
    return PurePosixPath(rel).stem


def group_by_folder(rel: str) -> str | None:
    """The folder holding the file, relative to the dataset (an album, a track); None at the top level."""
    parent = PurePosixPath(rel).parent.as_posix()
    return None if parent == "." else parent


@dataclass(frozen=True)
class RegexGroup:
    """Group 1 of ``pattern`` searched in the relative path; None (an error upstream) when it does not match."""

    pattern: str

    def __call__(self, rel: str) -> str | None:
        match = re.search(self.pattern, rel)
        return match.group(1) if match else None


def group_by_parent_or_top(rel: str) -> str:
    """The folder holding the file; files at the top level form one group."""
    return group_by_folder(rel) or "."


def group_by_regex(regex: str) -> RegexGroup:
    re.compile(regex)  # a bad pattern fails at registration, not on the first file
    return RegexGroup(regex)


def describe_rule(rule: GroupRule) -> str:
    """A group rule in words, for error messages."""
    if isinstance(rule, RegexGroup):
        return f"regex {rule.pattern!r}"
    return (rule.__doc__ or getattr(rule, "__name__", "group rule")).strip().splitlines()[0].rstrip(".")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: what it is, where its files live, how it is grouped and converted."""

    name: str
    domain: str
    sample_rate: int | None
    bit_depth: int | None  # evaluated depth; None = each file's own
    channels: int | None
    conversion: str
    locate: Callable[[Path | None], tuple[Path, list[Path]]]  # data root -> (base folder, files)
    group_of: GroupRule = group_by_file
    split_channels: bool = False
    description: str = ""
    demo: bool = False
    splits: Callable[[Path | None], dict[str, str]] | None = None  # data root -> group -> split, if fixed


def data_root(explicit: Path | str | None = None) -> Path:
    root = explicit or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(root).expanduser()


def _under_data_root(subdir: str, pattern: str = "**/*", keep: str | None = None):
    """Files under ``<data root>/<subdir>``; with ``keep``, only those whose relative path matches it."""

    def locate(root: Path | None) -> tuple[Path, list[Path]]:
        base = data_root(root) / subdir
        if not base.is_dir():
            raise DatasetError(
                f"dataset files not found: expected a folder {base} (set --data-root or"
                f" ${DATA_ROOT_ENV} to the folder that holds '{subdir}/')"
            )
        files = scan_files(base, pattern)
        if keep is not None:
            kept = [p for p in files if re.search(keep, p.relative_to(base).as_posix())]
            if len(kept) < len(files):
                log.info("%s: %d audio files outside the dataset's definition left out", base, len(files) - len(kept))
            files = kept
        return base, files

    return locate


def _system_files(base: str, pattern: str, package: str, exclude: tuple[str, ...] = ()):
    def locate(_root: Path | None) -> tuple[Path, list[Path]]:
        folder = Path(base)
        files = [p for p in sorted(folder.glob(pattern)) if p.is_file() and p.name not in exclude]
        if not files:
            raise DatasetError(
                f"demo audio not found under {folder}: install the Debian package {package}"
                f" (sudo apt-get install {package}; the README's setup does this)"
            )
        return folder, files

    return locate


def _demo_24bit(_root: Path | None) -> tuple[Path, list[Path]]:
    sonic = [Path("/usr/share/sonic-pi/samples") / n for n in ("misc_burp.flac", "perc_swash.flac")]
    missing = [p for p in sonic if not p.exists()]
    if missing:
        raise DatasetError(f"demo audio not found: {missing[0]}: install the Debian package sonic-pi-samples")
    # base is the package folder, so every id is a bare file name, the same on every machine
    return PACKAGE_AUDIO, [*sonic, *sorted(PACKAGE_AUDIO.glob("*.flac"))]


# Group rules of the paper's datasets, searched in each file's path relative to the dataset's folder.
# Speech Commands' own layout (zero/0a2b400e_nohash_0.wav) and the SC09 copy of the SaShiMi work
# (train/Zero_0a2b400e_nohash_0.wav): the speaker hash starts the name or follows a word and "_".
# SC09 is the ten digit words of Speech Commands (a word folder, or a word prefix in the SaShiMi copy);
# other words and _background_noise_ of a full Speech Commands folder are not part of it.
SC09_DIGITS = r"(?i)(?:^|/)(?:zero|one|two|three|four|five|six|seven|eight|nine)(?:/|_)[^/]+$"
SC09_GROUP = group_by_regex(r"(?:^|[/_])([0-9a-f]{8})_nohash_\d+\.\w+$")
# VCTK 0.92 (wav48_silence_trimmed/p225/p225_001_mic1.flac) and 0.80 (wav48/p225/p225_001.wav): by
# speaker, so both microphones of an utterance are always together.
VCTK_GROUP = group_by_regex(r"(?:^|/)(p\d{3}|s\d{1,3})_\d{3}(?:_mic[12])?\.\w+$")
LJSPEECH_GROUP = group_by_regex(r"(?:^|/)(LJ\d{3})-\d{4}\.\w+$")  # LJ001-0001.wav: by chapter
LIBRISPEECH_GROUP = group_by_regex(r"(?:^|/)(\d+)-\d+-\d+\.\w+$")  # 19-198-0001.flac: by speaker
BIRDVOX_GROUP = group_by_regex(r"(?:^|[/_-])(unit\d+)(?=[/_.-])")  # by recording unit
MUSDB_STEMS = "mixture|drums|bass|other|vocals|accompaniment"
MUSDB_GROUP = group_by_regex(rf"(?:^|/)([^/]+)/(?:{MUSDB_STEMS})\.\w+$")  # <track>/<stem>.wav: by track

SONIC_PI = "/usr/share/sonic-pi/samples"
ASTERISK = "/usr/share/asterisk/sounds/en_US_f_Allison"
ALSA = "/usr/share/sounds/alsa"

_SPECS: list[DatasetSpec] = [
    # The paper's datasets (users bring the files; see README for the expected layout).
    DatasetSpec(
        "sc09",
        "speech",
        16000,
        8,
        1,
        "mulaw",
        _under_data_root("sc09", keep=SC09_DIGITS),
        SC09_GROUP,
        description="Speech Commands digits, by speaker",
    ),
    DatasetSpec(
        "beethoven",
        "music",
        16000,
        8,
        1,
        "mulaw",
        _under_data_root("beethoven"),
        description="Beethoven piano sonatas (SampleRNN)",
    ),
    DatasetSpec(
        "youtubemix",
        "music",
        16000,
        8,
        1,
        "mulaw",
        _under_data_root("youtubemix"),
        description="YouTube Mix piano",
    ),
    DatasetSpec(
        "vctk",
        "speech",
        48000,
        16,
        1,
        "linear",
        _under_data_root("vctk"),
        VCTK_GROUP,
        description="VCTK, by speaker (both mics together)",
    ),
    DatasetSpec(
        "ljspeech",
        "speech",
        22050,
        16,
        1,
        "linear",
        _under_data_root("ljspeech"),
        LJSPEECH_GROUP,
        description="LJSpeech, by chapter",
    ),
    DatasetSpec(
        "librispeech",
        "speech",
        16000,
        16,
        1,
        "linear",
        _under_data_root("librispeech"),
        LIBRISPEECH_GROUP,
        description="LibriSpeech, by speaker",
    ),
    DatasetSpec(
        "birdvox",
        "bioacoustics",
        24000,
        16,
        1,
        "linear",
        _under_data_root("birdvox"),
        BIRDVOX_GROUP,
        description="BirdVox, by recording unit",
    ),
    DatasetSpec(
        "epidemic",
        "sfx",
        48000,
        16,
        1,
        "linear",
        _under_data_root("epidemic"),
        description="Epidemic Sound effects",
    ),
    DatasetSpec(
        "musdb18-mono",
        "music",
        44100,
        16,
        1,
        "linear",
        _under_data_root("musdb18"),
        MUSDB_GROUP,
        split_channels=True,
        description="MusDB18-HQ mixes and stems, each channel a mono clip, by track",
    ),
    DatasetSpec(
        "musdb18-stereo",
        "music",
        44100,
        16,
        2,
        "linear",
        _under_data_root("musdb18", "**/mixture.wav"),
        MUSDB_GROUP,
        description="MusDB18-HQ stereo mixtures, by track",
    ),
    DatasetSpec(
        "commercial16",
        "music",
        44100,
        16,
        2,
        "linear",
        _under_data_root("commercial16"),
        group_by_folder,
        description="Your 16-bit music (44.1 kHz), by album folder",
    ),
    DatasetSpec(
        "commercial24",
        "music",
        44100,
        24,
        2,
        "linear",
        _under_data_root("commercial24"),
        group_by_folder,
        description="Your 24-bit music (44.1 kHz), by album folder",
    ),
    # The embedded demo corpus: real recordings from Debian packages plus committed CC0 24-bit clips.
    DatasetSpec(
        "demo-music",
        "music",
        44100,
        16,
        None,
        "linear",
        _system_files(SONIC_PI, "*.flac", "sonic-pi-samples", ("misc_burp.flac", "perc_swash.flac")),
        description="sonic-pi-samples: drums, loops, ambience, a crow (44.1 kHz 16-bit)",
        demo=True,
    ),
    DatasetSpec(
        "demo-speech",
        "speech",
        8000,
        16,
        1,
        "linear",
        _system_files(ASTERISK, "**/*.wav", "asterisk-core-sounds-en-wav"),
        description="Asterisk prompts, one speaker (8 kHz 16-bit)",
        demo=True,
    ),
    DatasetSpec(
        "demo-speech48",
        "speech",
        48000,
        16,
        1,
        "linear",
        _system_files(ALSA, "*.wav", "alsa-utils", ("Noise.wav",)),
        description="alsa-utils channel announcements (48 kHz 16-bit)",
        demo=True,
    ),
    DatasetSpec(
        "demo-24bit",
        "music",
        None,
        24,
        None,
        "linear",
        _demo_24bit,
        description="the two 24-bit sonic-pi samples and two CC0 96 kHz stereo clips",
        demo=True,
    ),
]


def _dev_clips(root: Path | None, view: str) -> tuple[Path, list[devmanifest.ClipEntry]]:
    folder = devmanifest.corpus_dir(data_root(root))
    try:
        clips = [c for c in devmanifest.read_manifest(folder)[1] if c.in_view(view)]
    except devmanifest.ManifestError as err:
        raise DatasetError(str(err)) from err
    if not clips:
        raise DatasetError(f"dev-{view}: the development corpus in {folder} has no clips of this kind")
    return folder / devmanifest.CLIPS, clips


def _dev_locate(view: str) -> Callable[[Path | None], tuple[Path, list[Path]]]:
    def locate(root: Path | None) -> tuple[Path, list[Path]]:
        base, clips = _dev_clips(root, view)
        return base, [base / c.path for c in clips]

    return locate


def _dev_splits(view: str) -> Callable[[Path | None], dict[str, str]]:
    def splits(root: Path | None) -> dict[str, str]:
        return {c.group: c.split for c in _dev_clips(root, view)[1]}

    return splits


# The development corpus (built by python -m trilobyte.core.devcorpus): clips/<source>/<group>/<clip>.flac,
# grouped by <source>/<group>, each group's split fixed by the manifest. Every file keeps its own rate and depth.
DEV_GROUP = group_by_regex(r"^([^/]+/[^/]+)/[^/]+$")
DEV_DESCRIPTIONS = {
    "speech": "telephone speech in five voices and four languages",
    "music": "music recordings",
    "drums": "drum and percussion one-shots",
    "notes": "recorded instrument notes",
    "sfx": "sound effects",
    "field": "ambiences and field recordings",
    "24bit": "every 24-bit clip",
    "stereo": "every stereo clip",
    "all": "every clip",
}
_SPECS += [
    DatasetSpec(
        f"dev-{view}",
        view if view in devmanifest.KINDS else "mixed",
        None,
        None,
        None,
        "linear",
        _dev_locate(view),
        DEV_GROUP,
        description=f"development corpus: {DEV_DESCRIPTIONS[view]}",
        splits=_dev_splits(view),
    )
    for view in (*devmanifest.KINDS, *devmanifest.VIEWS)
]
REGISTRY: dict[str, DatasetSpec] = {s.name: s for s in _SPECS}
# 8-bit variants of the demo corpus, by name: <base>-mulaw8 and <base>-linear8.
VARIANT = re.compile(r"^(?P<base>.+)-(?P<conversion>mulaw|linear)(?P<depth>8|16)$")

DEMO_NATIVE = ("demo-music", "demo-speech", "demo-speech48", "demo-24bit")
DEMO_8BIT = ("demo-music-mulaw8", "demo-speech-mulaw8", "demo-music-linear8", "demo-speech-linear8")


def dataset_names() -> list[str]:
    names = list(REGISTRY)
    names += [
        f"{n}-{c}8" for n in REGISTRY if REGISTRY[n].demo and n != "demo-24bit" for c in ("mulaw", "linear")
    ]
    return names


def _from_spec(spec: DatasetSpec, root: Path | None) -> Dataset:
    base, files = spec.locate(root)
    refs = refs_from_files(files, base, spec.group_of, spec.split_channels, spec.name)
    _require_readable(refs, f"{spec.name}: no readable audio files under {base}")
    if spec.sample_rate is not None:
        wrong = [r for r in refs if r.sample_rate != spec.sample_rate and not r.error]
        if wrong:
            raise DatasetError(
                f"{spec.name}: expects {spec.sample_rate} Hz audio, but {wrong[0].path} is"
                f" {wrong[0].sample_rate} Hz ({len(wrong)} such files); resample them once beforehand"
            )
    refs.sort(key=lambda r: r.id)
    fixed = tuple(sorted(spec.splits(root).items())) if spec.splits else ()
    ds = Dataset(spec.name, spec.domain, tuple(refs), description=spec.description, fixed_splits=fixed)
    native = {r.bit_depth for r in refs if not r.error}
    if spec.bit_depth is not None and native != {spec.bit_depth}:
        ds = ds.with_bit_depth(spec.bit_depth, spec.conversion)
        ds = replace(ds, name=spec.name)  # the registered name already implies the conversion
    return ds


def folder_dataset(folder: Path | str, name: str | None = None, domain: str = "unknown") -> Dataset:
    """Any folder of WAV/FLAC/AIFF files as a dataset, grouped by the files' parent folders."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    files = scan_files(folder)
    groups_by_parent = len({p.parent for p in files}) >= 3
    refs = refs_from_files(files, folder, group_by_parent_or_top if groups_by_parent else group_by_file)
    _require_readable(refs, f"{folder}: no readable WAV/FLAC/AIFF files")
    return Dataset(
        name or folder.name,
        domain,
        tuple(sorted(refs, key=lambda r: r.id)),
        description=f"files under {folder}",
    )


def _require_readable(refs: list[ClipRef], message: str) -> None:
    if not any(r.error is None for r in refs):
        detail = f" ({refs[0].error})" if refs else ""
        raise DatasetError(message + detail)


def get_dataset(
    name_or_folder: str,
    *,
    root: Path | str | None = None,
    bit_depth: int | None = None,
    conversion: str | None = None,
    split: str = "all",
    limit: int | None = None,
) -> Dataset:
    """A registered dataset by name (``demo-music``, ``librispeech``, ``demo-speech-mulaw8``) or a folder."""
    root_path = Path(root).expanduser() if root else None
    variant = VARIANT.match(name_or_folder)
    if name_or_folder in REGISTRY:
        ds = _from_spec(REGISTRY[name_or_folder], root_path)
    elif variant and variant["base"] in REGISTRY:
        if bit_depth is not None and bit_depth != int(variant["depth"]):
            raise DatasetError(
                f"{name_or_folder} is {variant['depth']}-bit; it cannot also be {bit_depth}-bit"
            )
        ds = _from_spec(REGISTRY[variant["base"]], root_path)
        ds = ds.with_bit_depth(int(variant["depth"]), variant["conversion"])
    elif Path(name_or_folder).expanduser().is_dir():
        ds = folder_dataset(name_or_folder)
    else:
        raise DatasetError(
            f"unknown dataset {name_or_folder!r}: not a folder, and not one of {', '.join(dataset_names())}"
        )
    if bit_depth is not None and bit_depth != ds.bit_depth:
        ds = ds.with_bit_depth(bit_depth, conversion)
    return ds.with_split(split).limited(limit)
