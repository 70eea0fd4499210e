"""OKX for basis-core, written only against the core's public building blocks (a test fixture that lives
outside plugins/: the proof that a third party needs no core change)."""
