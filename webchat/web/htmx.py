"""htmx's side of a request and a response (flask-htmx): ``htmx`` is true for a request that
htmx sent, and ``make_response`` sets the HX-* headers (retarget, reswap, push URL, redirect)."""

from flask_htmx import HTMX, make_response

htmx = HTMX()  # bound to the app by create_app; reads the current request

__all__ = ["htmx", "make_response"]
