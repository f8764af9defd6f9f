"""Platform releases: a platform built into a deterministic release, published to an OCI
registry as an immutable artifact, pulled into a verified local cache and pinned by a lock file.

Modules: :mod:`~floe.releases.reference` (``oci://`` references), :mod:`~floe.releases.build`
(the release directory), :mod:`~floe.releases.registry` (a small OCI distribution client),
:mod:`~floe.releases.cache` (content-addressed cache), :mod:`~floe.releases.lock` (``floe.lock``),
:mod:`~floe.releases.publish` and :mod:`~floe.releases.pull`. Nothing here is imported by
``floe validate``; the HTTP client is imported only when a registry must be asked.
"""
