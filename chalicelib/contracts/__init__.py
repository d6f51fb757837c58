"""E-contracts: sandboxed templates, deterministic PDF rendering, hashing and signing evidence.

Pure modules (`sandbox`, `document`, `context`, `signing`) do no I/O; `storage` is the S3 adapter.
"""
