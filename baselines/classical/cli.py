"""``python -m baselines.classical``: classical lossless codecs and general-purpose compressors, coded.

Every file is encoded, decoded and compared bit-exactly. The table puts each codec's rate and encode and
decode speed (x realtime) beside ``flac -8`` (libFLAC in process, the FLAC sweep's coder) run on the same
files in the same run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from baselines.classical.codecs import COMMAND_CODECS
from baselines.classical.commands import (
    CodecConfigError,
    CodecUnavailable,
    CommandCodec,
    CommandCoder,
    load_toml,
    make_coder,
)
from baselines.classical.general import COMPRESSORS, GeneralCoder
from baselines.flac.codec import FlacSettings
from baselines.flac.coder import FlacCoder
from trilobyte.core import table
from trilobyte.core.cli import add_common_args, run_main, setup_logging
from trilobyte.core.datasets import DEMO_NATIVE, Dataset
from trilobyte.core.protocol import FileCoder, RateResult
from trilobyte.core.results import ResultStore, Shard
from trilobyte.core.runner import run_file_coders

log = logging.getLogger("trilobyte.classical")
PACKAGES = ("pyflac", "zstandard")
CODEC_NAMES = (*COMMAND_CODECS, *COMPRESSORS)
REFERENCE = FlacSettings(level=8)


def codec_spec(name: str) -> CommandCodec | None:
    """The command-line codec a ``--codec`` value names: built in, or described by a TOML file."""
    if name.endswith(".toml"):
        return load_toml(name)
    return COMMAND_CODECS.get(name)


def build_coders(name: str, presets: Sequence[str] | None, binary: Path | None = None,
                 decoder_binary: Path | None = None, timeout: float | None = None) -> list[FileCoder]:
    """One coder per preset of the named codec (``presets`` None: its default; ``["all"]``: every one).

    ``timeout``: seconds each file's external commands get (default: max(60 s, 20 x the file's duration)).
    """
    if name in COMPRESSORS:
        if binary or decoder_binary:
            raise CodecConfigError(f"{name} runs in process; --binary applies to command-line codecs only")
        spec = COMPRESSORS[name]
        chosen = _choose(name, presets, spec.presets, spec.default_preset)
        return [GeneralCoder.create(name, p, timeout) for p in chosen]
    codec = codec_spec(name)
    if codec is None:
        raise CodecConfigError(f"unknown codec {name!r}; choose from {', '.join(CODEC_NAMES)}, all,"
                               " or a codec description FILE.toml")
    chosen = _choose(codec.title, presets, tuple(codec.presets), codec.default_preset)
    return [make_coder(codec, p, binary, decoder_binary, timeout) for p in chosen]


def _choose(title: str, presets: Sequence[str] | None, known: Sequence[str], default: str) -> list[str]:
    if not presets:
        return [default]
    if "all" in presets:
        return list(known)
    unknown = [p for p in presets if p not in known]
    if unknown:
        raise CodecConfigError(f"{title} has no preset(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return list(dict.fromkeys(presets))


def supported_depths(coder: FileCoder) -> tuple[int, ...]:
    """The depths a coder holds: a command codec's declared ones; libFLAC and the compressors, 4 to 32 bits."""
    return coder.codec.bit_depths if isinstance(coder, CommandCoder) else tuple(range(4, 33))


def label_of(coder_or_result: FileCoder | RateResult) -> str:
    name = getattr(coder_or_result, "method", None) or coder_or_result.name
    return "flac -8 (libFLAC)" if name == "flac" else name


def _xrt(result: RateResult, key: str) -> float | None:
    rows = [f for f in result.ok_files if key in f.extra]
    seconds = sum(f.extra[key] for f in rows)
    return sum(f.audio_seconds for f in rows) / seconds if rows and seconds else None


def _version(result: RateResult) -> str:
    extra = result.extra or {}
    if extra.get("libflac_version"):
        return f"libFLAC {extra['libflac_version']}"
    return str(extra.get("version") or "")


