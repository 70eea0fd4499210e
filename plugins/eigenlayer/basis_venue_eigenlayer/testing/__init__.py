"""Test support: compile and deploy our own StrategyManager / DelegationManager / StrategyBase (EigenLayer's ABI)."""
