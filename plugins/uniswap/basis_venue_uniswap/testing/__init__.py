"""Test support for the Uniswap plugin: deploy the real Uniswap v2 / v3 contracts (npm artifacts) on anvil."""
