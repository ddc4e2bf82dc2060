"""asyncio variants of the calls that do I/O or long work.

Each one runs its synchronous twin in a worker thread (``asyncio.to_thread``); the native call
releases the GIL while it works, so the event loop and other calls go on meanwhile, and two
of these calls run at the same time. Arguments, results and exceptions are those of the
synchronous function.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ._native import analyze, apply, consolidate, load_cluster, propose

__all__ = [
    "analyze_async",
    "apply_async",
    "consolidate_async",
    "load_cluster_async",
    "propose_async",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _in_thread(function: Callable[_P, _R]) -> Callable[_P, Coroutine[Any, Any, _R]]:
    @functools.wraps(function)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return await asyncio.to_thread(function, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"{function.__name__}_async"
    run.__doc__ = (
        f"``await``-able ``{function.__name__}()``: the same arguments, result and exceptions; "
        "it runs in a worker thread with the GIL released.\n\n" + (function.__doc__ or "")
    )
    return run


load_cluster_async = _in_thread(load_cluster)
analyze_async = _in_thread(analyze)
consolidate_async = _in_thread(consolidate)
propose_async = _in_thread(propose)
apply_async = _in_thread(apply)
