"""A fake bank speaking docs/bank-protocol.md over HTTPS on 127.0.0.1 (`python -m fakebank`)."""
