"""The dashboard's sign-in: the service key, entered once, becomes an HttpOnly, SameSite=Strict cookie.

The cookie holds an HMAC of a fixed label under the key, never the key itself: it proves the key was
entered, and it stops working when the key changes. SameSite=Strict keeps other sites' pages from
sending it with their forms, so the dashboard's POSTs cannot be forged from elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac

COOKIE = "pz_dashboard"
_LABEL = b"personalizer-dashboard-session"


def session_token(key: str) -> str:
    """The cookie's value for this key."""
    return hmac.new(key.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()


def key_matches(given: str, key: str) -> bool:
    """Whether the entered key is the service's (constant time)."""
    return hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8"))


def signed_in(cookie: str | None, key: str) -> bool:
    """Whether a request's cookie proves the key."""
    return cookie is not None and hmac.compare_digest(
        cookie.encode("utf-8"), session_token(key).encode("utf-8")
    )


def cookie_header(key: str, path: str, secure: bool) -> str:
    """The Set-Cookie value that signs a browser in."""
    flags = f"{COOKIE}={session_token(key)}; Path={path}; HttpOnly; SameSite=Strict; Max-Age=43200"
    return flags + ("; Secure" if secure else "")


def clear_cookie_header(path: str) -> str:
    """The Set-Cookie value that signs a browser out."""
    return f"{COOKIE}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0"
