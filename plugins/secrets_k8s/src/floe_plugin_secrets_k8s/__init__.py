"""floe secret backend ``k8s``: secrets that Kubernetes mounts as files.

``{secret_ref: polaris-oauth}`` is read from ``<root>/polaris-oauth`` (a file), and
``{secret_ref: polaris, key: client-secret}`` from ``<root>/polaris/client-secret``. Listed in
platform.yaml as ``secrets: {backends: [env, k8s]}`` (floe's default order). This distribution
registers it under floe's secrets entry-point group::

    [project.entry-points."floe.secrets"]
    k8s = "floe_plugin_secrets_k8s.plugin"

Values are read only at run time; this package holds the compile-time checks.
"""
