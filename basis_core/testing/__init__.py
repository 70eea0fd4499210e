"""Test support for basis-core and venue plugins: local chains, emulator bases, conformance kit."""
