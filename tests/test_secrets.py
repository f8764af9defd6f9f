"""Secrets at run time: masked values, backends in order, errors that say where floe looked,
dbt's env_var() indirection, and ``floe secrets check``.

The env and k8s backends are the real installed plugins (k8s with its root in a temp dir); the
aws backend is exercised against moto on 127.0.0.1 in ``plugins/secrets_aws/tests`` and once
here, end to end, through ``floe secrets check``.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from floe.artifacts import PluginProvenance, ResolvedSection
from floe.compiler import compile_product
from floe.diagnostics import FloeError
from floe.plugins import hookimpl
from floe.runtime import RunContext
from floe.runtime.dbt_env import dbt_secret_var
from floe.runtime.secrets import MASK, SecretNotFound, SecretValue
from floe.schema.types import SecretRef

CANARY = "flc-3f9a1c07d2b84e6e9b1d5a2c"

# -- SecretValue --------------------------------------------------------------------------------


@given(st.text())
def test_every_printable_form_of_a_secret_is_the_mask_whatever_the_value(value):
    secret = SecretValue(value)
    assert str(secret) == MASK
    assert repr(secret) == f"SecretValue({MASK})"
    assert f"{secret}" == f"{secret:>40}" == format(secret, "") == MASK
    assert f"{secret!r}" == "%r" % (secret,) == f"SecretValue({MASK})"
    assert "%s" % (secret,) == MASK
    assert secret.reveal() == value


def test_logging_a_secret_writes_the_mask_in_every_style():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(args)s"))
    log = logging.getLogger("floe.test.secrets")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    secret = SecretValue(CANARY)
    try:
        log.debug("token %s", secret)
        log.info("token %r", secret)
        log.warning(f"token {secret}")
        log.error("config %s", {"client_secret": secret})
        try:
            raise RuntimeError(f"login failed with {secret}")
        except RuntimeError:
            log.exception("while logging in")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert CANARY not in output
    assert output.count(MASK) >= 6


def test_json_refuses_a_secret_instead_of_writing_it():
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps({"client_secret": SecretValue(CANARY)})


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_refuses_a_secret(protocol):
    with pytest.raises(TypeError, match="a SecretValue cannot be pickled; resolve the secret in the "
                                        r"process that needs it \(RunContext.secret\)"):
        pickle.dumps({"nested": [SecretValue(CANARY)]}, protocol=protocol)


def test_copies_are_the_same_masked_object():
    secret = SecretValue(CANARY)
    assert copy.copy(secret) is secret
    config = copy.deepcopy({"auth": {"token": secret}})
    assert config["auth"]["token"] is secret


def test_a_secret_is_immutable_and_has_no_attribute_dict():
    secret = SecretValue(CANARY)
    with pytest.raises(AttributeError, match="immutable"):
        secret._value = "other"
    with pytest.raises(TypeError):
        vars(secret)
    assert secret == SecretValue(CANARY) and secret != SecretValue("other") and secret != CANARY


def test_only_text_can_be_held():
    with pytest.raises(TypeError, match="a SecretValue holds a string"):
        SecretValue(b"bytes")


# -- a compiled product to resolve against --------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """Artifacts of the scaffolded product (compiled once); tests swap their secret backends."""
    from conftest import EXAMPLE, prime_dbt_cache

    product = tmp_path_factory.mktemp("secrets") / "demo"
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe"))
    prime_dbt_cache(EXAMPLE, product)
    return compile_product(product / "floe.yaml", write=False).artifacts


def backend(type_name: str, **config) -> ResolvedSection:
    return ResolvedSection(str(type_name), type_name, PluginProvenance("test", "0"), config)


def context_with(artifacts, tmp_path, *backends, registry=None) -> RunContext:
    return RunContext(attrs.evolve(artifacts, secret_backends=list(backends)), tmp_path, registry)


@pytest.fixture
def clean_env(monkeypatch):
    """No POLARIS* or PROXY* variables from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(("POLARIS", "PROXY", "FLOE_POLARIS", "DBT_ENV_SECRET_FLOE_")):
            monkeypatch.delenv(name)
    return monkeypatch


