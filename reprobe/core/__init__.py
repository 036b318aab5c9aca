"""Foundations with no reprobe imports above them: errors, the name registry, file/JSON helpers
and output-folder claiming.

* :mod:`reprobe.core.errors` — :class:`ReprobeError`, :class:`ReprobeWarning`, "did you mean" messages,
  :func:`~reprobe.core.errors.param` (a parameter named in a message; the CLI shows its flag);
* :mod:`reprobe.core.registry` — the tiny name → object registry behind every ``register_*``;
* :mod:`reprobe.core.format` — numbers written for people (tables, reports, sentences);
* :mod:`reprobe.core.io` — atomic writes, strict-JSON values, writable-path checks;
* :mod:`reprobe.core.outdir` — output folders that are whole or visibly not (claim / release).
"""
