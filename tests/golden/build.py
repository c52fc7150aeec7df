"""Build the golden ``.trh`` files once: ``python tests/golden/build.py [MODELS_DIR]``.

``MODELS_DIR`` holds the hybrid models (``current``, ``first-kernel``, ``covariance-v1``) as made by
``python -m trilobyte.hybrid.train`` (see ``README.md`` here for the commands); each is copied here
(``model.safetensors`` and ``hybrid.json``, all that decoding reads). The sources are synthesized
signals, slices of the CC0 24-bit recordings in ``trilobyte/core/demo_audio``, and speech from
espeak-ng; the PCM's MD5 of each goes in ``manifest.json``. The files are kept as they were first
written: every later kernel must decode them bit for bit, so this script is the record of how they were
made, not something the tests run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from trilobyte.core import container
from trilobyte.hybrid import codec
from trilobyte.hybrid.defaults import DEFAULT_MODEL
from trilobyte.hybrid.model import SETTINGS_FILE, WEIGHTS_FILE, load

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "trilobyte" / "core" / "demo_audio"
SPEECH = "Golden files freeze the bitstream. Every later version must decode them, bit for bit."


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Float audio in [-1, 1] to integers at ``bits``, rounded and clipped."""
    top = 1 << (bits - 1)
    return np.clip(np.rint(x * top), -top, top - 1).astype(np.int64)


