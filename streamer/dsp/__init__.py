"""The streamer's DSP engine: view parameters and limits, the streaming STFT, row encodings.

- `params`: the view a job computes (`ViewParams`), validated against the Focus limits.
- `stft`: `StreamingSpectrogram`, a chunk-invariant STFT for the three views.
- `encode`: row payloads as float32, float16 or uint8 with per-row min/max.
- `xp`: the array-module seam (NumPy on the CPU, CuPy on a GPU, one code path).
"""
