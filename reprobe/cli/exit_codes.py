"""The exit codes of ``reprobe`` commands, in one place (the README's *Command line* lists them).

* 0 — done; with ``--fail-on``, the gate passed;
* 1 — ``compare``: a model failed (the others were ranked and written);
* 2 — bad input or any error (one ``Error:`` line; :class:`reprobe.cli.main.CliError`);
* 3 — ``run --fail-on LEVEL``: the verdict is at or below LEVEL (trainable > marginal > untrainable);
* 4 — ``run --fail-on LEVEL``: the verdict is undecidable (the probe could not fit the curve), so the
  gate can neither pass nor fail; a CI job that accepts it tests for 4;
* 130 — interrupted (Ctrl-C).
"""

#: The verdict is at or below ``--fail-on``.
GATE_FAILED_EXIT = 3
#: ``--fail-on`` is set and the verdict is undecidable.
UNDECIDABLE_EXIT = 4
