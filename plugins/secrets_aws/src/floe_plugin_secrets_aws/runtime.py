"""Run-time half of the aws secret backend: GetSecretValue with boto3, cached.

Imported only when a run looks a secret up, never by ``floe validate`` or ``floe compile``.
One fetch serves every key of a JSON secret: values are cached (in memory, masked) for the
backend's ``cache_seconds``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from floe.diagnostics import FloeError
from floe.runtime.credentials import aws_client
from floe.runtime.secrets import SecretValue, ref_label

_lock = threading.Lock()
_clients: dict[tuple[str | None, str | None], Any] = {}
_values: dict[tuple[str | None, str | None, str], tuple[SecretValue | None, float]] = {}


def clear_cache() -> None:
    """Forget every cached value and client (tests; a long-lived process after a rotation)."""
    with _lock:
        _clients.clear()
        _values.clear()


def secret_id(config: dict, ref: Any) -> str:
    """The Secrets Manager id of a reference: the backend's prefix plus the reference's name."""
    return config.get("prefix", "") + ref.secret_ref


def places_looked(config: dict, ref: Any) -> str:
    """``key 'password' of AWS Secrets Manager secret 'floe/prod/db' in eu-central-1``."""
    key = f"key '{ref.key}' of " if ref.key else ""
    return key + _where(config, secret_id(config, ref))


def _where(config: dict, name: str) -> str:
    where = f" in {config['region']}" if config.get("region") else " in the environment's region"
    if config.get("endpoint"):
        where += f" at {config['endpoint']}"
    return f"AWS Secrets Manager secret '{name}'{where}"


def lookup(config: dict, ref: Any) -> SecretValue | None:
    """The secret (or one key of a JSON secret), or None when Secrets Manager does not hold it."""
    raw = _fetch(config, secret_id(config, ref))
    if raw is None or not ref.key:
        return raw
    try:
        data = json.loads(raw.reveal())
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise FloeError(f"secret {ref_label(ref)}: {_where(config, secret_id(config, ref))} "
                        f"is not a JSON object, so it has no key '{ref.key}'; store it as JSON "
                        f'({{"{ref.key}": "..."}}) or leave key out in platform.yaml')
    if ref.key not in data:
        return None
    value = data[ref.key]
    return SecretValue(value if isinstance(value, str) else json.dumps(value))


def _fetch(config: dict, name: str) -> SecretValue | None:
    key = (config.get("region"), config.get("endpoint"), name)
    ttl = config.get("cache_seconds", 300)
    now = time.monotonic()
    with _lock:
        cached = _values.get(key)
        if cached is not None and now - cached[1] < ttl:
            return cached[0]
        value = _get_secret_value(_client(config, name), config, name)
        if ttl > 0:
            _values[key] = (value, now)
        return value


def _client(config: dict, name: str) -> Any:
    from botocore.exceptions import NoRegionError

    key = (config.get("region"), config.get("endpoint"))
    if key not in _clients:
        try:
            _clients[key] = aws_client("secretsmanager", *key, needed_by="the aws secret backend calls "
                                       "AWS Secrets Manager (pip install floe-plugin-secrets-aws)")
        except NoRegionError:
            # boto3 refuses to build a Secrets Manager client without a region.
            raise FloeError(f"{_where(config, name)}: no AWS region; set region in the aws entry of "
                            "secrets.backends or AWS_REGION in the environment") from None
    return _clients[key]


def _get_secret_value(client: Any, config: dict, name: str) -> SecretValue | None:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    where = _where(config, name)
    try:
        response = client.get_secret_value(SecretId=name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ResourceNotFoundException":
            return None
        hint = {"AccessDeniedException": "grant the role floe runs as secretsmanager:GetSecretValue "
                                         "on it (and kms:Decrypt on its key)",
                "DecryptionFailure": "grant kms:Decrypt on the secret's KMS key",
                "InvalidRequestException": "the secret may be scheduled for deletion; restore it"}
        raise FloeError(f"{where}: {code or 'error'} ({error.get('Message', '')}); "
                        f"{hint.get(code, 'check the secret and the permissions of the role floe runs as')}"
                        ) from None
    except NoRegionError:
        raise FloeError(f"{where}: no AWS region; set region in the aws entry of secrets.backends "
                        "or AWS_REGION in the environment") from None
    except NoCredentialsError:
        raise FloeError(f"{where}: no AWS credentials to call Secrets Manager with; give the process "
                        "a role (instance profile, IRSA) or AWS_PROFILE / AWS_ACCESS_KEY_ID") from None
    except BotoCoreError as exc:
        endpoint = config.get("endpoint") or "AWS"
        raise FloeError(f"{where}: cannot reach Secrets Manager at {endpoint} ({type(exc).__name__}); "
                        "check endpoint and region in secrets.backends and the network") from None
    if "SecretString" in response:
        return SecretValue(response["SecretString"])
    try:
        return SecretValue(response["SecretBinary"].decode("utf-8"))
    except (KeyError, UnicodeDecodeError, AttributeError):
        raise FloeError(f"{where} holds binary data that is not UTF-8 text; floe reads text "
                        "secrets only: store it base64-encoded as a string") from None
