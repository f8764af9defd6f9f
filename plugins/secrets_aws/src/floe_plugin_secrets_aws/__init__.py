"""floe secret backend ``aws``: AWS Secrets Manager.

``{secret_ref: polaris-oauth}`` is the secret ``<prefix>polaris-oauth``; with ``key:`` it is one
field of a JSON secret. Listed in platform.yaml under ``secrets.backends``. This distribution
registers it under floe's secrets entry-point group::

    [project.entry-points."floe.secrets"]
    aws = "floe_plugin_secrets_aws.plugin"

Values are fetched only at run time (with boto3); this package holds the compile-time checks.
"""
