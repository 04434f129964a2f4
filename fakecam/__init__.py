"""Emulated cheap Wi-Fi cameras for tests and benchmarks (not shipped).

``fakecam.teg.TegCamera`` speaks TEG (teg.md), ``fakecam.pppp`` PPPP; both use
``fakecam.frames.FrameSource`` for real, per-frame-unique JPEG frames.
Run ``python -m fakecam teg|pppp --help``.
"""
