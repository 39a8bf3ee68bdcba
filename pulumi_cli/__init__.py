"""The real Pulumi CLI as keep-cd drives it: the engine (built or on PATH), the local stack."""
