"""Production deployment: Helm charts for the platform's services and each product's code location.

- :mod:`floe.deploy.tools` finds ``helm`` and ``kubectl`` (a clear error with the install hint
  when one is missing).
- :mod:`floe.deploy.charts` locates the charts floe ships (``charts/floe-platform``,
  ``charts/floe-product``).
- :mod:`floe.deploy.values` computes chart values from platform.yaml and the compiled artifacts:
  secrets only by reference, never a value.
- :mod:`floe.deploy.helm` drives ``helm template`` / ``helm upgrade --install --wait``.
- :mod:`floe.deploy.package` writes a product's image build context (``floe package``).

Nothing here imports the run-time stack; only the helm driver starts processes.
"""
