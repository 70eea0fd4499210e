"""Test support: deploy a real Aave v3 (v3.0.2) market on a local node from ``@aave/core-v3`` artifacts."""
