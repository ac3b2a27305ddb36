"""The websocket a signed-in page opens to receive its user's notifications live."""

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from hub.notifications.services import user_group


class NotificationStream(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notification_created(self, message: dict[str, Any]) -> None:
        await self.send_json({key: value for key, value in message.items() if key != "type"} | {"event": "created"})
