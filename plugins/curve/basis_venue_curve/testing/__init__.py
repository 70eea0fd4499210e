"""Test support: compile and deploy our own StableSwap pools (Curve's ABI) on a local node."""