# -- the env backend ----------------------------------------------------------------------------


def test_env_reads_the_name_in_upper_snake_case(artifacts, tmp_path, clean_env):
    clean_env.setenv("POLARIS_OAUTH", CANARY)
    clean_env.setenv("POLARIS_CLIENT_SECRET", "for-the-key")
    context = context_with(artifacts, tmp_path, backend("env", prefix=""))
    assert context.secret({"secret_ref": "polaris-oauth"}).reveal() == CANARY
    assert context.secret(SecretRef("polaris", "client-secret")).reveal() == "for-the-key"
    assert context.secret_source(SecretRef("polaris-oauth")) == "env"


def test_env_prefix_is_prepended(artifacts, tmp_path, clean_env):
    clean_env.setenv("FLOE_POLARIS_OAUTH", CANARY)
    clean_env.setenv("POLARIS_OAUTH", "unprefixed, not read")
    context = context_with(artifacts, tmp_path, backend("env", prefix="FLOE_"))
    assert context.secret(SecretRef("polaris-oauth")).reveal() == CANARY


def test_env_reads_the_file_that_name_FILE_points_at(artifacts, tmp_path, clean_env):
    (tmp_path / "oauth").write_text(CANARY + "\n")
    clean_env.setenv("POLARIS_OAUTH_FILE", str(tmp_path / "oauth"))
    context = context_with(artifacts, tmp_path, backend("env", prefix=""))
    assert context.secret(SecretRef("polaris-oauth")).reveal() == CANARY


def test_env_variable_wins_over_the_file(artifacts, tmp_path, clean_env):
    (tmp_path / "oauth").write_text("from the file")
    clean_env.setenv("POLARIS_OAUTH_FILE", str(tmp_path / "oauth"))
    clean_env.setenv("POLARIS_OAUTH", CANARY)
    context = context_with(artifacts, tmp_path, backend("env", prefix=""))
    assert context.secret(SecretRef("polaris-oauth")).reveal() == CANARY


def test_a_FILE_variable_naming_an_unreadable_file_is_an_error_not_a_miss(artifacts, tmp_path,
                                                                          clean_env):
    clean_env.setenv("POLARIS_OAUTH_FILE", str(tmp_path / "missing"))
    context = context_with(artifacts, tmp_path, backend("env", prefix=""))
    with pytest.raises(FloeError) as caught:
        context.secret(SecretRef("polaris-oauth"))
    assert str(caught.value) == (f"secret 'polaris-oauth': $POLARIS_OAUTH_FILE names {tmp_path}/missing, "
                                 "which cannot be read (No such file or directory); fix the path or "
                                 "unset POLARIS_OAUTH_FILE")


# -- backends in order ----------------------------------------------------------------------------


def test_backends_are_asked_in_order_and_the_first_holder_wins(artifacts, tmp_path, clean_env):
    (tmp_path / "k8s" / "polaris").mkdir(parents=True)
    (tmp_path / "k8s" / "polaris" / "client-secret").write_text("from k8s")
    (tmp_path / "k8s" / "proxy-password").write_text("only in k8s")
    clean_env.setenv("POLARIS_CLIENT_SECRET", "from env")
    env_first = context_with(artifacts, tmp_path, backend("env", prefix=""),
                             backend("k8s", root=str(tmp_path / "k8s")))
    assert env_first.secret(SecretRef("polaris", "client-secret")).reveal() == "from env"
    assert env_first.secret(SecretRef("proxy-password")).reveal() == "only in k8s"
    assert env_first.secret_source(SecretRef("proxy-password")) == "k8s"
    k8s_first = context_with(artifacts, tmp_path, backend("k8s", root=str(tmp_path / "k8s")),
                             backend("env", prefix=""))
    assert k8s_first.secret(SecretRef("polaris", "client-secret")).reveal() == "from k8s"


