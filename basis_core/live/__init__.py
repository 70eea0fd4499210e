"""Live-mode support: retry policy, idempotency journal, secrets, the shared web3 client (imported lazily)."""
