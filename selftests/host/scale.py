"""How much traffic the tests drive: all of it on the host, a share of it in
the emulated VM, where each request costs far more (selftests/vmtest.sh sets
KERNO_TEST_SCALE). Only the request counts scale: every assertion is still
exact against the counts actually driven."""

import os


def _factor():
    raw = os.environ.get("KERNO_TEST_SCALE", "1")
    try:
        factor = float(raw)
    except ValueError:
        factor = 0.0
    if not 0.0 < factor <= 1.0:
        raise SystemExit(f"KERNO_TEST_SCALE={raw!r}: expected a number in (0, 1]")
    return factor


FACTOR = _factor()


def requests(n, minimum=100):
    """n scaled by KERNO_TEST_SCALE, but never below `minimum` (nor above n)."""
    return min(n, max(minimum, round(n * FACTOR)))