def hires(name: str, rate: int, bits: int, start_s: float, seconds: float, channels: int) -> np.ndarray:
    """A slice of a CC0 96 kHz 24-bit recording, resampled to ``rate`` and requantized to ``bits``."""
    audio, source_rate = soundfile.read(DEMO / name, dtype="float64", always_2d=True)
    audio = audio[int(start_s * source_rate): int((start_s + seconds) * source_rate) + 64, :channels]
    g = np.gcd(rate, source_rate)
    out = resample_poly(audio, rate // g, source_rate // g, axis=0)[: int(seconds * rate)]
    return quantize(out, bits)


def speech(rate: int, bits: int) -> np.ndarray:
    """espeak-ng's English voice, resampled to ``rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "170", "-w", str(wav), SPEECH], check=True)
        audio, source_rate = soundfile.read(wav, dtype="float64", always_2d=True)
    g = np.gcd(rate, source_rate)
    return quantize(resample_poly(audio, rate // g, source_rate // g, axis=0), bits)


def synthetic(rate: int, bits: int, seconds: float, stereo: str, seed: int) -> np.ndarray:
    """Sines, a chirp, noise bursts, a decaying tone, a fade to silence, digital silence, a full-scale
    square wave and (at 24 bits) a ramp; ``stereo``: ``""`` mono, ``"mid"`` nearly equal channels,
    ``"wide"`` two different signals."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    part = n // 8
    x = np.zeros(n)
    x[:part] = 0.5 * np.sin(2 * np.pi * 440 * t[:part]) + 0.2 * np.sin(2 * np.pi * 1250 * t[:part])
    f0, f1 = 100.0, 0.4 * rate
    x[part: 2 * part] = 0.6 * np.sin(2 * np.pi * (f0 * t[:part] + (f1 - f0) * t[:part] ** 2 / (2 * t[part])))
    burst = rng.normal(0, 0.3, part) * (np.arange(part) % (part // 4) < part // 16)
    x[2 * part: 3 * part] = np.clip(burst, -1, 1)
    x[3 * part: 4 * part] = 0.9 * np.exp(-t[:part] * 12) * np.sin(2 * np.pi * 220 * t[:part])
    fade = np.linspace(1, 0, part) ** 4
    x[4 * part: 5 * part] = 0.7 * fade * np.sin(2 * np.pi * 330 * t[:part]) + rng.normal(0, 1e-4, part) * fade
    # 5 * part .. 6 * part: digital silence
    x[6 * part: 7 * part] = np.where(np.sin(2 * np.pi * 150 * t[:part]) >= 0, 1.0, -1.0)
    x[7 * part:] = rng.uniform(-1, 1, n - 7 * part) * 0.05 + 0.3 * np.sin(2 * np.pi * 60 * t[7 * part:])
    pcm = quantize(x, bits)
    if bits == 24:  # a slow ramp over the silent part, every 24-bit code step by step
        pcm[5 * part: 6 * part] = np.arange(part) * 97 - (1 << 20)
    if not stereo:
        return pcm[:, None]
    if stereo == "mid":
        other = pcm + quantize(rng.normal(0, 0.002, n), bits)
    else:
        other = quantize(0.4 * np.sin(2 * np.pi * 523 * t) * np.exp(-t), bits)
    top = 1 << (bits - 1)
    return np.clip(np.stack([pcm, other], axis=1), -top, top - 1)


def sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """(file stem, model, samples, sample rate, bit depth, description) of every golden file."""
    return [
        ("speech-8k16-mono", "current", speech(8000, 16), 8000, 16, "espeak-ng speech, 16-bit 8 kHz mono"),
        ("music-44k16-stereo", "current", hires("hires-96k24-a.flac", 44100, 16, 2.0, 0.6, 2), 44100, 16,
         "CC0 recording hires-96k24-a, 16-bit 44.1 kHz stereo"),
        ("music-48k24-stereo", "current", hires("hires-96k24-b.flac", 48000, 24, 3.0, 0.4, 2), 48000, 24,
         "CC0 recording hires-96k24-b, 24-bit 48 kHz stereo"),
        ("synth-16k8-mono", "current", synthetic(16000, 8, 2.0, "", 1), 16000, 8,
         "synthesized signals, 8-bit 16 kHz mono"),
        ("synth-32k16-mid", "current", synthetic(32000, 16, 1.0, "mid", 2), 32000, 16,
         "synthesized signals, nearly equal channels (mid/side), 16-bit 32 kHz"),
        ("synth-22k24-wide", "current", synthetic(22050, 24, 1.0, "wide", 3), 22050, 24,
         "synthesized signals, two different channels, 24-bit 22.05 kHz"),
        ("first-kernel-music-44k16-stereo", "first-kernel",
         hires("hires-96k24-a.flac", 44100, 16, 5.0, 0.5, 2), 44100, 16,
         "CC0 recording hires-96k24-a, 16-bit 44.1 kHz stereo"),
        ("first-kernel-synth-8k8-mono", "first-kernel", synthetic(8000, 8, 2.0, "", 4), 8000, 8,
         "synthesized signals, 8-bit 8 kHz mono"),
        ("covariance-v1-speech-16k16-mono", "covariance-v1", speech(16000, 16)[:32000], 16000, 16,
         "espeak-ng speech, 16-bit 16 kHz mono"),
        ("covariance-v1-synth-48k24-mid", "covariance-v1", synthetic(48000, 24, 0.5, "mid", 5), 48000, 24,
         "synthesized signals, nearly equal channels, 24-bit 48 kHz"),
    ]


def layout2_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """The files written in frame layout 2 (wasted bits, FLAC blocks), as :func:`sources`."""
    rng = np.random.default_rng(6)
    music = hires("hires-96k24-a.flac", 44100, 16, 6.0, 0.5, 2)
    noisy = synthetic(22050, 16, 1.0, "", 7)
    noisy[4096:8192, 0] = rng.integers(-32768, 32768, 4096)  # full-scale noise: FLAC's verbatim block wins
    wide = synthetic(48000, 24, 0.5, "wide", 8)
    wide[12288:16384] = rng.integers(-(1 << 23), 1 << 23, (4096, 2))
    return [
        ("layout2-wasted-44k16-stereo", "current", (music >> 4) << 4, 44100, 16,
         "CC0 recording hires-96k24-a at 12 bits in 16 (4 wasted bits), 44.1 kHz stereo"),
        ("layout2-flac-block-22k16-mono", "current", noisy, 22050, 16,
         "synthesized signals with a block of full-scale noise (a FLAC block), 16-bit 22.05 kHz mono"),
        ("layout2-flac-block-48k24-wide", "current", wide, 48000, 24,
         "synthesized signals, two different channels, a block of full-scale noise, 24-bit 48 kHz"),
    ]


def default_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """Files coded with a frozen copy of the default model the package ships, as :func:`sources`."""
    fade = hires("hires-96k24-b.flac", 96000, 24, 1.0, 0.3, 2)
    fade = (fade * np.linspace(1.0, 0.0, fade.shape[0])[:, None] ** 4).astype(np.int64)
    return [
        ("default-speech-8k16-mono", "default", speech(8000, 16)[:16000], 8000, 16,
         "espeak-ng speech, 16-bit 8 kHz mono"),
        ("default-music-44k16-stereo", "default", hires("hires-96k24-a.flac", 44100, 16, 7.0, 0.4, 2), 44100, 16,
         "CC0 recording hires-96k24-a, 16-bit 44.1 kHz stereo"),
        ("default-fade-96k24-stereo", "default", fade, 96000, 24,
         "CC0 recording hires-96k24-b faded to silence, 24-bit 96 kHz stereo"),
        ("default-synth-16k8-mono", "default", synthetic(16000, 8, 1.0, "", 9), 16000, 8,
         "synthesized signals, 8-bit 16 kHz mono"),
    ]


def layout3_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """Files with value tables (frame layout 3), coded with the frozen default model, as :func:`sources`."""
    notes = (hires("hires-96k24-a.flac", 22050, 16, 2.0, 1.0, 1) >> 7) * 67  # one value in 67 used
    left = (hires("hires-96k24-a.flac", 44100, 16, 3.0, 0.5, 1) >> 6) * 37
    right = (hires("hires-96k24-b.flac", 44100, 16, 2.0, 0.5, 1) >> 5) * 19
    return [
        ("layout3-values-22k16-mono", "default", notes, 22050, 16,
         "CC0 recording hires-96k24-a at 9 bits, times 67 (a sparse value set), 16-bit 22.05 kHz mono"),
        ("layout3-values-44k16-stereo", "default", np.concatenate([left, right], axis=1), 44100, 16,
         "CC0 recordings hires-96k24-a at 10 bits times 37 and hires-96k24-b at 11 bits times 19,"
         " 16-bit 44.1 kHz stereo"),
        ("layout3-search-16k16-mono", "default", hires("hires-96k24-b.flac", 16000, 16, 4.0, 1.0, 1), 16000, 16,
         "CC0 recording hires-96k24-b, 16-bit 16 kHz mono, coded with the search preset (a cascade variant)"),
    ]


def layout4_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """Files whose values come in clusters (frame layout 4's value cells) and whose every sample is held
    twice (its held frames), as :func:`sources`."""
    low = hires("hires-96k24-a.flac", 11025, 16, 1.0, 1.5, 1) >> 8
    jitter = np.random.default_rng(4).integers(-1, 2, low.shape)
    held = np.repeat(hires("hires-96k24-b.flac", 11025, 8, 1.0, 1.5, 2), 2, axis=0)[1:]
    return [
        ("layout4-clusters-11k16-mono", "default", np.round(low * 100.7).astype(np.int64) + jitter, 11025, 16,
         "CC0 recording hires-96k24-a at 8 bits, times 100.7, each sample moved by -1, 0 or +1 (clusters of"
         " three values a hundred apart), 16-bit 11.025 kHz mono"),
        ("layout4-held-22k8-stereo", "default", held, 22050, 8,
         "CC0 recording hires-96k24-b at 11.025 kHz, every sample repeated once (from the second: phase 1),"
         " 8-bit 22.05 kHz stereo"),
    ]


def layout5_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A file whose quiet stretches take few values and loud ones many (layout 5's recent values)."""
    quiet = hires("hires-96k24-a.flac", 11025, 16, 1.0, 1.5, 1) >> 11  # about 5 bits
    loud = hires("hires-96k24-b.flac", 11025, 16, 1.0, 1.5, 1)
    jitter = np.random.default_rng(5).integers(-1, 2, quiet.shape)
    stretch = (np.arange(len(quiet)) // 2000 % 3 == 2)[:, None]
    x = np.where(stretch, loud, quiet * 375 + jitter)
    return [
        ("layout5-recent-11k16-mono", "default", x, 11025, 16,
         "CC0 recording hires-96k24-a at 5 bits times 375, each sample moved by -1, 0 or +1, every third"
         " stretch of 2,000 samples hires-96k24-b at 16 bits, 16-bit 11.025 kHz mono"),
    ]


def fine_sum_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A quiet stereo slice coded with a frozen copy of the third default model (a 1,024-tap first stage;
    the prediction's parts summed exactly, ``fine_sum``)."""
    return [
        ("default3-quiet-44k16-stereo", "default3", hires("hires-96k24-a.flac", 44100, 16, 7.0, 0.4, 2) >> 6,
         44100, 16, "CC0 recording hires-96k24-a at 10 bits (quiet), 16-bit 44.1 kHz stereo"),
    ]


def stage_mix_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A slice coded with a frozen copy of the fourth default model (the adaptive stages' parts weighted by
    adaptive weights, ``stage_mix``)."""
    return [
        ("default4-mixed-44k16-mono", "default4", hires("hires-96k24-a.flac", 44100, 16, 3.0, 0.5, 1), 44100, 16,
         "CC0 recording hires-96k24-a, 16-bit 44.1 kHz mono"),
    ]


def lpc_fraction_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A quiet stereo slice coded with a frozen copy of the fifth default model (the LPC stage's lag sums
    with fractional bits, ``lpc_fraction``)."""
    return [
        ("default5-quiet-44k16-stereo", "default5", hires("hires-96k24-b.flac", 44100, 16, 4.0, 0.4, 2) >> 7,
         44100, 16, "CC0 recording hires-96k24-b at 9 bits (quiet), 16-bit 44.1 kHz stereo"),
    ]


def fine_inputs_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A quiet slice coded with a frozen copy of the sixth default model (the adaptive stages' inputs in 1/16
    of a sample, ``fine_inputs``)."""
    return [
        ("default6-quiet-48k16-mono", "default6", hires("hires-96k24-a.flac", 48000, 16, 5.0, 0.4, 1) >> 8,
         48000, 16, "CC0 recording hires-96k24-a at 8 bits (quiet), 16-bit 48 kHz mono"),
    ]


def nlms_recent_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """A slice coded with a frozen copy of the seventh default model (a 1,536-tap first stage whose steps
    divide by an energy blended with the input's recent power, ``nlms_recent``)."""
    return [
        ("default7-recent-44k16-mono", "default7", hires("hires-96k24-b.flac", 44100, 16, 3.0, 0.5, 1), 44100, 16,
         "CC0 recording hires-96k24-b, 16-bit 44.1 kHz mono"),
    ]


def layout6_sources() -> list[tuple[str, str, np.ndarray, int, int, str]]:
    """Three frames of the small model (16,384 samples each): the second and third primed by the frame
    before them (layout 6); and a frame the default preset coded in cascade variant 4."""
    return [
        ("layout6-primed-16k16-mono", "current", hires("hires-96k24-b.flac", 16000, 16, 2.0, 2.2, 1) >> 2,
         16000, 16, "CC0 recording hires-96k24-b at 14 bits, 16-bit 16 kHz mono, three frames"),
        ("layout6-faster-16k16-mono", "default3", hires("hires-96k24-a.flac", 16000, 16, 1.0, 0.5, 1), 16000, 16,
         "CC0 recording hires-96k24-a, 16-bit 16 kHz mono: its frame coded in cascade variant 4"),
    ]


def copy_model(source: Path, target: Path) -> str:
    target.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS_FILE, SETTINGS_FILE):
        shutil.copyfile(source / name, target / name)
    return load(target).model_id


def main(models_dir: Path | None) -> None:
    """Copy the models from ``models_dir`` (when given) and write every golden file not yet written; a
    file already here is kept as it is (the layout-1 to layout-4 ones can no longer be written: the codec
    writes layout 5)."""
    names = ("current", "first-kernel", "covariance-v1")
    models = {name: copy_model(models_dir / name, HERE / "model" / name) if models_dir else
              load(HERE / "model" / name).model_id for name in names}
    # each frozen once: a later default model is another model
    for name in ("default", "default3", "default4", "default5", "default6", "default7"):
        if not (HERE / "model" / name).exists():
            copy_model(DEFAULT_MODEL, HERE / "model" / name)
        models[name] = load(HERE / "model" / name).model_id
    manifest = json.loads((HERE / "manifest.json").read_text()) if (HERE / "manifest.json").exists() else {}
    entries = manifest.get("files", [])
    written = {e["file"] for e in entries}
    every = (sources() + layout2_sources() + default_sources() + layout3_sources() + layout4_sources()
             + layout5_sources() + fine_sum_sources() + layout6_sources() + stage_mix_sources()
             + lpc_fraction_sources() + fine_inputs_sources() + nlms_recent_sources())
    for stem, model, samples, rate, bits, description in every:
        if f"{stem}{codec.SUFFIX}" in written:
            continue
        preset = "search" if "-search-" in stem else codec.DEFAULT_PRESET
        encoded = codec.encode(samples, rate, bits, HERE / "model" / model, preset=preset)
        (HERE / f"{stem}{codec.SUFFIX}").write_bytes(encoded.data)
        entries.append({"file": f"{stem}{codec.SUFFIX}", "model": model, "source": description,
                        "sample_rate": rate, "bit_depth": bits, "channels": int(samples.shape[1]),
                        "num_samples": int(samples.shape[0]),
                        "pcm_md5": hashlib.md5(container.pcm_bytes(samples, bits)).hexdigest()})
        print(f"{stem}: {len(encoded.data)} bytes")
    manifest = {"models": models, "files": entries}
    (HERE / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
