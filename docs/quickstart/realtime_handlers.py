"""chat/realtime_handlers.py: imported when Django starts, like admin.py."""

from realtime import on, on_connect, to_room


@on_connect
async def identify(socket):
    # ?id=... in the WebSocket URL names the user (fine for a demo: use real
    # authentication in production, see the security guide).
    user_id = socket.params.get("id")
    if not user_id:
        await socket.close(4011, "Auth failure")  # the client will not reconnect
        return
    await socket.bind(user_id)


@on("join")
async def join(socket, data, ack):
    await socket.join("chat", data["room"])
    return {"joined": data["room"]}  # the reply to the client's callback


@on("say")
async def say(socket, data, ack):
    # Every member of the room gets the push, on whatever server process it is connected to.
    await to_room("chat", data["room"], "said", {"from": socket.user_id, "text": data["text"]})
    return {"delivered": True}
