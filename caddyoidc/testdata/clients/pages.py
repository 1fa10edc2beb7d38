"""A user at the provider's pages with plain HTTP (requests with a cookie jar).

It follows redirects only while they stay on the issuer, reads the hidden
fields of the login and consent forms and posts them back, as a browser
without JavaScript would. The emulation scripts hand it the authorization URL
their library built and get back the URL the provider sends the browser to.
"""

import html
import json
import os
import re
import sys
import traceback
from urllib.parse import urljoin, urlsplit

import requests


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"environment variable {name} is required")
    return value


def _attr(tag, name):
    m = re.search(r'\s%s="([^"]*)"' % name, tag, re.I)
    return html.unescape(m.group(1)) if m else None


def form_of(body, page_url):
    """The first form of a page: its absolute action and its input values."""
    m = re.search(r"<form\b[^>]*>", body, re.I)
    if not m:
        raise RuntimeError(f"no form on {page_url}: {body[:300]}")
    action = urljoin(page_url, _attr(m.group(0), "action") or "")
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", body, re.I):
        name = _attr(tag, "name")
        if name:
            fields[name] = _attr(tag, "value") or ""
    return action, fields


def _origin(url):
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}"


class Browser:
    def __init__(self, issuer):
        self.issuer = issuer
        self.origin = _origin(issuer)
        self.session = requests.Session()

    def follow(self, method, url, data=None):
        headers = {"Origin": self.origin} if method == "POST" else {}
        r = self.session.request(method, url, data=data, headers=headers, allow_redirects=False, timeout=30)
        for _ in range(10):
            loc = r.headers.get("Location")
            if not loc:
                return r, None
            nxt = urljoin(r.url, loc)
            if _origin(nxt) != self.origin:
                return r, nxt
            r = self.session.get(nxt, allow_redirects=False, timeout=30)
        raise RuntimeError("too many redirects")

    def authorize(self, auth_url, username, password):
        """Runs the authorization request through the login page (when not
        signed in yet) and the consent page (allow) and returns the URL the
        provider redirects to, which must leave the provider."""
        r, leaving = self.follow("GET", auth_url)
        for _ in range(4):
            if leaving:
                return leaving
            if r.status_code != 200:
                raise RuntimeError(f"unexpected {r.status_code} at {r.url}: {r.text[:400]}")
            action, fields = form_of(r.text, r.url)
            if 'name="password"' in r.text:
                fields.update(username=username, password=password)
            elif 'name="decision"' in r.text:
                fields["decision"] = "allow"
            else:
                raise RuntimeError(f"neither login nor consent page at {r.url}: {r.text[:400]}")
            r, leaving = self.follow("POST", action, data=fields)
        raise RuntimeError("the provider never redirected back to the client")


def run(fn):
    """Runs fn, prints its result as one JSON line and exits 0; a failure
    exits 1 with the traceback on stderr."""
    try:
        result = fn()
    except Exception:  # noqa: BLE001 - report anything to the Go test
        traceback.print_exc()
        sys.exit(1)
    print(json.dumps(result))
    sys.exit(0)
