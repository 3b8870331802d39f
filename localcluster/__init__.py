"""A Kubernetes-API-compatible single-process cluster for local runs and tests."""
