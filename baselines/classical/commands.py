"""Any command-line codec as a per-file coder: encode and decode command templates, run on temp files.

A :class:`CommandCodec` says how to call a codec: the encode and decode commands with ``{input}`` and
``{output}`` placeholders, the file extension, the command that prints its version, the intermediate
format the encoder reads (WAV), what the decoder writes (WAV, or raw PCM in the WAV data-chunk layout),
the bit depths it supports (any of 4 to 24), its presets and how its
files divide into payload and container (:mod:`baselines.classical.containers`). The built-in codecs
are such specs (:mod:`baselines.classical.codecs`); a TOML file describes one more without Python
(:func:`load_toml`).

8, 16 and 24-bit audio goes to the encoder as a WAV file written by :func:`trilobyte.core.audio.write_pcm`
(libsndfile). Depths between whole bytes (12, 20, ...) go as a WAVE_FORMAT_EXTENSIBLE WAV whose
``wValidBitsPerSample`` is the true depth, the samples left-justified in 1 to 3 bytes
(:mod:`baselines.classical.wavfile`); a decoder's WAV or raw output is expected in that same layout and
must come back at that depth. A codec lists such depths in ``bit_depths`` only when its tool honours the
field and codes the audio at its own depth (WavPack and flac do; ffmpeg's encoders do not).

Placeholders: ``{input}``, ``{output}``, ``{options}`` (a whole argument: the preset's arguments go
there), ``{raw_format}`` (ffmpeg's name of the raw layout: ``u8``, ``s16le``, ``s24le``),
``{sample_rate}``, ``{channels}``, ``{bit_depth}``.

Every command runs under a time limit (:mod:`baselines.classical.process`): a file's encode and decode
get ``timeout`` seconds together (default max(60 s, 20 x the audio's duration)); past it the command's
whole process group is killed and the file is a failed row ("... timed out after N s"), the run going on
to the next file.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from baselines.classical import containers, pcm, process, wavfile
from trilobyte.core import audio
from trilobyte.core.datasets import AudioClip
from trilobyte.core.protocol import FileRate, LosslessError

PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
PLACEHOLDERS = ("input", "output", "options", "raw_format", "sample_rate", "channels", "bit_depth")
INPUT_FORMATS = ("wav",)
OUTPUT_FORMATS = ("wav", "raw")
WHOLE_DEPTHS = (8, 16, 24)  # the default: what any WAV-reading codec takes
CODABLE_DEPTHS = tuple(range(4, 25))  # what a codec may declare (a WAV file holds up to 24 bits here)
SAFE_PRESET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
VERSION_SECONDS = 30.0  # the version command's time limit


class CodecConfigError(ValueError):
    """A codec description (built-in or TOML) that cannot work; the message says which field."""


class CodecUnavailable(RuntimeError):
    """The codec's command is not installed; the message names the Debian package or the flag to use."""


class UnsupportedInput(ValueError):
    """Audio the codec cannot hold (a bit depth or channel count outside its format)."""


class CodecError(RuntimeError):
    """The codec's command failed, or wrote something that does not decode."""



