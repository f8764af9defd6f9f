"""A small client of the OCI distribution API: what floe needs to publish and pull a release.

floe talks to registries itself (through ``requests``) instead of through the ``oras`` library
because it must control every byte: the manifest is pushed exactly as built (so its digest is
known before anything is uploaded and a tag can be checked first), every blob and manifest
is hashed while it streams and refused when it does not match its digest (oras does not check
downloaded blobs), downloads stop at the size the descriptor announced, and every failure
becomes one clear message naming the registry. ``requests`` is imported only here, only when a
registry must really be asked.

Authentication follows the registries' challenge (``WWW-Authenticate``): Basic with a user
name and password, or Bearer with a token fetched from the realm the registry names (with the
same credentials, or anonymously). Credentials come from secret references
(``--password-secret``, ``--token-secret``) or from the Docker config users already have
(``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``: ``auths.<host>.auth``,
``identitytoken`` or ``registrytoken``). TLS is verified with certifi's CA bundle, or with
``--ca-bundle`` / ``$FLOE_REGISTRY_CA_BUNDLE`` / ``$REQUESTS_CA_BUNDLE`` / ``$SSL_CERT_FILE``; plain HTTP is used only when asked for
(``--insecure`` or the host listed in ``$FLOE_INSECURE_REGISTRIES``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

import attrs

from floe.diagnostics import FloeError
from floe.releases.reference import Reference, digest_of

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
#: Manifests larger than this are refused: the OCI distribution spec asks registries to take
#: at least 4 MiB, and a platform release is a few kilobytes.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
#: Seconds to connect, and to wait for each read, per request (a busy registry can be slow to
#: answer; one that accepts no connection within seconds is down).
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0


class RegistryError(FloeError):
    """A registry could not be reached, refused us, or answered something that is not OCI."""


@attrs.frozen
class Credentials:
    """Who we are to a registry: a user and password (Basic, or to fetch a token), or a token."""

    username: str | None = None
    password: Any = None  # a SecretValue
    token: Any = None  # a SecretValue
    origin: str = "none"


@attrs.frozen
class Settings:
    """How to talk to one registry host."""

    insecure: bool = False
    ca_bundle: str | None = None
    credentials: Credentials = Credentials()


def settings_for(host: str, insecure: bool = False, ca_bundle: str | None = None,
                 username: str | None = None, password_secret: str | None = None,
                 token_secret: str | None = None) -> Settings:
    """The settings for ``host``: explicit options first, then the environment and Docker config."""
    listed = {h.strip() for h in os.environ.get("FLOE_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    insecure = insecure or host in listed
    # The conventions operators already set for Python HTTP clients count too.
    ca_bundle = (ca_bundle or os.environ.get("FLOE_REGISTRY_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE")
                 or os.environ.get("SSL_CERT_FILE") or None)
    if ca_bundle and not Path(ca_bundle).is_file():
        raise RegistryError(f"CA bundle '{ca_bundle}' not found; give a PEM file of the CA that signed "
                            f"the certificate of {host}")
    if token_secret:
        credentials = Credentials(token=_secret(token_secret), origin=f"secret '{token_secret}'")
    elif password_secret:
        if not username:
            raise RegistryError("--password-secret needs --username")
        credentials = Credentials(username, _secret(password_secret), origin=f"secret '{password_secret}'")
    elif username:
        raise RegistryError("--username needs --password-secret (a secret reference holding the password)")
    else:
        credentials = docker_config_credentials(host)
    return Settings(insecure, ca_bundle, credentials)


def _secret(name: str) -> Any:
    from floe.builtin.secrets_env import floe_secrets_lookup
    from floe.runtime.secrets import missing_secret
    from floe.schema.types import SecretRef

    ref = SecretRef(name)
    value = floe_secrets_lookup({}, ref)
    if value is None:
        raise missing_secret(ref, [("env", [f"${ref.env_var_name}", f"${ref.env_var_name}_FILE"])])
    return value


def docker_config_credentials(host: str) -> Credentials:
    """Credentials for ``host`` from the Docker config file, if it has any (helpers are not run)."""
    from floe.runtime.secrets import SecretValue

    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    path = Path(folder) / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Credentials()
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: cannot read the Docker config ({exc}); fix or remove it") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    entry = None
    if isinstance(auths, dict):
        for key in (host, f"https://{host}", f"http://{host}", f"https://{host}/v2/"):
            if isinstance(auths.get(key), dict):
                entry = auths[key]
                break
    if entry is None:
        return Credentials()
    origin = f"{path} auths.{host}"
    for token_key in ("registrytoken", "identitytoken"):
        if entry.get(token_key):
            if token_key == "identitytoken":
                # An identity token is a refresh token: it buys access tokens from the realm.
                return Credentials("<token>", SecretValue(entry[token_key]), origin=origin)
            return Credentials(token=SecretValue(entry[token_key]), origin=origin)
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise RegistryError(f"{origin}: 'auth' is not base64 of user:password; log in again") from None
        return Credentials(user, SecretValue(password), origin=origin)
    return Credentials()


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Registry:
    """One repository of one registry, with authentication and verification built in."""

    def __init__(self, ref: Reference, settings: Settings):
        import requests

        self._requests = requests
        self.ref = ref
        self.settings = settings
        self.base = f"{'http' if settings.insecure else 'https'}://{ref.host}"
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc: the registry is named explicitly
        self.session.verify = settings.ca_bundle or True
        self.session.headers["User-Agent"] = "floe"
        self._auth: str | None = None
        creds = settings.credentials
        if creds.token is not None:
            self._auth = f"Bearer {creds.token.reveal()}"

    # -- reading ----------------------------------------------------------------------------

    def manifest_digest(self, tag: str) -> str | None:
        """The digest the tag points at, or None when the registry has no such tag."""
        digest, _, _ = self._manifest(tag, missing_ok=True) or (None, None, None)
        return digest

    def manifest(self, reference: str) -> tuple[str, bytes, str]:
        """``(digest, bytes, media type)`` of a manifest by tag or digest, verified.

        By digest, the bytes must hash to it; by tag, the digest the registry announces must be
        the hash of the bytes it sent.
        """
        found = self._manifest(reference, missing_ok=False)
        assert found is not None
        return found

    def find_manifest(self, reference: str) -> tuple[str, bytes, str] | None:
        """Like :meth:`manifest`, but None when the registry has no such manifest."""
        return self._manifest(reference, missing_ok=True)

    def _manifest(self, reference: str, missing_ok: bool) -> tuple[str, bytes, str] | None:
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        resp = self._send("GET", path, headers={"Accept": OCI_MANIFEST}, stream=True)
        with resp:
            if resp.status_code == 404 and missing_ok:
                return None
            if resp.status_code == 404:
                raise RegistryError(f"{self._name(reference)}: not found in the registry (404); check the "
                                    "tag or digest")
            self._check(resp, f"manifest {reference}")
            self._not_html(resp, f"manifest {reference}")
            data = b"".join(_limited(resp, MAX_MANIFEST_BYTES, f"the manifest of {self._name(reference)}"))
        digest = digest_of(data)
        announced = resp.headers.get("Docker-Content-Digest")
        expected = reference if reference.startswith("sha256:") else announced
        if expected and expected != digest:
            raise RegistryError(f"{self._name(reference)}: the registry sent a manifest whose bytes hash to "
                                f"{digest}, not {expected}; refusing it (a broken or tampered registry)")
        return digest, data, resp.headers.get("Content-Type", "").split(";")[0].strip()

    def blob(self, digest: str, size: int) -> bytes:
        """The blob ``digest``, refused unless it is ``size`` bytes that hash to ``digest``."""
        resp = self._send("GET", f"/v2/{self.ref.repository}/blobs/{digest}", stream=True)
        with resp:
            if resp.status_code == 404:
                raise RegistryError(f"{self.ref.repo_url}: blob {digest} is missing from the registry (404)")
            self._check(resp, f"blob {digest}")
            hasher, chunks, total = hashlib.sha256(), [], 0
            for chunk in _limited(resp, size, f"blob {digest} of {self.ref.repo_url}"):
                hasher.update(chunk)
                chunks.append(chunk)
                total += len(chunk)
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest or total != size:
            raise RegistryError(f"{self.ref.repo_url}: blob {digest} does not match its digest (the "
                                f"registry sent {total} bytes hashing to {actual}); refusing it")
        return b"".join(chunks)

    # -- writing ----------------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """Whether the repository already holds the blob (to skip uploading it)."""
        resp = self._send("HEAD", f"/v2/{self.ref.repository}/blobs/{digest}")
        if resp.status_code == 404:
            return False
        self._check(resp, f"blob {digest}")
        return True

    def push_blob(self, digest: str, data: bytes) -> None:
        """Upload a blob in one request after opening an upload session."""
        if self.has_blob(digest):
            return
        resp = self._send("POST", f"/v2/{self.ref.repository}/blobs/uploads/")
        self._check(resp, "upload", expect=(202,))
        location = resp.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.ref.repo_url}: the registry opened an upload without a Location")
        from urllib.parse import urljoin

        url = urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + f"digest={digest}"
        resp = self._send("PUT", url, data=data, headers={"Content-Type": "application/octet-stream"})
        self._check(resp, f"blob {digest}", expect=(201,))

    def put_manifest(self, tag: str, data: bytes, media_type: str = OCI_MANIFEST) -> str:
        """Store a manifest under ``tag``; return its digest, checked against the registry's."""
        digest = digest_of(data)
        resp = self._send("PUT", f"/v2/{self.ref.repository}/manifests/{tag}", data=data,
                          headers={"Content-Type": media_type})
        self._check(resp, f"manifest {tag}", expect=(201,))
        announced = resp.headers.get("Docker-Content-Digest")
        if announced and announced != digest:
            raise RegistryError(f"{self._name(tag)}: the registry stored the manifest as {announced}, "
                                f"not {digest}; it altered the manifest")
        return digest

    # -- plumbing ---------------------------------------------------------------------------

    def _name(self, reference: str) -> str:
        sep = "@" if reference.startswith("sha256:") else ":"
        return f"{self.ref.repo_url}{sep}{reference}"

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request with the auth header; on a 401 challenge authenticate once and retry."""
        url = path if path.startswith(("http://", "https://")) else self.base + path
        resp = self._raw(method, url, **kwargs)
        if resp.status_code == 401:
            challenge = resp.headers.get("WWW-Authenticate", "")
            resp.close()
            self._authenticate(challenge)
            resp = self._raw(method, url, **kwargs)
            if resp.status_code == 401:
                resp.close()
                raise RegistryError(f"registry {self.ref.host} refused the credentials from "
                                    f"{self.settings.credentials.origin} (401 Unauthorized); check the "
                                    "user name and password or token")
        return resp

    def _raw(self, method: str, url: str, headers: dict | None = None, **kwargs: Any) -> Any:
        requests = self._requests
        headers = dict(headers or {})
        if self._auth:
            headers["Authorization"] = self._auth
        try:
            return self.session.request(method, url, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                                        allow_redirects=True, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise RegistryError(f"registry {self.ref.host}: TLS verification failed ({_reason(exc)}); "
                                "pass --ca-bundle PEM (or set FLOE_REGISTRY_CA_BUNDLE) for a private "
                                "CA, or --insecure for a plain-HTTP registry") from None
        except requests.exceptions.ConnectionError as exc:
            raise RegistryError(f"cannot reach registry {self.ref.host} ({_reason(exc)}); check the "
                                "address and the network") from None
        except requests.exceptions.Timeout:
            raise RegistryError(f"registry {self.ref.host} did not answer within {READ_TIMEOUT:.0f} s") from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"registry {self.ref.host}: {_reason(exc)}") from None

    def _authenticate(self, challenge: str) -> None:
        creds = self.settings.credentials
        scheme = challenge.split(" ", 1)[0].lower()
        params = dict(_CHALLENGE.findall(challenge))
        if creds.username is None and creds.token is None and scheme == "basic":
            raise RegistryError(f"registry {self.ref.host} requires authentication (401); log in "
                                "(docker login writes ~/.docker/config.json) or pass --username and "
                                "--password-secret")
        if scheme == "basic":
            if creds.username is None:
                raise RegistryError(f"registry {self.ref.host} asks for a user name and password, "
                                    "but only a token was given")
            raw = f"{creds.username}:{creds.password.reveal()}".encode()
            self._auth = "Basic " + base64.b64encode(raw).decode()
        elif scheme == "bearer" and params.get("realm"):
            self._auth = f"Bearer {self._fetch_token(params)}"
        else:
            raise RegistryError(f"registry {self.ref.host} asks for authentication this client does "
                                f"not speak ({challenge or 'no WWW-Authenticate header'})")

    def _fetch_token(self, params: dict[str, str]) -> str:
        creds = self.settings.credentials
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        auth = None
        if creds.username is not None and creds.password is not None:
            auth = (creds.username, creds.password.reveal())
        resp = self._raw("GET", params["realm"], params=query, auth=auth)
        with resp:
            if resp.status_code in (401, 403) and auth is None:
                raise RegistryError(f"registry {self.ref.host} requires authentication ({resp.status_code} from "
                                    "its token service); log in (docker login writes ~/.docker/config.json) "
                                    "or pass --username and --password-secret, or --token-secret")
            if resp.status_code in (401, 403):
                raise RegistryError(f"the token service of {self.ref.host} refused the credentials from "
                                    f"{creds.origin} ({resp.status_code})")
            self._check(resp, "token")
            try:
                body = json.loads(b"".join(_limited(resp, 1024 * 1024, "the token answer")))
                return str(body.get("token") or body["access_token"])
            except (ValueError, KeyError, AttributeError):
                raise RegistryError(f"the token service of {self.ref.host} answered no token") from None

    def _check(self, resp: Any, what: str, expect: tuple[int, ...] = (200,)) -> None:
        code = resp.status_code
        if code in expect:
            return
        if code == 403:
            raise RegistryError(f"registry {self.ref.host} denied access to {self.ref.repository} "
                                f"({what}: 403 Forbidden); the account from {self.settings.credentials.origin} "
                                "lacks permission")
        self._not_html(resp, what)
        detail = ""
        try:
            errors = json.loads(resp.content[:65536]).get("errors") or []
            detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        except (ValueError, AttributeError):
            pass
        raise RegistryError(f"registry {self.ref.host}: {what} failed with HTTP {code}"
                            + (f" ({detail})" if detail else ""))

    def _not_html(self, resp: Any, what: str) -> None:
        if "html" in resp.headers.get("Content-Type", "").lower():
            raise RegistryError(f"{self.ref.host} answered an HTML page (HTTP {resp.status_code}) for "
                                f"{what}, not the OCI distribution API; is this the registry's address?")


def _limited(resp: Any, limit: int, what: str) -> Iterator[bytes]:
    """The response body in chunks, refused once it exceeds ``limit`` bytes."""
    total = 0
    for chunk in resp.iter_content(chunk_size=65536):
        total += len(chunk)
        if total > limit:
            raise RegistryError(f"{what} is larger than the {limit} bytes announced or allowed; refusing it")
        yield chunk


def _reason(exc: Exception) -> str:
    text = str(exc)
    # urllib3 wraps the real cause in layers of repr; the last clause is the readable one.
    match = re.search(r"\[Errno [-\d]+\] ([^'\")]+)|(Connection refused|Name or service not known|"
                      r"certificate verify failed[^'\")]*|\[SSL: [A-Z_]+\] [^('\")]+)", text)
    if match:
        return (match.group(1) or match.group(2)).strip()
    return text[:200]
