"""The Qt + asyncio loop can run for hours: no turn of it may leak or drop references.

PySide6 6.12.0 drops one reference to None on every call into Qt; on Python 3.11 (None is not
yet immortal) the window aborts with "deallocating None" after some thousand loop turns. The
package pins a good version; this keeps it honest.
"""

from __future__ import annotations

import asyncio
import sys

import pytest


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
async def test_loop_turns_keep_none_alive():
    turns = 3000
    await asyncio.sleep(0)
    before = sys.getrefcount(None)
    for _ in range(turns):
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0.001)  # timers too, not only ready callbacks
    lost = before - sys.getrefcount(None)
    assert lost < turns // 10, f"{lost} references to None lost in {turns} loop turns"