def _template(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = shlex.split(value)
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        raise CodecConfigError(f"{what} must be a non-empty command (a list of strings or one string)")
    return tuple(value)


@dataclass(frozen=True)
class CommandCodec:
    """How to run one command-line codec (see the module docstring for the placeholders)."""

    name: str
    title: str
    extension: str
    encode: tuple[str, ...]
    decode: tuple[str, ...]
    version: tuple[str, ...]
    presets: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"default": ()})
    default_preset: str = "default"
    bit_depths: tuple[int, ...] = WHOLE_DEPTHS
    max_channels: int | None = None
    input_format: str = "wav"
    output_format: str = "wav"
    container: str = "whole"
    package: str | None = None  # the Debian package that provides the commands
    needs_binary: bool = False  # not packaged: the user passes --binary
    install_hint: str = ""  # said when the command is missing
    depth_note: str = ""  # why some depths are refused
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.name):
            raise CodecConfigError(f"codec name {self.name!r}: use lower-case letters, digits, '-', '_', '.'")
        if not self.extension.startswith(".") or "/" in self.extension:
            raise CodecConfigError(f"{self.name}: extension must look like '.wv', not {self.extension!r}")
        for what, template in (("encode", self.encode), ("decode", self.decode)):
            _template(list(template), f"{self.name}: {what}")
            used = [m for arg in template for m in PLACEHOLDER.findall(arg)]
            unknown = sorted(set(used) - set(PLACEHOLDERS))
            if unknown:
                raise CodecConfigError(
                    f"{self.name}: unknown placeholder(s) {unknown} in the {what} command;"
                    f" known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
            for needed in ("input", "output"):
                if needed not in used:
                    raise CodecConfigError(f"{self.name}: the {what} command has no {{{needed}}} placeholder")
            if any("{options}" in arg and arg != "{options}" for arg in template):
                raise CodecConfigError(f"{self.name}: {{options}} must be a whole argument of the {what} command")
            if PLACEHOLDER.search(template[0]):
                raise CodecConfigError(f"{self.name}: the {what} command must start with the program's name")
        _template(list(self.version), f"{self.name}: version")
        if self.input_format not in INPUT_FORMATS:
            raise CodecConfigError(f"{self.name}: input_format must be one of {INPUT_FORMATS}, not"
                                   f" {self.input_format!r}")
        if self.output_format not in OUTPUT_FORMATS:
            raise CodecConfigError(f"{self.name}: output_format must be one of {OUTPUT_FORMATS}, not"
                                   f" {self.output_format!r}")
        if self.container not in containers.PARSERS:
            raise CodecConfigError(f"{self.name}: container must be one of {', '.join(containers.PARSERS)},"
                                   f" not {self.container!r}")
        if not self.bit_depths or not set(self.bit_depths) <= set(CODABLE_DEPTHS):
            raise CodecConfigError(f"{self.name}: bit_depths must be a non-empty set of depths from"
                                   f" {CODABLE_DEPTHS[0]} to {CODABLE_DEPTHS[-1]}, not {list(self.bit_depths)}")
        if not self.presets:
            raise CodecConfigError(f"{self.name}: needs at least one preset")
        for preset, args in self.presets.items():
            if not SAFE_PRESET.match(preset) or preset == "all":
                raise CodecConfigError(f"{self.name}: preset name {preset!r} must be file-name safe, not 'all'")
            if not isinstance(args, tuple) or not all(isinstance(a, str) for a in args):
                raise CodecConfigError(f"{self.name}: preset {preset!r} must be a list of arguments")
        if self.default_preset not in self.presets:
            raise CodecConfigError(f"{self.name}: default preset {self.default_preset!r} is not among"
                                   f" {', '.join(self.presets)}")

    def depths_text(self) -> str:
        """"8, 16, 24-bit"; a run of four or more depths as "4 to 24-bit"."""
        depths = sorted(self.bit_depths)
        if len(depths) >= 4 and depths == list(range(depths[0], depths[-1] + 1)):
            return f"{depths[0]} to {depths[-1]}-bit"
        return ", ".join(str(d) for d in depths) + "-bit"

    def missing_message(self, command: str) -> str:
        """What to tell a user whose machine lacks ``command``."""
        if self.needs_binary:
            return (f"{self.title} needs its '{command}' command, which no Debian package provides;"
                    f" {self.install_hint + '; ' if self.install_hint else ''}pass --binary PATH to your own build")
        if self.package:
            return (f"{self.title} needs the '{command}' command, which is not installed: install the Debian"
                    f" package {self.package} (sudo apt-get install {self.package}) or pass --binary PATH")
        return (f"{self.title} needs the '{command}' command, which is not installed"
                f"{': ' + self.install_hint if self.install_hint else ''}; or pass --binary PATH")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _resolve(codec: CommandCodec, command: str, explicit: Path | str | None) -> str:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not _executable(path):
            raise CodecUnavailable(f"{codec.title}: {path} is not an executable file"
                                   f" (given for its '{command}' command)")
        return str(path.resolve())
    if codec.needs_binary:
        raise CodecUnavailable(codec.missing_message(command))
    found = shutil.which(command)
    if found is None:
        raise CodecUnavailable(codec.missing_message(command))
    return found


@functools.cache
def _version_of(argv: tuple[str, ...]) -> str:
    try:
        done = process.run_limited(list(argv), VERSION_SECONDS, shlex.join(argv))
    except (OSError, process.CommandTimeout) as err:
        return f"unknown ({type(err).__name__}: {err})"
    for stream in (done.stdout, done.stderr):
        for line in stream.decode(errors="replace").splitlines():
            if line.strip():
                return line.split(" Copyright")[0].strip()[:200]
    return f"unknown ({' '.join(argv)} printed nothing)"


def _fill(template: tuple[str, ...], program: str, values: dict[str, str], options: tuple[str, ...]) -> list[str]:
    argv = [program]
    for arg in template[1:]:
        if arg == "{options}":
            argv.extend(options)
        else:
            argv.append(PLACEHOLDER.sub(lambda m: values[m.group(1)], arg))
    return argv


def _run(argv: list[str], what: str, deadline: float, limit: float) -> float:
    """Run one codec command, killed at ``deadline`` (a ``perf_counter`` time: the file's ``limit`` s are up);
    its wall time in seconds (process start included)."""
    start = time.perf_counter()
    try:
        done = process.run_limited(argv, deadline - start, what, limit=limit, note=process.FILE_NOTE)
    except OSError as err:
        raise CodecError(f"{what}: cannot run {argv[0]}: {err}") from err
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        message = (done.stderr or done.stdout).decode(errors="replace").strip()[-600:]
        raise CodecError(f"{what} failed (exit {done.returncode}): {shlex.join(argv)}: {message or 'no output'}")
    return seconds


def command_report(codec: CommandCodec, config: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Table 1 columns and label of one preset of a command-line codec (from its saved config).

    The label is the codec's name and its options as typed ("WavPack -hhx6"); the flac command at its
    strongest settings competes for the paper's "FLAC max", every other codec and preset is a column of its own.
    """
    options = config.get("options") or codec.presets.get(config.get("preset", ""), ())
    label = f"{codec.title.split(' (')[0]} {' '.join(options) if options else '(default)'}"
    return ("FLAC max",) if codec.name == "flac-cli" else (label,), label


@dataclass(frozen=True)
class CommandCoder:
    """One preset of a :class:`CommandCodec` as a FileCoder (coded: every file decoded and compared)."""

    codec: CommandCodec
    preset: str
    encoder: str  # resolved path of the encode command's program
    decoder: str  # resolved path of the decode command's program
    name: str = ""
    mode: str = "coded"
    family: str = "classical"  # the report's family, also for codecs described by a TOML file
    timeout: float | None = None  # seconds for one file's encode and decode; None: process.default_limit

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise CodecConfigError(f"the time limit must be a positive number of seconds, not {self.timeout}")
        if self.preset not in self.codec.presets:
            raise CodecConfigError(f"{self.codec.title} has no preset {self.preset!r};"
                                   f" choose from {', '.join(self.codec.presets)}")
        if not self.name:
            object.__setattr__(self, "name", self.codec.name)

    @property
    def options(self) -> tuple[str, ...]:
        return self.codec.presets[self.preset]

    def version(self) -> str:
        """The first line the codec's version command prints (run once per process)."""
        argv = list(self.codec.version)
        if argv[0] == self.codec.encode[0]:
            argv[0] = self.encoder
        elif argv[0] == self.codec.decode[0]:
            argv[0] = self.decoder
        return _version_of(tuple(argv))

    def config(self) -> dict[str, Any]:
        return {"codec": self.codec.name, "preset": self.preset, "options": list(self.options),
                "version": self.version()}

    def time_limit(self, clip: AudioClip) -> float:
        """Seconds the file's encode and decode commands get together before they are killed."""
        return self.timeout if self.timeout is not None else process.default_limit(clip.duration)

    def config_name(self) -> str:
        return self.preset

    def report_label(self) -> str:
        """The codec's name and its options as typed: "WavPack -hhx6", "Monkey's Audio -c5000"."""
        return command_report(self.codec, {"preset": self.preset, "options": list(self.options)})[1]

    def report_columns(self) -> tuple[str, ...]:
        return command_report(self.codec, {"preset": self.preset, "options": list(self.options)})[0]

    def result_extra(self) -> dict[str, Any]:
        values = {p: "{" + p + "}" for p in PLACEHOLDERS}
        return {
            "tool": self.codec.title,
            "version": self.version(),
            "encode_command": _fill(self.codec.encode, self.encoder, values, self.options),
            "decode_command": _fill(self.codec.decode, self.decoder, values, ()),
            "encoder_input": f"{self.codec.input_format.upper()} written by trilobyte.core.audio.write_pcm (8, 16,"
                             " 24-bit) or WAVE_FORMAT_EXTENSIBLE with wValidBitsPerSample = the depth, samples"
                             " left-justified (other depths: baselines.classical.wavfile)",
            "decoder_output": self.codec.output_format,
            "payload": containers.DESCRIPTIONS[self.codec.container],
            "timing": "encode/decode seconds: the codec's command alone, process start included",
            "time_limit": (f"{self.timeout:g} s" if self.timeout is not None else
                           f"max({process.MIN_SECONDS:g} s, {process.SECONDS_PER_AUDIO_SECOND:g} x the audio's"
                           " duration)") + " per file for encode and decode together; past it both are killed",
        }

    def check_supported(self, clip: AudioClip) -> None:
        """Raise :class:`UnsupportedInput` for audio outside the codec's format."""
        if clip.bit_depth not in self.codec.bit_depths:
            note = f" ({self.codec.depth_note})" if self.codec.depth_note else ""
            raise UnsupportedInput(f"{self.codec.title} codes {self.codec.depths_text()} audio, not"
                                   f" {clip.bit_depth}-bit{note}")
        if self.codec.max_channels is not None and clip.channels > self.codec.max_channels:
            raise UnsupportedInput(f"{self.codec.title} codes at most {self.codec.max_channels} channels,"
                                   f" not {clip.channels}")

    def code_file(self, clip: AudioClip) -> FileRate:
        self.check_supported(clip)
        start = time.perf_counter()
        limit = self.time_limit(clip)
        deadline = start + limit
        with TemporaryDirectory(prefix=f"trilobyte-{self.codec.name}-") as tmp:
            folder = Path(tmp)
            source = folder / f"input.{self.codec.input_format}"
            encoded = folder / f"encoded{self.codec.extension}"
            decoded = folder / f"decoded.{self.codec.output_format}"
            if clip.bit_depth in WHOLE_DEPTHS:
                audio.write_pcm(source, clip.samples, clip.sample_rate, clip.bit_depth)
            else:
                wavfile.write_wav(source, clip.samples, clip.sample_rate, clip.bit_depth)
            values = {"raw_format": pcm.FFMPEG_FORMATS[pcm.byte_width(clip.bit_depth)],
                      "sample_rate": str(clip.sample_rate), "channels": str(clip.channels),
                      "bit_depth": str(clip.bit_depth)}
            encode_seconds = _run(_fill(self.codec.encode, self.encoder,
                                        {**values, "input": str(source), "output": str(encoded)}, self.options),
                                  f"{self.codec.title} encoder", deadline, limit)
            if not encoded.is_file() or encoded.stat().st_size == 0:
                raise CodecError(f"{self.codec.title} encoder wrote no {encoded.name}")
            data = encoded.read_bytes()
            layout = containers.parse(self.codec.container, data)
            decode_seconds = _run(_fill(self.codec.decode, self.decoder,
                                        {**values, "input": str(encoded), "output": str(decoded)}, ()),
                                  f"{self.codec.title} decoder", deadline, limit)
            if not decoded.is_file():
                raise CodecError(f"{self.codec.title} decoder wrote no {decoded.name}")
            self._compare(clip, decoded)
        return FileRate.for_clip(
            clip, layout.payload_bytes * 8, container_bits=layout.container_bytes * 8,
            seconds=time.perf_counter() - start,
            extra={"encode_seconds": encode_seconds, "decode_seconds": decode_seconds, "file_bytes": len(data)},
        )

    def _compare(self, clip: AudioClip, decoded: Path) -> None:
        if self.codec.output_format == "raw":
            try:
                samples = pcm.from_wav_bytes(decoded.read_bytes(), clip.bit_depth, clip.channels)
            except pcm.PcmError as err:
                raise LosslessError(f"{clip.id}: {self.codec.title} decoded {err}") from err
        elif clip.bit_depth not in WHOLE_DEPTHS:
            try:
                wav = wavfile.parse_wav(decoded.read_bytes())
            except wavfile.WavError as err:
                raise LosslessError(f"{clip.id}: {self.codec.title} decoded an unreadable WAV: {err}") from err
            if wav.bit_depth != clip.bit_depth or wav.sample_rate != clip.sample_rate:
                raise LosslessError(
                    f"{clip.id}: {self.codec.title} decoded {wav.bit_depth}-bit {wav.sample_rate} Hz audio"
                    f" from {clip.bit_depth}-bit {clip.sample_rate} Hz")
            samples = wav.samples
        else:
            try:
                samples, info = audio.read_pcm(decoded)
            except audio.AudioError as err:
                raise CodecError(f"{self.codec.title} decoder wrote an unreadable WAV: {err}") from err
            if info.bit_depth != clip.bit_depth or info.sample_rate != clip.sample_rate:
                raise LosslessError(
                    f"{clip.id}: {self.codec.title} decoded {info.bit_depth}-bit {info.sample_rate} Hz audio"
                    f" from {clip.bit_depth}-bit {clip.sample_rate} Hz")
        if samples.shape != clip.samples.shape:
            raise LosslessError(f"{clip.id}: {self.codec.title} decoded {samples.shape[0]} x {samples.shape[1]}"
                                f" samples, expected {clip.num_samples} x {clip.channels}")
        if not np.array_equal(samples, clip.samples):
            first = int(np.argwhere(samples != clip.samples)[0][0])
            raise LosslessError(f"{clip.id}: {self.codec.title} round trip is not bit-exact"
                                f" (first difference at sample {first})")


def make_coder(codec: CommandCodec, preset: str | None = None, binary: Path | str | None = None,
               decoder_binary: Path | str | None = None, timeout: float | None = None) -> CommandCoder:
    """A coder for ``codec`` at ``preset``, its commands found (raises :class:`CodecUnavailable`).

    ``timeout``: seconds each file's encode and decode get together (default: max(60 s, 20 x its duration)).
    """
    preset = preset or codec.default_preset
    if preset not in codec.presets:
        raise CodecConfigError(f"{codec.title} has no preset {preset!r}; choose from {', '.join(codec.presets)}")
    encoder = _resolve(codec, codec.encode[0], binary)
    if codec.decode[0] == codec.encode[0] and decoder_binary is None:
        decoder = encoder
    elif decoder_binary is None and binary is not None:
        sibling = Path(encoder).parent / codec.decode[0]
        if not _executable(sibling):
            raise CodecUnavailable(f"{codec.title}: no '{codec.decode[0]}' next to {encoder};"
                                   " pass --decoder-binary PATH")
        decoder = str(sibling)
    else:
        decoder = _resolve(codec, codec.decode[0], decoder_binary)
    return CommandCoder(codec, preset, encoder, decoder, timeout=timeout)


TOML_KEYS = {"name", "title", "extension", "encode", "decode", "version", "presets", "default_preset",
             "bit_depths", "max_channels", "input_format", "output_format", "container", "package",
             "install_hint", "depth_note", "description"}


def load_toml(path: Path | str) -> CommandCodec:
    """Read a codec description from a TOML file (see ``baselines/classical/toml/wavpack.toml``)."""
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as err:
        raise CodecConfigError(f"{path}: cannot read codec file: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise CodecConfigError(f"{path}: not valid TOML: {err}") from err
    unknown = sorted(set(data) - TOML_KEYS)
    if unknown:
        raise CodecConfigError(f"{path}: unknown key(s) {unknown}; known: {', '.join(sorted(TOML_KEYS))}")
    missing = sorted({"name", "extension", "encode", "decode", "version"} - set(data))
    if missing:
        raise CodecConfigError(f"{path}: missing key(s) {missing}")
    presets = data.get("presets", {"default": []})
    if not isinstance(presets, dict):
        raise CodecConfigError(f"{path}: [presets] must be a table of name = [arguments]")
    try:
        return CommandCodec(
            name=data["name"], title=data.get("title", data["name"]), extension=data["extension"],
            encode=_template(data["encode"], f"{path}: encode"), decode=_template(data["decode"], f"{path}: decode"),
            version=_template(data["version"], f"{path}: version"),
            presets={str(k): tuple(shlex.split(v) if isinstance(v, str) else v) for k, v in presets.items()},
            default_preset=data.get("default_preset", next(iter(presets), "default")),
            bit_depths=tuple(data.get("bit_depths", WHOLE_DEPTHS)), max_channels=data.get("max_channels"),
            input_format=data.get("input_format", "wav"), output_format=data.get("output_format", "wav"),
            container=data.get("container", "whole"), package=data.get("package"),
            install_hint=data.get("install_hint", ""), depth_note=data.get("depth_note", ""),
            description=data.get("description", f"from {path.name}"),
        )
    except TypeError as err:
        raise CodecConfigError(f"{path}: {err}") from err