COLUMNS = (
    table.Col("codec", label_of), table.Col("preset", lambda r: r.config_name),
    table.Col("rate", lambda r: None if r.rate is None else f"{r.rate:.3f}" + ("*" if r.failures else ""), right=True),
    table.Col("+cont.", lambda r: r.rate_with_container, ".3f"),
    table.Col("enc xRT", lambda r: _xrt(r, "encode_seconds"), ".1f"),
    table.Col("dec xRT", lambda r: _xrt(r, "decode_seconds"), ".1f"),
    table.Col("tool version", lambda r: _version(r)[:60]),
)


def format_table(results: Sequence[RateResult]) -> str:
    """Per dataset: rate (payload and with container) and encode/decode x realtime per codec."""
    by_dataset: dict[str, list[RateResult]] = {}
    for r in results:
        by_dataset.setdefault(table.where(r), []).append(r)
    lines: list[str] = []
    for label, rows in by_dataset.items():
        first = rows[0]
        depths = sorted({f.bit_depth for f in first.ok_files})
        lines.append(f"\n{label}: {len(first.files)} files, {first.audio_seconds:.1f} s,"
                     f" {'/'.join(map(str, depths)) or first.bit_depth}-bit")
        lines.append(table.format_table(sorted(rows, key=lambda r: (r.method != "flac", -(r.rate or 0))), COLUMNS))
    lines.append("\nrate = raw bits / payload bits; +cont. counts container bytes too; x realtime = audio"
                 " seconds / seconds in the encoder or decoder alone (one process)")
    notes = [f"* {table.where(r)} {label_of(r)} {r.config_name}: {len(r.failures)} file(s) failed, e.g."
             f" {r.failures[0].id}: {r.failures[0].error}" for r in results if r.failures]
    return "\n".join(lines + notes)


def list_codecs() -> str:
    """Each codec, its presets and depths, and whether it can run here."""
    lines = [f"{'codec':<12}{'depths':<14}{'presets (default first)':<48}status"]
    for codec in COMMAND_CODECS.values():
        try:
            make_coder(codec)
            status = "ready"
        except CodecUnavailable as err:
            status = str(err)
        presets = [codec.default_preset, *(p for p in codec.presets if p != codec.default_preset)]
        lines.append(f"{codec.name:<12}{codec.depths_text():<14}{' '.join(presets):<48}{status}")
    for spec in COMPRESSORS.values():
        try:
            GeneralCoder.create(spec.name)
            status = "ready"
        except CodecUnavailable as err:
            status = str(err)
        presets = [spec.default_preset, *(p for p in spec.presets if p != spec.default_preset)]
        lines.append(f"{spec.name:<12}{'8, 16, 24-bit':<14}{' '.join(presets):<48}{status}")
    return "\n".join(lines)


def _coders_for(dataset: Dataset, coders: Sequence[FileCoder]) -> tuple[list[FileCoder], int]:
    """The coders that can hold at least one of the dataset's depths, and how many cannot (reported)."""
    depths = {dataset.evaluated_depth(r) for r in dataset.refs if not r.error}
    usable: list[FileCoder] = []
    for coder in coders:
        supported = supported_depths(coder)
        if depths & set(supported):
            usable.append(coder)
            continue
        note = coder.codec.depth_note if isinstance(coder, CommandCoder) else ""
        log.warning("%s: skipped for %s: it codes %s audio, this dataset is %s-bit%s", label_of(coder),
                    dataset.key, ", ".join(map(str, supported)) + "-bit", ", ".join(map(str, sorted(depths))),
                    f" ({note})" if note else "")
    return usable, len(coders) - len(usable)


