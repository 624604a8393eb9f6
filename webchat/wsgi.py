"""The WSGI app for gunicorn, configured by ``WEBCHAT_*`` environment variables::

    WEBCHAT_BACKEND=echo gunicorn -k gevent -w 1 --no-control-socket webchat.wsgi:app

gevent must patch the standard library before anything imports socket, threading or ssl
(huggingface_hub's httpx client, SQLAlchemy's pool, the turn runner's threads), so the patch
comes first, even though the gevent worker patches too: with ``--preload`` the app is built in
gunicorn's master, before any worker exists. ``webchat --production`` does the same for you.
"""

from gevent import monkey

monkey.patch_all()

from webchat.app import create_app  # noqa: E402  (after the patch, on purpose)

app = create_app()
