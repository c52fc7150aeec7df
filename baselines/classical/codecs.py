"""The built-in command-line codecs, as :class:`~baselines.classical.commands.CommandCodec` specs.

Supported depths (others are refused with a message, never widened silently):

| codec | Debian package | depths | payload / container |
| --- | --- | --- | --- |
| ``wavpack`` | wavpack | 4 to 24 | blocks / stored RIFF header, MD5, tags |
| ``flac-cli`` | flac | 8, 12, 16, 20, 24 | STREAMINFO + frames / padding, seek table, tags |
| ``alac`` (ffmpeg) | ffmpeg | 16, 24 | frames + magic cookie / the rest of the M4A |
| ``tta`` (ffmpeg) | ffmpeg | 8, 16, 24 | header + frames / seek table, tags |
| ``ape`` (Monkey's Audio) | none: ``--binary`` | 8, 16, 24 | whole file |
| ``optimfrog`` | none: ``--binary`` | 8, 16, 24 | whole file |
| ``sac`` | none: ``--binary`` | 8, 16 | whole file |

sac's README says it reads 1 to 16-bit input, and its release decoder did not finish on a 24-bit clip
(demo-24bit) in 17 minutes, so 24-bit audio is refused by name rather than left to hang or guess.

Monkey's Audio, OptimFROG and sac have no Debian package (``apt-cache search monkey`` finds only
libjmac-java, a Java library without an encoder command; ffmpeg decodes APE but cannot encode it), so
they run only from a binary the user points at. Their command lines follow each tool's documented
usage; if a build differs, describe it in a TOML file instead (see ``baselines/classical/toml/``).

Depths between whole bytes reach WavPack and flac as a WAVE_FORMAT_EXTENSIBLE WAV whose
``wValidBitsPerSample`` is the true depth: both record that depth in their stream (``wvunpack -s``:
"12-bit ints"; STREAMINFO: 12 bits) and decode it back to the same WAV. The flac command stays in the
streamable subset, whose frame headers can name only 8, 12, 16, 20 and 24 bits (other depths need
``--lax``; the libFLAC method ``flac`` codes 4 to 32 bits). ffmpeg ignores the field: its ALAC encoder
codes 16 or 24-bit samples (20-bit audio would be coded as 24-bit: "encoding as 24 bits-per-sample")
and its TTA encoder 8, 16 or 24-bit, so both refuse other depths.
"""

from __future__ import annotations

from baselines.classical.commands import CODABLE_DEPTHS, CommandCodec

_FFMPEG_IN = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", "{input}",
              "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact")
_FFMPEG_DECODE = ("ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", "{input}",
                  "-f", "{raw_format}", "{output}")

WAVPACK = CommandCodec(
    name="wavpack", title="WavPack", extension=".wv",
    encode=("wavpack", "-q", "-y", "{options}", "{input}", "-o", "{output}"),
    decode=("wvunpack", "-q", "-y", "{input}", "-o", "{output}"),
    version=("wavpack", "--version"),
    presets={"f": ("-f",), "default": (), "h": ("-h",), "hh": ("-hh",), "hhx3": ("-hhx3",),
             "hhx6": ("-hhx6",)},
    bit_depths=CODABLE_DEPTHS, container="wavpack", package="wavpack",
    description="WavPack lossless: fast (-f), default, high (-h), very high (-hh), extra processing (-x)",
)

FLAC_CLI = CommandCodec(
    name="flac-cli", title="FLAC (flac command)", extension=".flac",
    encode=("flac", "-s", "-f", "{options}", "-o", "{output}", "{input}"),
    decode=("flac", "-s", "-d", "-f", "-o", "{output}", "{input}"),
    version=("flac", "--version"),
    presets={"8": ("-8",), "8e": ("-8", "-e"), "8ep": ("-8", "-e", "-p"),
             "lax-l32-8ep": ("--lax", "-l", "32", "-8", "-e", "-p"),
             "lax-l32-8ep-b8192": ("--lax", "-l", "32", "-b", "8192", "-8", "-e", "-p")},
    default_preset="8ep", bit_depths=(8, 12, 16, 20, 24), container="flac", package="flac",
    depth_note="the flac command keeps to FLAC's streamable subset, whose frame headers name only 8, 12, 16, 20"
               " and 24 bits; the libFLAC method 'flac' codes other depths",
    description="the reference flac encoder at its strongest settings; --lax leaves the streamable subset",
)

