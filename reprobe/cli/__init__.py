"""The ``reprobe`` command line (click).

Every module in this package may define ``COMMANDS``: a list of click commands or groups that
:func:`reprobe.cli.main.cli` adds to the top-level group. A new sub-command is a new module here.
"""
