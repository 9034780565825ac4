"""The `asr` command line (click + rich).

`main.py` holds the `asr` group and the table of its commands; each verb
group lives in its own small module, and `common.py` holds what they share
(opening the store, consoles, user errors, progress bars). Only this layer
reads the environment and talks to the terminal.
"""
