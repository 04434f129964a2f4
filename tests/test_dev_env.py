"""The locked dev/test environment works where a new user first touches it (issue 9, fault 6).

Onboarding's Radio Browser uses aiodns; with aiodns 3.2.0 (HA's pin) and pycares 5 the
resolver cannot even be called, so the onboarding card turned red. The lock pins a pycares
whose API aiodns 3.2.0 was written for.
"""

from __future__ import annotations

import socket

import aiodns


async def test_aiodns_resolves_localhost() -> None:
    """``aiodns`` works with the locked ``pycares`` (``localhost`` comes from the hosts file)."""
    resolver = aiodns.DNSResolver()
    result = await resolver.gethostbyname("localhost", socket.AF_INET)
    assert "127.0.0.1" in result.addresses
