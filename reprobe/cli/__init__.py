"""The ``reprobe`` command line (click): parse options, call the library, print.

The top layer: the only package that imports click, and where flag names live
(:func:`reprobe.cli.options.flag_for` spells the parameters that library messages name as flags).

Every module in this package may define ``COMMANDS``: a list of click commands or groups that
:func:`reprobe.cli.main.cli` adds to the top-level group. A new sub-command is a new module here.
"""
