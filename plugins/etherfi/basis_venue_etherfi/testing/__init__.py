"""Test support: compile and deploy our own EtherFi liquidity pool / eETH / weETH / withdraw-request NFT."""