def test_a_missing_secret_names_every_place_tried_and_how_to_provide_it(artifacts, tmp_path, clean_env):
    context = context_with(artifacts, tmp_path, backend("env", prefix=""),
                           backend("k8s", root="/var/run/secrets"))
    with pytest.raises(SecretNotFound) as caught:
        context.secret(SecretRef("polaris", "client-secret"))
    assert str(caught.value) == (
        "secret 'polaris' (key 'client-secret') was not found; tried env: $POLARIS_CLIENT_SECRET, "
        "$POLARIS_CLIENT_SECRET_FILE; k8s: /var/run/secrets/polaris/client-secret. Provide it in "
        "one of those places (secrets.backends in platform.yaml sets where floe looks, in that order)")


def test_a_backend_without_a_describe_hook_is_named_by_its_type(artifacts, tmp_path, floe_registry,
                                                                 floe_register):
    class Vault:
        @staticmethod
        @hookimpl
        def floe_secrets_resolve(settings, context):
            return {}

        @staticmethod
        @hookimpl
        def floe_secrets_lookup(config, ref):
            return None

    floe_register("secrets", "vault", Vault)
    context = context_with(artifacts, tmp_path, backend("vault"), registry=floe_registry)
    with pytest.raises(SecretNotFound, match=r"^secret 'db' was not found; tried vault: vault backend\. "):
        context.secret(SecretRef("db"))


def test_no_backends_at_all_says_to_list_some(artifacts, tmp_path):
    with pytest.raises(SecretNotFound) as caught:
        context_with(artifacts, tmp_path).secret(SecretRef("db"))
    assert str(caught.value) == ("secret 'db' cannot be resolved: platform.yaml lists no secret "
                                 "backends; add some, e.g. secrets: {backends: [env, k8s]}")


def test_each_secret_is_looked_up_once_per_run_and_a_bare_string_is_masked(artifacts, tmp_path,
                                                                           floe_registry, floe_register):
    calls = []

    class Plain:
        @staticmethod
        @hookimpl
        def floe_secrets_resolve(settings, context):
            return {}

        @staticmethod
        @hookimpl
        def floe_secrets_lookup(config, ref):
            calls.append(ref)
            return CANARY  # a careless plugin: floe still hands out a masked value

    floe_register("secrets", "plain", Plain)
    context = context_with(artifacts, tmp_path, backend("plain"), registry=floe_registry)
    first = context.secret(SecretRef("db"))
    assert isinstance(first, SecretValue) and repr(first) == f"SecretValue({MASK})"
    assert context.secret({"secret_ref": "db"}) is first
    assert calls == [SecretRef("db")]


def test_the_wrong_argument_is_refused_without_echoing_it(artifacts, tmp_path):
    with pytest.raises(TypeError) as caught:
        context_with(artifacts, tmp_path).secret(CANARY)
    assert CANARY not in str(caught.value)


def test_dot_keys_that_would_leave_the_secret_are_refused():
    from floe.schema.structure import Invalid
    from floe.schema.types import parse_secret_ref

    for key in (".", ".."):
        with pytest.raises(Invalid, match="key must be a plain name"):
            parse_secret_ref({"secret_ref": "polaris", "key": key})


# -- dbt gets secrets through env_var() ----------------------------------------------------------------


@pytest.fixture
def proxy_artifacts(artifacts):
    """The product with a compute profile whose DuckDB settings reference two secrets."""
    compute = artifacts.profiles.compute
    profile = {**compute.config["dbt_profile"], "settings": {
        **compute.config["dbt_profile"].get("settings", {}),
        "http_proxy_username": {"secret_ref": "proxy", "key": "username"},
        "http_proxy_password": {"secret_ref": "proxy-password"}}}
    compute = attrs.evolve(compute, config={**compute.config, "dbt_profile": profile})
    profiles = {name: {**p, "outputs": {t: profile for t in p["outputs"]}}
                for name, p in artifacts.dbt.profiles.items()}
    return attrs.evolve(artifacts, profiles=attrs.evolve(artifacts.profiles, compute=compute),
                        dbt=attrs.evolve(artifacts.dbt, profiles=profiles))