def positive_seconds(text: str) -> float:
    """``--timeout``'s value: a positive number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.classical",
        description="Classical lossless codecs (WavPack, FLAC's strongest settings, ALAC, TTA, Monkey's Audio,"
                    " OptimFROG, sac, or any command-line codec described in a TOML file) and general-purpose"
                    " compressors on raw PCM bytes, each file coded, decoded and compared bit-exactly.",
    )
    parser.add_argument("--codec", action="append", metavar="NAME|FILE.toml",
                        help=f"repeatable: {', '.join(CODEC_NAMES)}; 'all' for every one installed here; or a"
                             " TOML codec description (see baselines/classical/toml/)")
    parser.add_argument("--preset", action="append", metavar="P",
                        help="repeatable; 'all' for every preset (default: each codec's default; see --list)")
    parser.add_argument("--binary", type=Path, default=None,
                        help="the codec's own program (required for ape, optimfrog and sac); one codec only")
    parser.add_argument("--decoder-binary", type=Path, default=None,
                        help="the decoder program, when it is not --binary itself (e.g. wvunpack)")
    parser.add_argument("--timeout", type=positive_seconds, default=None, metavar="SECONDS",
                        help="each file's time limit for a codec's encode and decode commands together (and the"
                             " zstd command); past it the commands are killed with every process they started"
                             " and the file is a failed row 'timed out after N s' (default: max(60, 20 x the"
                             " file's duration in seconds))")
    parser.add_argument("--with-flac", action=argparse.BooleanOptionalAction, default=True,
                        help="also run flac -8 (libFLAC in process) as the reference row (default: on)")
    add_common_args(parser, default_datasets=DEMO_NATIVE, listing=list_codecs)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)

    if not args.codec:
        parser.error("name at least one --codec (or --list to see them)")
    names = list(dict.fromkeys(args.codec))
    everything = names == ["all"]
    if everything:
        names = list(CODEC_NAMES)
    elif "all" in names:
        parser.error("--codec all cannot be combined with other codecs")
    if everything and args.preset and args.preset != ["all"]:
        parser.error("with --codec all, --preset can only be 'all' (preset names differ between codecs)")
    if (args.binary or args.decoder_binary) and len(names) != 1:
        parser.error("--binary and --decoder-binary apply to exactly one --codec")
    try:
        shard = Shard.parse(args.shard)
    except ValueError as err:
        parser.error(str(err))

    coders: list[FileCoder] = []
    status = 0
    for name in names:
        try:
            coders += build_coders(name, args.preset, args.binary, args.decoder_binary, args.timeout)
        except CodecConfigError as err:
            parser.error(str(err))
        except CodecUnavailable as err:
            if everything:
                log.info("skipped: %s", err)
                continue
            log.error("%s", err)
            status = 2
    if not coders:
        return status or 2
    if args.with_flac:
        coders.insert(0, FlacCoder(REFERENCE))
    unique: dict[tuple[str, str], FileCoder] = {}
    for coder in coders:
        unique.setdefault((coder.name, coder.config_name()), coder)
    coders = list(unique.values())
    for coder in coders:
        version = coder.version() if hasattr(coder, "version") else coder.result_extra().get("libflac_version")
        log.info("%s %s: %s", label_of(coder), coder.config_name(), version)

    store = ResultStore(args.out)
    skipped_any = False

    def run_one(dataset: Dataset) -> list[RateResult]:
        nonlocal skipped_any
        usable, skipped = _coders_for(dataset, coders)
        skipped_any = skipped_any or bool(skipped and not everything)
        if not usable:
            return []
        return run_file_coders(usable, dataset, store, jobs=args.jobs, shard=shard, overwrite=args.overwrite,
                               progress=not args.no_progress, packages=PACKAGES)

    footer = f"\nevery file decoded and compared bit-exactly; results in {Path(args.out)}"
    ran = run_main(args, args.dataset or list(DEMO_NATIVE), run_one, format_table, footer)
    return ran or status or int(skipped_any)


if __name__ == "__main__":
    sys.exit(main())
