"""One module per CLI verb.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules must stay light to import (heavy imports go inside ``run``) so that
``frbtriage --help`` is instant. The verb is the module name with ``_`` -> ``-``.
"""
