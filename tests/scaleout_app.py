"""The app tests/test_scaleout.py runs in two gunicorn instances with the gevent worker.

It is ``webchat.wsgi`` (gevent's patch first, then the app from ``WEBCHAT_*`` variables) with a
chat function the test can watch: it counts slowly, and notes in ``SCALEOUT_MARKS`` which
instance started each reply and when a reply's generator was closed early (a stop).
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from webchat.app import create_app  # noqa: E402

MARKS = Path(os.environ["SCALEOUT_MARKS"])
NAME = os.environ["SCALEOUT_NAME"]
WORDS = int(os.environ.get("SCALEOUT_WORDS", "40"))
DELAY = float(os.environ.get("SCALEOUT_DELAY", "0.08"))


def count(message: Any, history: list[dict[str, Any]]) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", str(message).lower())
    (MARKS / f"started-{slug}-{NAME}").write_text(str(os.getpid()))
    text = ""
    try:
        for i in range(1, WORDS + 1):
            text += f"n{i} "
            yield text
            time.sleep(DELAY)
    except GeneratorExit:
        (MARKS / f"closed-{slug}").write_text(text)
        raise


app = create_app(chat_fn=count)
