"""Test support: Morpho Blue on a local anvil node (:mod:`basis_venue_morpho.testing.deploy`)."""
