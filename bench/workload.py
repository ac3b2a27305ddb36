"""The event workload the benchmarks share: OrganisationCreated events of realistic, varied size (~0.5–1 KB)."""

from __future__ import annotations

import random
from typing import Any

# Pieces of realistic organisation names and regions; each event draws its own, so bodies vary in size.
NAME_PARTS = (
    "安徽省 合肥市 高新技术产业开发区 人工智能 通用大模型 产业创新中心 智能语音 具身智能机器人 "
    "算力调度 科技成果转化 示范应用 联合实验室 有限责任公司 研究院 长三角 数据要素 智能制造 "
    "工业互联网 开源社区 孵化基地"
).split()
REGION_PARTS = (
    "安徽省合肥市蜀山区 望江西路 中国声谷 创新大道 芜湖市鸠江区 蚌埠市 滁州市 科学岛 运河新城 国家级 "
    "经济技术开发区 大数据产业园 A座 18层 东侧"
).split()


def organisation_created(org_id: int) -> Any:
    """The same id gives the same event in every run. Needs Django set up (the event type is registered)."""
    from hub.accounts.events import OrganisationCreated

    rng = random.Random(org_id)
    name = "".join(rng.choices(NAME_PARTS, k=rng.randint(12, 30))) + f"第{org_id}号"
    region = "".join(rng.choices(REGION_PARTS, k=rng.randint(6, 16)))
    kind = rng.choice(["startup", "incubator", "university", "enterprise", "fund"])
    return OrganisationCreated(organisation_id=org_id, name=name, kind=kind, region=region)
