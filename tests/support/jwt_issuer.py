"""Signed JSON Web Tokens for a Trino configured with JWT authentication.

An RSA key pair minted with ``cryptography``: Trino verifies with the public key
(``http-server.authentication.jwt.key-file``), and :meth:`JwtIssuer.mint` signs RS256 tokens a
token endpoint (:class:`support.iceberg_rest.RestCatalogServer` with ``token_factory``) hands out.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JwtIssuer:
    """Signs tokens for ``subject``; ``public_key`` is the PEM file a verifier reads."""

    def __init__(self, directory: Path, subject: str = "floe", seconds: int = 3600):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        directory.mkdir(parents=True, exist_ok=True)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.subject = subject
        self.seconds = seconds
        self.public_key = directory / "jwt-public.pem"
        self.public_key.write_bytes(self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        #: Every token minted, for tests that look for them where they must not be.
        self.minted: list[str] = []

    def mint(self) -> str:
        """A token for ``subject``, valid for ``seconds``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"sub": self.subject, "iat": now, "exp": now + self.seconds}).encode())
        signature = self._key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{header}.{claims}.{_b64(signature)}"
        self.minted.append(token)
        return token
