"""The credential key ring (CREDENTIAL_ENCRYPTION_KEYS) and its errors.

Tokens are encrypted inside PostgreSQL with pgcrypto (`pgp_sym_encrypt`), so rows
written by the system this replaces stay readable. Each row records the id of the key
that encrypted it: writes use the current key, reads use the row's key.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# How pgp_sym_encrypt turns a key into a cipher key. pgcrypto's default iterates the hash
# 65,536+ times (OpenPGP's S2K mode 3), stretching that slows the guessing of a password
# and costs PostgreSQL ~0.3 ms on every decryption: three per tenant on every refresh.
# These keys are random secrets of 32+ characters (the settings refuse shorter ones),
# which no stretching makes harder to guess, so a salted single hash (mode 1) is used.
# Decryption reads the mode from each row, so rows written with the default stay readable.
PGP_OPTIONS = "cipher-algo=aes256, s2k-mode=1, s2k-digest-algo=sha256"


class CredentialKeyError(Exception):
    """A credential cannot be decrypted. Messages name key ids, never key material."""


class UnknownCredentialKey(CredentialKeyError):
    pass


class CredentialUndecryptable(CredentialKeyError):
    pass


@dataclasses.dataclass(frozen=True)
class KeyRing:
    current_id: str
    keys: Mapping[str, str] = dataclasses.field(repr=False)

    @property
    def current_secret(self) -> str:
        return self.keys[self.current_id]

    def secret(self, key_id: str, *, credential: object = None) -> str:
        try:
            return self.keys[key_id]
        except KeyError:
            which = f"platform credential {credential} is" if credential else "credentials are"
            raise UnknownCredentialKey(
                f"{which} encrypted with key id {key_id!r}, which CREDENTIAL_ENCRYPTION_KEYS does not contain"
            ) from None


@functools.cache
def key_ring() -> KeyRing:
    ring = settings.CREDENTIAL_ENCRYPTION_KEYS
    return KeyRing(current_id=ring["current"], keys=dict(ring["keys"]))


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "CREDENTIAL_ENCRYPTION_KEYS":
        key_ring.cache_clear()