def test_the_dbt_target_holds_env_var_references_not_values(proxy_artifacts, tmp_path, clean_env):
    clean_env.setenv("PROXY_USERNAME", "user-" + CANARY)
    clean_env.setenv("PROXY_PASSWORD", CANARY)
    context = context_with(proxy_artifacts, tmp_path, backend("env", prefix=""))
    settings = context.dbt_output()["settings"]
    assert settings["http_proxy_username"] == "{{ env_var('DBT_ENV_SECRET_FLOE_PROXY__USERNAME') }}"
    assert settings["http_proxy_password"] == "{{ env_var('DBT_ENV_SECRET_FLOE_PROXY_PASSWORD') }}"
    assert CANARY not in json.dumps(context.dbt_output())


def test_dbt_env_sets_the_values_only_for_the_block(proxy_artifacts, tmp_path, clean_env):
    clean_env.setenv("PROXY_USERNAME", "user-" + CANARY)
    clean_env.setenv("PROXY_PASSWORD", CANARY)
    clean_env.setenv("DBT_ENV_SECRET_FLOE_PROXY_PASSWORD", "set before the run")
    context = context_with(proxy_artifacts, tmp_path, backend("env", prefix=""))
    with context.dbt_env():
        assert os.environ["DBT_ENV_SECRET_FLOE_PROXY__USERNAME"] == "user-" + CANARY
        assert os.environ["DBT_ENV_SECRET_FLOE_PROXY_PASSWORD"] == CANARY
        with context.dbt_env():  # an orchestrator may open it again per dbt call
            assert os.environ["DBT_ENV_SECRET_FLOE_PROXY_PASSWORD"] == CANARY
        assert os.environ["DBT_ENV_SECRET_FLOE_PROXY_PASSWORD"] == CANARY
    assert "DBT_ENV_SECRET_FLOE_PROXY__USERNAME" not in os.environ
    assert os.environ["DBT_ENV_SECRET_FLOE_PROXY_PASSWORD"] == "set before the run"


def test_a_secret_obtained_at_run_time_reaches_dbt_fresh_for_each_invocation(clean_env):
    from floe.runtime.dbt_env import DbtSecrets, ObtainedSecret
    from floe.runtime.secrets import SecretValue

    tokens = iter([CANARY + "-1", CANARY + "-2"])
    secrets = DbtSecrets(lambda ref: pytest.fail("no backend is asked for an obtained secret"))
    target = secrets.reference({"jwt_token": ObtainedSecret("trino-oauth2-token",
                                                            lambda: SecretValue(next(tokens)))})
    assert target == {"jwt_token": "{{ env_var('DBT_ENV_SECRET_FLOE_OBTAINED_TRINO_OAUTH2_TOKEN') }}"}
    name = "DBT_ENV_SECRET_FLOE_OBTAINED_TRINO_OAUTH2_TOKEN"
    assert name not in os.environ
    with secrets.environment():
        assert os.environ[name] == CANARY + "-1"
        with secrets.environment():  # re-entered inside one invocation: the same value
            assert os.environ[name] == CANARY + "-1"
    assert name not in os.environ
    with secrets.environment():  # the next invocation obtains it again
        assert os.environ[name] == CANARY + "-2"
    assert name not in os.environ


def test_a_missing_dbt_secret_stops_before_the_block_and_sets_nothing(proxy_artifacts, tmp_path,
                                                                      clean_env):
    clean_env.setenv("PROXY_USERNAME", CANARY)
    context = context_with(proxy_artifacts, tmp_path, backend("env", prefix=""))
    entered = False
    with pytest.raises(SecretNotFound, match="^secret 'proxy-password' was not found; tried env: "
                                             r"\$PROXY_PASSWORD, \$PROXY_PASSWORD_FILE\. "):
        with context.dbt_env():
            entered = True
    assert not entered
    assert not [name for name in os.environ if name.startswith("DBT_ENV_SECRET_FLOE_")]


