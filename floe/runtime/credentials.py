"""Credential providers: what the ``credentials`` modes of platform.yaml become at run time.

One provider per ``credentials`` block and run (``RunContext.credentials(config)``), shared by
every client of the run. Providers cache what they obtain and fetch it again shortly before it
expires, so a long run never presents an expired token or key:

* ``static`` — keys from secret references (:class:`StaticProvider`);
* ``iam_role`` — STS AssumeRole (:class:`AssumeRoleProvider`);
* ``service_account`` — STS AssumeRoleWithWebIdentity with a projected token file
  (:class:`WebIdentityProvider`);
* ``oauth2`` — the client-credentials grant (:class:`OAuth2Provider`).

Secret parts are :class:`~floe.runtime.secrets.SecretValue`; boto3 and requests are imported
only when a provider is first asked for something.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

import attrs

from floe.diagnostics import FloeError
from floe.runtime.secrets import MASK, SecretValue, as_ref, ref_label

if TYPE_CHECKING:
    import requests

    from floe.runtime.context import RunContext

#: A value is fetched again once this share of its lifetime is left ...
REFRESH_SHARE = 0.1
#: ... or this many seconds, whichever is less (STS's shortest keys live 900 s).
MAX_REFRESH_MARGIN = 300.0
#: Seconds to wait for a token endpoint or STS before giving up.
TIMEOUT = 10.0

Clock = Callable[[], float]
T = TypeVar("T")


#: Environment variable that sets the refresh margin in seconds, overriding the default above
#: (for a clock that drifts, or to watch refreshes happen in a test).
MARGIN_ENV = "FLOE_CREDENTIALS_REFRESH_MARGIN"


def refresh_margin(lifetime: float) -> float:
    """How long before expiry a value of ``lifetime`` seconds is fetched again.

    :raises FloeError: when ``$FLOE_CREDENTIALS_REFRESH_MARGIN`` is set but is not a number of
        seconds.
    """
    override = os.environ.get(MARGIN_ENV)
    if override:
        try:
            margin = float(override)
            if not margin >= 0 or margin == float("inf"):
                raise ValueError
        except ValueError:
            raise FloeError(f"{MARGIN_ENV}={override!r} is not a number of seconds; set it to how "
                            "long before expiry keys and tokens are fetched again, e.g. 300, or "
                            "unset it") from None
        return margin
    return min(MAX_REFRESH_MARGIN, max(lifetime, 0.0) * REFRESH_SHARE)


@attrs.frozen
class AwsCredentials:
    """AWS keys for S3 and other AWS clients; ``expiration`` is None for long-lived keys."""

    access_key_id: str | SecretValue
    secret_access_key: SecretValue
    session_token: SecretValue | None = None
    expiration: dt.datetime | None = None


class _Cached(Generic[T]):
    """A value with an expiry time, fetched again ``refresh_margin`` before it expires."""

    def __init__(self, fetch: Callable[[], tuple[T, float | None]], clock: Clock):
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._refresh_at: float | None = None
        #: How many times the value was fetched (tests and diagnostics).
        self.fetches = 0

    def get(self) -> T:
        """The cached value, fetched first when there is none or it is about to expire."""
        with self._lock:
            if self._value is None or (self._refresh_at is not None and self._clock() >= self._refresh_at):
                started = self._clock()
                value, expires_at = self._fetch()
                self.fetches += 1
                self._value = value
                self._refresh_at = None if expires_at is None else \
                    expires_at - refresh_margin(expires_at - started)
            return self._value

    def forget(self, value: T | None = None) -> None:
        """Drop the cached value (only if it is still ``value``, when given)."""
        with self._lock:
            if value is None or self._value is value:
                self._value, self._refresh_at = None, None


# -- static keys ------------------------------------------------------------------------------


class StaticProvider:
    """``static``: an access key id and secret key held in the secret backends."""

    def __init__(self, config: dict, context: "RunContext"):
        self._config = config
        self._context = context

    def credentials(self) -> AwsCredentials:
        """The keys, resolved through the secret backends (cached by the run's context)."""
        key_id = self._config["access_key_id"]
        ref = as_ref(key_id)
        session_ref = self._config.get("session_token")
        return AwsCredentials(
            access_key_id=self._context.secret(ref) if ref is not None else key_id,
            secret_access_key=self._context.secret(self._config["secret_access_key"]),
            session_token=self._context.secret(session_ref) if session_ref else None)


# -- STS ---------------------------------------------------------------------------------------


def aws_client(service: str, region: str | None, endpoint: str | None, *, needed_by: str,
               unsigned: bool = False) -> Any:
    """A boto3 client with floe's bounded timeouts and standard retries.

    :param needed_by: what needs boto3 and how to install it, for the error when it is missing.
    :param unsigned: send requests unsigned (AssumeRoleWithWebIdentity authenticates with the
        token itself, not with AWS keys).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise FloeError(f"{needed_by}, which needs boto3") from None
    options: dict[str, Any] = {"retries": {"max_attempts": 3, "mode": "standard"},
                               "connect_timeout": TIMEOUT, "read_timeout": TIMEOUT}
    if unsigned:
        from botocore import UNSIGNED

        options["signature_version"] = UNSIGNED
    return boto3.session.Session().client(service, region_name=region, endpoint_url=endpoint,
                                          config=Config(**options))


def _sts_client(config: dict, unsigned: bool = False) -> Any:
    return aws_client("sts", config.get("region"), config.get("sts_endpoint"), unsigned=unsigned,
                      needed_by=f"credentials mode '{config['mode']}' calls AWS STS (pip install "
                                "'floe[aws]')")


def _sts_failure(config: dict, call: str, exc: Exception, hint: str) -> FloeError:
    from botocore.exceptions import ClientError, NoCredentialsError

    where = f" at {config['sts_endpoint']}" if config.get("sts_endpoint") else ""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    elif isinstance(exc, NoCredentialsError):
        reason = "no AWS credentials in the environment to call it with"
        hint = ("give the process AWS credentials (an instance or pod role, AWS_PROFILE, or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return FloeError(f"credentials mode '{config['mode']}': STS {call} for {config['role_arn']}"
                     f"{where} failed ({reason}); {hint}")


def _keys(response: dict) -> tuple[AwsCredentials, float]:
    creds = response["Credentials"]
    expiration = creds["Expiration"]
    if isinstance(expiration, str):
        expiration = dt.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=dt.timezone.utc)
    keys = AwsCredentials(access_key_id=creds["AccessKeyId"],
                          secret_access_key=SecretValue(creds["SecretAccessKey"]),
                          session_token=SecretValue(creds["SessionToken"]),
                          expiration=expiration)
    return keys, expiration.timestamp()


class _StsProvider:
    """Keys from an STS call, cached and fetched again before they expire (``_assume``)."""

    def __init__(self, config: dict, context: "RunContext", clock: Clock = time.time):
        self._config = config
        self._context = context
        self._cache: _Cached[AwsCredentials] = _Cached(self._assume, clock)

    @property
    def fetches(self) -> int:
        """How many times the role was assumed in this run."""
        return self._cache.fetches

    def credentials(self) -> AwsCredentials:
        """Current keys; assumed again when less than the refresh margin is left."""
        return self._cache.get()

    def _assume(self) -> tuple[AwsCredentials, float]:
        raise NotImplementedError


class AssumeRoleProvider(_StsProvider):
    """``iam_role``: short-lived keys from STS AssumeRole, assumed again before they expire.

    The call is signed with the AWS credentials of the environment (boto3's default chain).
    """

    def _assume(self) -> tuple[AwsCredentials, float]:
        config = self._config
        args: dict[str, Any] = {"RoleArn": config["role_arn"],
                                "RoleSessionName": config.get("session_name", "floe"),
                                "DurationSeconds": config.get("duration_seconds", 3600)}
        if config.get("external_id"):
            args["ExternalId"] = self._context.secret(config["external_id"]).reveal()
        client = _sts_client(config)
        try:
            return _keys(client.assume_role(**args))
        except Exception as exc:  # noqa: BLE001 - every STS failure becomes one clear message
            raise _sts_failure(config, "AssumeRole", exc, "check that the role exists and trusts "
                               "the identity floe runs as") from None


class WebIdentityProvider(_StsProvider):
    """``service_account``: STS AssumeRoleWithWebIdentity with the token Kubernetes projects.

    The token file is read again on every refresh: the kubelet rotates it.
    """

    def _assume(self) -> tuple[AwsCredentials, float]:
        config = self._config
        path = Path(config["token_file"])
        try:
            token = SecretValue(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise FloeError(f"credentials mode 'service_account': cannot read the web-identity "
                            f"token file {path} ({exc.strerror or exc}); project a service-account "
                            "token there (EKS does this for pods whose service account is annotated "
                            "with eks.amazonaws.com/role-arn) or set token_file") from None
        if not token:
            raise FloeError(f"credentials mode 'service_account': the web-identity token file {path} "
                            "is empty; check the projected service-account token volume")
        client = _sts_client(config, unsigned=True)
        try:
            return _keys(client.assume_role_with_web_identity(
                RoleArn=config["role_arn"], RoleSessionName=config.get("session_name", "floe"),
                DurationSeconds=config.get("duration_seconds", 3600),
                WebIdentityToken=token.reveal()))
        except Exception as exc:  # noqa: BLE001 - every STS failure becomes one clear message
            raise _sts_failure(config, "AssumeRoleWithWebIdentity", exc, "check that the role's "
                               "trust policy admits this service account's identity provider") from None


# -- OAuth2 ------------------------------------------------------------------------------------


class OAuth2Provider:
    """``oauth2``: the client-credentials grant (RFC 6749 §4.4), for catalogs such as Polaris.

    The access token is cached and fetched again before ``expires_in`` runs out (a token
    without ``expires_in`` is kept until a server rejects it). :meth:`request` sends the token
    and, when the server answers 401 (the token was revoked or expired early), fetches a new
    one and tries once more.
    """

    def __init__(self, config: dict, context: "RunContext", clock: Clock = time.time,
                 session: "requests.Session | None" = None, timeout: float = TIMEOUT):
        self._config = config
        self._context = context
        self._session = session
        self._timeout = timeout
        self._clock = clock
        self._cache: _Cached[SecretValue] = _Cached(self._fetch, clock)

    @property
    def endpoint(self) -> str:
        """The token endpoint; the catalog plugin fills it in when platform.yaml leaves it out."""
        endpoint = self._config.get("token_endpoint")
        if not endpoint:
            raise FloeError("credentials mode 'oauth2' has no token_endpoint; set "
                            "credentials.token_endpoint in platform.yaml")
        return endpoint

    @property
    def fetches(self) -> int:
        """How many tokens were fetched in this run."""
        return self._cache.fetches

    def token(self) -> SecretValue:
        """A valid access token (cached; fetched again shortly before it expires)."""
        return self._cache.get()

    def invalidate(self, token: SecretValue | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given)."""
        self._cache.forget(token)

    def request(self, method: str, url: str, **kwargs: Any) -> "requests.Response":
        """``requests`` call with ``Authorization: Bearer <token>``; one retry after a 401.

        :returns: the response of the last attempt, whatever its status.
        """
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs.setdefault("timeout", self._timeout)
        response = None
        for _attempt in range(2):
            token = self.token()
            response = self._http().request(method, url, headers={
                **headers, "Authorization": f"Bearer {token.reveal()}"}, **kwargs)
            if response.status_code != 401:
                return response
            # Revoked, or expired before its expires_in: one new token, one more try.
            self.invalidate(token)
        assert response is not None
        return response

    def _http(self) -> "requests.Session":
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _fetch(self) -> tuple[SecretValue, float | None]:
        import requests

        config = self._config
        endpoint = self.endpoint
        secret_ref = config["client_secret"]
        client_secret = self._context.secret(secret_ref)
        client_id = config["client_id"]
        id_ref = as_ref(client_id)
        client_id_value = self._context.secret(id_ref) if id_ref is not None else None
        form = {"grant_type": "client_credentials",
                "client_id": client_id_value.reveal() if client_id_value is not None else client_id,
                "client_secret": client_secret.reveal()}
        for name in ("scope", "audience"):
            if config.get(name):
                form[name] = config[name]
        who = f"client {ref_label(id_ref)}" if id_ref is not None else f"client '{client_id}'"
        started = self._clock()
        try:
            response = self._http().post(endpoint, data=form, timeout=self._timeout,
                                         headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise FloeError(f"credentials mode 'oauth2': cannot reach the token endpoint "
                            f"{endpoint} ({type(exc).__name__}); check token_endpoint and that the "
                            "server is up") from None
        hidden = [v.reveal() for v in (client_secret, client_id_value) if v is not None and v.reveal()]
        if response.status_code != 200:
            detail = _oauth_error(response, hidden)
            hint = (f"check the client id and the secret {ref_label(as_ref(secret_ref))}"
                    if response.status_code in (400, 401, 403) else "try again later or ask the "
                    "catalog's operators")
            raise FloeError(f"credentials mode 'oauth2': the token endpoint {endpoint} refused "
                            f"{who} (HTTP {response.status_code}{detail}); {hint}")
        try:
            body = response.json()
            access_token = body["access_token"]
            if not isinstance(access_token, str) or not access_token:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise FloeError(f"credentials mode 'oauth2': the token endpoint {endpoint} answered "
                            "without an access_token; is it an OAuth2 token endpoint?") from None
        expires_in = body.get("expires_in")
        expires_at = started + float(expires_in) if isinstance(expires_in, (int, float)) \
            and not isinstance(expires_in, bool) else None
        return SecretValue(access_token), expires_at


def _oauth_error(response: Any, hidden: list[str]) -> str:
    """``: invalid_client: bad secret`` from an RFC 6749 error body, with secrets masked."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    text = body["error"]
    if isinstance(body.get("error_description"), str):
        text += f": {body['error_description']}"
    # A server that echoes the request must not make floe print the client secret.
    for value in hidden:
        text = text.replace(value, MASK)
    return f": {text[:300]}"


# -- vended credentials ---------------------------------------------------------------------------


class VendedProvider:
    """``vended_credentials``: the catalog hands out storage keys with each table it loads."""

    def __init__(self, config: dict | None = None, context: Any = None):
        # Nothing to keep: the catalog decides the keys, table by table.
        del config, context

    def credentials(self) -> None:
        """None: vended keys come from the catalog with each table, there are none up front."""
        return None
