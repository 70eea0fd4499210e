"""Test support: compile and deploy our own stETH / wstETH / WithdrawalQueue (Lido's ABI) on a local node."""