def test_two_refs_that_would_share_a_variable_are_refused(proxy_artifacts, tmp_path):
    compute = proxy_artifacts.profiles.compute
    profile = compute.config["dbt_profile"]
    profile = {**profile, "settings": {**profile["settings"],
                                       "http_proxy": {"secret_ref": "proxy.password"}}}
    compute = attrs.evolve(compute, config={**compute.config, "dbt_profile": profile})
    clashing = attrs.evolve(proxy_artifacts, profiles=attrs.evolve(proxy_artifacts.profiles, compute=compute))
    with pytest.raises(FloeError) as caught:
        context_with(clashing, tmp_path, backend("env", prefix="")).dbt_output()
    assert str(caught.value) == ("secrets 'proxy-password' and 'proxy.password' would both reach dbt "
                                 "as $DBT_ENV_SECRET_FLOE_PROXY_PASSWORD; rename one of them in "
                                 "platform.yaml")


def test_env_names_keep_the_key_apart_from_the_name():
    assert dbt_secret_var(SecretRef("s3", "secret-key")) == "DBT_ENV_SECRET_FLOE_S3__SECRET_KEY"
    assert dbt_secret_var(SecretRef("s3-secret-key")) == "DBT_ENV_SECRET_FLOE_S3_SECRET_KEY"


# -- floe secrets check ----------------------------------------------------------------------------

PLATFORM_SECRETS = """\
    settings:
      http_proxy_username: {secret_ref: proxy, key: username}
      http_proxy_password: {secret_ref: proxy-password}
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The scaffolded product with two secret references in its compute profile."""
    from conftest import EXAMPLE

    path = tmp_path_factory.mktemp("secrets-template") / "demo"
    shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns(".floe"))
    platform = path / "platform" / "local" / "platform.yaml"
    platform.write_text(platform.read_text().replace("    memory_limit: 2GB\n",
                                                     "    memory_limit: 2GB\n" + PLATFORM_SECRETS))
    return path


def with_k8s_root(platform: Path, root: Path) -> None:
    platform.write_text(platform.read_text().replace(
        "backends: [env]", f"backends: [env, {{type: k8s, root: {root}}}]"))


@pytest.fixture
def product(template, tmp_path, clean_env) -> Path:
    """A copy of the template (dbt manifest cached once per session), secrets mounted under
    ``tmp_path/mounted`` (the k8s backend's root) after env."""
    from conftest import prime_dbt_cache

    path = tmp_path / "demo"
    shutil.copytree(template, path)
    prime_dbt_cache(template, path)
    with_k8s_root(path / "platform" / "local" / "platform.yaml", tmp_path / "mounted")
    (tmp_path / "mounted" / "proxy").mkdir(parents=True)
    return path


def test_secrets_check_lists_each_ref_with_its_backend_and_fails_on_a_missing_one(product, run_cli,
                                                                                   tmp_path):
    (tmp_path / "mounted" / "proxy" / "username").write_text(CANARY)
    result = run_cli(["secrets", "check"], cwd=product)
    assert result.exit_code == 1
    assert result.stdout == ("SECRET                BACKEND  STATUS\n"
                             "proxy (key username)  k8s      ok\n"
                             "proxy-password        -        missing\n")
    assert result.stderr == (
        "secret 'proxy-password' was not found; tried env: $PROXY_PASSWORD, $PROXY_PASSWORD_FILE; "
        f"k8s: {tmp_path}/mounted/proxy-password. Provide it in one of those places "
        "(secrets.backends in platform.yaml sets where floe looks, in that order)\n")


