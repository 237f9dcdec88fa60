"""``fiido.asgi`` behind an ASGI middleware that wraps ``send``, as a deployer's
middleware would: streams cannot reach daphne's socket through it, so the
tests see the fallback path (tests/e2e/test_fast_path.py)."""

from fiido.asgi import application as fiido_application


async def application(scope, receive, send):
    async def wrapped_send(message):
        await send(message)

    return await fiido_application(scope, receive, wrapped_send)
