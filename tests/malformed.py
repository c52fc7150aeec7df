"""One folder of good audio files beside every malformed kind a user's folder may hold.

Good: a 16-bit WAV, a FLAC, a FLAC written through a pipe (STREAMINFO says "length unknown") and a
12-bit FLAC (legal; coded by FLAC and the general compressors, refused by name by byte-level methods).
Bad: float and 32-bit WAVs, an empty file, a WAV header with no samples, a truncated WAV, a WAV whose
data chunk claims more bytes than the file holds, a truncated FLAC, bytes before ``fLaC`` and random
bytes named ``.wav``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import synth

from baselines.flac import codec as flac_codec
from baselines.flac.codec import FlacSettings
from trilobyte.core import audio

RATE = 8000
GOOD = ("good.wav", "good.flac", "pipe.flac", "d12.flac")
BAD = {  # file -> words its failed row's message must hold
    "float.wav": "float",
    "int32.wav": "32-bit",
    "empty.wav": "empty file",
    "header_only.wav": "no samples",
    "truncated.wav": "truncated",
    "lying_header.wav": "declares 100000000 bytes",
    "truncated.flac": "truncated or corrupt",
    "junk_before.flac": "before the 'fLaC' marker",
    "random.wav": "not a readable",
}
ODD_DEPTH = "d12.flac"  # refused by name by methods that take 8, 16 or 24-bit audio only


def flac_through_a_pipe(samples: np.ndarray, bits: int, rate: int) -> bytes:
    """``flac - -c`` with stdin and stdout pipes: STREAMINFO's total samples is 0 (unknown)."""
    args = [shutil.which("flac") or "flac", "-s", "--force-raw-format", "--endian=little", "--sign=signed",
            f"--channels={samples.shape[1]}", f"--bps={bits}", f"--sample-rate={rate}", "-", "-c"]
    done = subprocess.run(args, input=samples.astype("<i2").tobytes(), capture_output=True, timeout=60, check=True)
    return done.stdout


def mixed_folder(folder: Path, samples: int = 1024) -> Path:
    """Write the good and the malformed files into ``folder`` (short 8 kHz mono clips)."""
    folder.mkdir(parents=True, exist_ok=True)
    audio.write_pcm(folder / "good.wav", synth(samples, 1, 16, seed=1), RATE, 16)
    audio.write_pcm(folder / "good.flac", synth(samples, 1, 16, seed=2), RATE, 16, "FLAC")
    (folder / "pipe.flac").write_bytes(flac_through_a_pipe(synth(samples, 1, 16, seed=3), 16, RATE))
    (folder / ODD_DEPTH).write_bytes(flac_codec.encode(synth(samples, 1, 12, seed=4), RATE, 12, FlacSettings(5)))

    sf.write(str(folder / "float.wav"), np.zeros(samples, np.float32), RATE, subtype="FLOAT")
    sf.write(str(folder / "int32.wav"), np.zeros(samples, np.int32), RATE, subtype="PCM_32")
    (folder / "empty.wav").write_bytes(b"")
    wav = folder / "header_only.wav"
    audio.write_pcm(wav, synth(samples, 1, 16, seed=5), RATE, 16)
    data = wav.read_bytes()
    header = bytearray(data[:44])
    header[40:44] = struct.pack("<I", 0)
    wav.write_bytes(bytes(header))
    (folder / "truncated.wav").write_bytes(data[: len(data) - 1001])
    lying = bytearray(data)
    lying[40:44] = struct.pack("<I", 100_000_000)
    (folder / "lying_header.wav").write_bytes(bytes(lying))
    flac = flac_codec.encode(synth(4 * samples, 1, 16, seed=6), RATE, 16, FlacSettings(5))
    (folder / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    (folder / "junk_before.flac").write_bytes(b"RIFX junk before the marker" + flac)
    (folder / "random.wav").write_bytes(np.random.default_rng(7).integers(0, 256, 3000, np.uint8).tobytes())
    return folder


def tiny_trilobyte_model(folder: Path) -> Path:
    """A randomly initialised tiny byte-level Trilobyte model (8, 16 and 24-bit audio), no training record."""
    from trilobyte.gpt2.model import build_model, save_model
    from trilobyte.gpt2.tokenize import TokenizerSettings

    settings = TokenizerSettings("bytes", 24)
    return save_model(build_model("tiny", settings, context=128, seed=3), settings, folder, "tiny")


TRILOBYTE_FLAGS = ["--stride", "63", "--threads", "1"]  # 3 tokens a sample at 24 bits; context 128
