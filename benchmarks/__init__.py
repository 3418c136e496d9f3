"""Benchmarks of django-smartcar against hand-written code on the official ``smartcar`` package.

``make bench`` (or ``python -m benchmarks``) runs them all and writes ``benchmarks/results.md``.
"""
