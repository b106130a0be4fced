"""Pseudonymized email addresses in logs.

Everything listhygiene prints for people (warnings, errors, the run summary,
tracebacks with --debug) goes through `Pseudonymizer.text`, which replaces each
email address with `email:` and the first 12 hex digits of its HMAC-SHA256
under a random key kept in the store's `meta` table (`pii_key`): the same
address gets the same pseudonym in every run on that store, so log lines can
be correlated, and someone holding the store can check a guess, but a log
alone gives nothing away. `--debug-pii` prints addresses as they are. Output
files are the product and keep the real data.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

# Anything shaped like local@domain: a wide net, since missing an address leaks it
# while a false hit only hides a token. The local part cannot begin with a quote, so
# 'ann@example.com' in a message keeps its quotes around the pseudonym.
EMAIL = re.compile(r"[\w.!#$%&*+/=?^`{|}~-][\w.!#$%&'*+/=?^`{|}~-]*@[\w-]+(?:\.[\w-]+)*")

KEY_BYTES = 32


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class Pseudonymizer:
    """`key` None until the store gives one; a message printed before that (or
    without a store) uses a key of this process only."""

    def __init__(self, reveal: bool = False, key: bytes | None = None):
        self.reveal = reveal
        self.key = key

    def set_key(self, key: bytes) -> None:
        self.key = key

    def email(self, address: str) -> str:
        if self.key is None:
            self.key = new_key()
        data = address.lower().encode("utf-8", "surrogatepass")
        return "email:" + hmac.new(self.key, data, hashlib.sha256).hexdigest()[:12]

    def text(self, message: str) -> str:
        if self.reveal or "@" not in message:
            return message
        return EMAIL.sub(lambda m: self.email(m.group()), message)
