"""Demo organisations and one user for every role, created through the services (so events flow)."""

import os
from collections.abc import Iterator

from django.contrib.auth.hashers import make_password
from django.db import transaction

from hub.accounts.models import Organisation, Role, User
from hub.accounts.services import membership_grant, organisation_create, organisation_update_profile, user_register

ORGANISATIONS = [
    ("星火智能科技（合肥）有限公司", "Spark Intelligence (Hefei)", Organisation.Kind.STARTUP, "合肥市"),
    ("皖江人工智能孵化器", "Wanjiang AI Incubator", Organisation.Kind.INCUBATOR, "芜湖市"),
    ("合肥未来智能研究院", "Hefei Institute of Future Intelligence", Organisation.Kind.UNIVERSITY, "合肥市"),
    ("宣城智造装备有限公司", "Xuancheng Smart Manufacturing", Organisation.Kind.ENTERPRISE, "宣城市"),
    ("宣城市科学技术局", "Xuancheng Science and Technology Bureau", Organisation.Kind.GOVERNMENT, "宣城市"),
    ("安徽通用人工智能产业基金", "Anhui General AI Industry Fund", Organisation.Kind.FUND, "合肥市"),
]

# The demo startup's profile, what matching reads (organisation index 0).
STARTUP_PROFILE = {
    "description": (
        "星火智能科技专注于医学影像与工业视觉的人工智能应用：基于自研医学影像大模型，为基层医院提供肺结节、"
        "眼底病变的辅助诊断；面向制造企业提供产线缺陷检测和设备预测性维护，模型可边缘部署在国产算力上。"
    ),
    "description_en": (
        "Spark Intelligence builds AI for medical imaging and industrial vision: its own medical-imaging foundation "
        "model helps county hospitals read lung nodules and retinal disease, and manufacturers find defects on the "
        "line and predict equipment failures, with models deployed at the edge on domestic accelerators."
    ),
    "capabilities": ["医学影像", "大模型", "工业视觉", "边缘部署", "缺陷检测", "预测性维护"],
    "sectors": ["healthcare", "industrial-internet", "manufacturing-optimisation"],
}

# username, display name, role, organisation index
USERS = [
    ("editor", "王编辑", Role.EDITOR, 4),
    ("host", "陈主办", Role.COMPETITION_HOST, 2),
    ("entrant", "李参赛", Role.ENTRANT, 0),
    ("startup", "张创业", Role.STARTUP_MEMBER, 0),
    ("manager", "赵基金", Role.FUND_MANAGER, 5),
    ("reviewer", "刘评审", Role.REVIEWER, 5),
]


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD", "wanzhi-demo")


def load() -> Iterator[str]:
    password = demo_password()
    # One hash for every demo user: each PBKDF2 hash takes ~0.2 s, which make run's start would pay per user.
    password_hash = make_password(password)
    with transaction.atomic():
        organisations = []
        for name, name_en, kind, region in ORGANISATIONS:
            existing = Organisation.objects.filter(name=name).first()
            organisations.append(existing or organisation_create(name=name, name_en=name_en, kind=kind, region=region))
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = user_register(username="admin", email="admin@wanzhi.local", password=None, display_name="管理员")
            admin.is_staff = admin.is_superuser = True
            admin.password = password_hash
            admin.save(update_fields=["is_staff", "is_superuser", "password"])
            membership_grant(user=admin, organisation=organisations[4], role=Role.ADMIN)
        # Through the service (a new profile version, published): a second load changes nothing.
        organisation_update_profile(organisation=organisations[0], by=admin, fields=STARTUP_PROFILE)
        yield f"  admin      {'admin':<10} / {password}   (Django admin, Wagtail admin)"
        for username, display_name, role, org_index in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_register(
                    username=username, email=f"{username}@wanzhi.local", password=None, display_name=display_name
                )
                user.password = password_hash
                user.is_staff = role == Role.EDITOR  # editors work in the Wagtail admin
                user.save(update_fields=["password", "is_staff"])
                membership_grant(user=user, organisation=organisations[org_index], role=role)
            yield f"  {role.label:<10} {username:<10} / {password}   {organisations[org_index].name}"
