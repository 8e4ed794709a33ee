"""The review app (Streamlit), installed as ``frbtriage.ui``; ``frbtriage app`` launches it.

``app.py`` is the entry script (sign-in and navigation); ``volunteer.py``, ``researcher.py``
and ``dashboard.py`` draw one page each. Pages only call the package's API
(:mod:`frbtriage.review` and the modules it names) and draw; they never open SQL or read a
path a user typed. The workspace comes from the environment variable :data:`WORKSPACE_ENV`,
set by whoever starts the app (the ``frbtriage app`` verb).
"""

from pathlib import Path

#: Environment variable naming the workspace folder the app serves.
WORKSPACE_ENV = "FRBTRIAGE_WORKSPACE"
#: The entry script to hand to ``streamlit run``.
APP_SCRIPT = Path(__file__).with_name("app.py")