ALAC = CommandCodec(
    name="alac", title="ALAC (ffmpeg)", extension=".m4a",
    encode=(*_FFMPEG_IN, "-c:a", "alac", "{options}", "{output}"),
    decode=_FFMPEG_DECODE, version=("ffmpeg", "-version"),
    presets={"default": (), "order30": ("-min_prediction_order", "1", "-max_prediction_order", "30")},
    bit_depths=(16, 24), max_channels=8, output_format="raw", container="mp4-alac", package="ffmpeg",
    depth_note="the ALAC format has no 8-bit mode, and ffmpeg's ALAC encoder codes only 16 or 24-bit samples:"
               " it ignores a WAV file's wValidBitsPerSample and would code 20-bit audio as 24-bit",
    description="Apple Lossless through ffmpeg's encoder, in an M4A file",
)

TTA = CommandCodec(
    name="tta", title="TTA (ffmpeg)", extension=".tta",
    encode=(*_FFMPEG_IN, "-c:a", "tta", "{options}", "{output}"),
    decode=_FFMPEG_DECODE, version=("ffmpeg", "-version"),
    output_format="raw", container="tta", package="ffmpeg",
    depth_note="ffmpeg's TTA encoder codes only 8, 16 or 24-bit samples: it ignores a WAV file's"
               " wValidBitsPerSample and would code 12 or 20-bit audio as 16 or 24-bit",
    description="True Audio through ffmpeg's encoder (no settings)",
)

APE = CommandCodec(
    name="ape", title="Monkey's Audio", extension=".ape",
    encode=("mac", "{input}", "{output}", "{options}"),
    decode=("mac", "{input}", "{output}", "-d"),
    version=("mac",),
    presets={"fast": ("-c1000",), "normal": ("-c2000",), "high": ("-c3000",), "extra-high": ("-c4000",),
             "insane": ("-c5000",)},
    default_preset="normal", needs_binary=True,
    install_hint="apt-cache search finds only libjmac-java (a Java library, no encoder command) and ffmpeg"
                 " decodes APE but cannot encode it; build 'mac' from the Monkey's Audio SDK",
    description="Monkey's Audio console front end (mac), -c1000 .. -c5000",
)

OPTIMFROG = CommandCodec(
    name="optimfrog", title="OptimFROG", extension=".ofr",
    encode=("ofr", "--encode", "--silent", "--overwrite", "{options}", "{input}", "--output", "{output}"),
    decode=("ofr", "--decode", "--silent", "--overwrite", "{input}", "--output", "{output}"),
    version=("ofr", "--version"),
    presets={"default": (), "preset5": ("--preset", "5"), "max": ("--preset", "max")},
    needs_binary=True, install_hint="OptimFROG is closed source; use the binary from its author",
    description="OptimFROG (ofr), presets 0..10 and max",
)

SAC = CommandCodec(
    name="sac", title="sac", extension=".sac",
    encode=("sac", "--encode", "{options}", "{input}", "{output}"),
    decode=("sac", "--decode", "{input}", "{output}"),
    version=("sac",),
    presets={"default": (), "high": ("--high",), "veryhigh": ("--veryhigh",), "best": ("--best",)},
    bit_depths=(8, 16), max_channels=2, needs_binary=True,  # its README: "mono/stereo"
    depth_note="sac reads 1 to 16-bit input (its README); its release decoder did not finish on 24-bit audio",
    install_hint="build sac (state-of-the-art lossless audio compression) from its source",
    description="sac, Sebastian's lossless audio compressor",
)

COMMAND_CODECS: dict[str, CommandCodec] = {c.name: c for c in (WAVPACK, FLAC_CLI, ALAC, TTA, APE, OPTIMFROG, SAC)}