def test_secrets_check_passes_and_prints_json_when_all_resolve(product, run_cli, tmp_path, clean_env):
    (tmp_path / "mounted" / "proxy" / "username").write_text(CANARY)
    clean_env.setenv("PROXY_PASSWORD", CANARY)
    result = run_cli(["secrets", "check", "--format", "json"], cwd=product)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ok": True, "secrets": [
        {"secret_ref": "proxy", "key": "username", "status": "ok", "backend": "k8s", "message": None},
        {"secret_ref": "proxy-password", "key": None, "status": "ok", "backend": "env", "message": None}]}
    assert CANARY not in result.output


def test_secrets_check_uses_the_platform_compile_would_use(product, run_cli, tmp_path):
    staging = product / "platform" / "staging"
    staging.mkdir()
    (staging / "platform.yaml").write_text(
        (product / "platform" / "local" / "platform.yaml").read_text().replace("/mounted}", "/staging}"))
    (tmp_path / "staging" / "proxy").mkdir(parents=True)
    (tmp_path / "staging" / "proxy" / "username").write_text(CANARY)
    (tmp_path / "staging" / "proxy-password").write_text(CANARY)
    expected = ("SECRET                BACKEND  STATUS\n"
                "proxy (key username)  k8s      ok\n"
                "proxy-password        k8s      ok\n")
    by_env = run_cli(["secrets", "check", "--env", "staging"], cwd=product)
    assert (by_env.exit_code, by_env.stdout) == (0, expected)
    by_path = run_cli(["secrets", "check", "--platform", staging / "platform.yaml"], cwd=product)
    assert (by_path.exit_code, by_path.stdout) == (0, expected)
    local = run_cli(["secrets", "check", "--format", "json"], cwd=product)
    assert local.exit_code == 1
    assert [(s["secret_ref"], s["status"]) for s in json.loads(local.stdout)["secrets"]] == [
        ("proxy", "missing"), ("proxy-password", "missing")]


def test_secrets_check_of_a_product_without_secrets_has_nothing_to_check(demo, run_cli):
    result = run_cli(["secrets", "check"], cwd=demo)
    assert (result.exit_code, result.stdout) == (0, "no secret references: nothing to check\n")


def test_secrets_check_reports_a_misconfigured_backend_as_an_error(product, run_cli, tmp_path):
    (tmp_path / "mounted" / "proxy" / "username").write_text(CANARY)
    volume = tmp_path / "mounted" / "proxy-password"
    volume.mkdir()
    (volume / "value").write_text(CANARY)
    (volume / "..data").mkdir()  # the kubelet's own entries are not keys
    result = run_cli(["secrets", "check", "--format", "json"], cwd=product)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["secrets"][1] == {
        "secret_ref": "proxy-password", "key": None, "status": "error", "backend": None,
        "message": f"secret 'proxy-password': {volume} is a secret volume with the keys value; "
                   "name one in platform.yaml: {secret_ref: proxy-password, key: value}"}
    assert CANARY not in result.output


def test_secrets_check_resolves_through_aws_secrets_manager_too(product, run_cli, tmp_path,
                                                                floe_moto, clean_env):
    import boto3

    from floe_plugin_secrets_aws import runtime

    runtime.clear_cache()
    client = boto3.client("secretsmanager", endpoint_url=floe_moto)
    client.create_secret(Name="floe/dev/proxy-password", SecretString=CANARY)
    client.create_secret(Name="floe/dev/proxy", SecretString=json.dumps({"username": CANARY}))
    platform = product / "platform" / "local" / "platform.yaml"
    platform.write_text(platform.read_text().replace(
        "backends: [env, ", f"backends: [env, {{type: aws, region: us-east-1, endpoint: '{floe_moto}', "
                            "prefix: floe/dev/}, "))
    result = run_cli(["secrets", "check"], cwd=product)
    assert result.exit_code == 0, result.output
    assert result.stdout == ("SECRET                BACKEND  STATUS\n"
                             "proxy (key username)  aws      ok\n"
                             "proxy-password        aws      ok\n")
    runtime.clear_cache()
