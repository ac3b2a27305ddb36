"""Demo scenario calls from the demo government body and enterprise, and one proposal from the demo
startup, made through the services (so their events flow). Runs after hub.accounts's demo (the
apps' order in INSTALLED_APPS), whose organisations and users it uses; safe to run again."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from hub.accounts.demo import demo_password
from hub.accounts.models import Organisation, Role, User
from hub.accounts.services import membership_grant, user_register
from hub.scenarios.models import Proposal, Scenario
from hub.scenarios.services import (
    proposal_save_draft,
    proposal_submit,
    scenario_create,
    scenario_publish,
    scenario_set_status,
)

GOVERNMENT = "宣城市科学技术局"
ENTERPRISE = "宣城智造装备有限公司"
STARTUP = "星火智能科技（合肥）有限公司"
PUBLISHER = ("publisher", "孙发布")


@dataclass(frozen=True)
class DemoScenario:
    organisation: str
    title: str
    title_en: str
    sector: str
    city: str
    description: str
    description_en: str
    data_available: str
    budget: tuple[int | None, int | None]
    days_open: int
    contact: tuple[str, str, str]
    status: str = Scenario.Status.OPEN


SCENARIOS = [
    DemoScenario(
        GOVERNMENT,
        "智慧医疗影像辅助诊断",
        "AI-assisted reading of medical images",
        "healthcare",
        "宣城市",
        "市内县级医院影像科医生不足，胸部CT和眼底照片的阅片排队时间长。希望引入人工智能辅助诊断，"
        "对肺结节、糖尿病视网膜病变进行初筛和分级，给出可解释的病灶标注，医生复核后出具报告。"
        "方案须支持院内私有化部署，满足医疗数据不出院的要求。",
        "County hospitals in the city lack radiologists, and chest CT and fundus photographs wait long to "
        "be read. We want AI to pre-screen and grade lung nodules and diabetic retinopathy with explainable "
        "lesion marks for doctors to confirm. The solution must run on premises: patient data stays in the hospital.",
        "脱敏胸部CT约2万例（含结节标注3千例），眼底照片约1.5万张；在医院内网环境提供，不可带出。",
        (800_000, 1_500_000),
        60,
        ("周主任", "kjj-yiliao@xuancheng.gov.cn", "0563-3021234"),
    ),
    DemoScenario(
        ENTERPRISE,
        "工业互联网设备预测性维护",
        "Predictive maintenance for networked factory equipment",
        "industrial-internet",
        "宣城市",
        "公司两条数控加工产线共86台设备已接入工业互联网平台，主轴、伺服电机和液压站的非计划停机每年造成"
        "约300小时损失。希望基于振动、电流和温度数据预测故障，提前一周给出维护建议，并与现有MES工单打通。",
        "86 machines on two CNC lines already report to our industrial-internet platform; unplanned stops of "
        "spindles, servo motors and hydraulics cost about 300 hours a year. We want failures predicted a week "
        "ahead from vibration, current and temperature data, with maintenance orders raised in our MES.",
        "近两年秒级振动、电流、温度时序数据（约4TB），设备维修记录1200条；可签保密协议后远程访问。",
        (500_000, 1_200_000),
        45,
        ("钱工", "it@xc-smart.example.cn", "0563-2610088"),
    ),
    DemoScenario(
        GOVERNMENT,
        "政务服务智能问答",
        "Question answering for government services",
        "government-services",
        "宣城市",
        "政务服务中心热线日均咨询1500余次，社保、公积金、不动产登记类问题占六成。希望建设基于大模型的智能问答，"
        "依据现行政策文件作答并给出出处，无法确定时转人工，全程留痕可审计。",
        "",
        "现行办事指南和政策文件约3千份，近一年脱敏热线问答记录20万条。",
        (300_000, 600_000),
        30,
        ("吴科长", "zwfw@xuancheng.gov.cn", "0563-3025678"),
        Scenario.Status.MATCHING,
    ),
    DemoScenario(
        GOVERNMENT,
        "智慧农业病虫害识别",
        "Recognising crop pests and diseases",
        "agriculture",
        "泾县",
        "茶园和水稻种植户发现病虫害往往已错过最佳防治期。希望农户用手机拍照即可识别常见病虫害，给出防治建议，"
        "并按乡镇汇总发生情况，辅助植保站发布预警。",
        "Tea and rice growers often notice pests and diseases too late to act. We want farmers to identify "
        "common ones from a phone photo, get treatment advice, and have cases summed up by township so the "
        "plant-protection station can issue warnings.",
        "植保站历年病虫害图片约8千张（已标注），虫情测报灯数据三年。",
        (200_000, 500_000),
        75,
        ("郑站长", "zhibao@jingxian.gov.cn", ""),
    ),
    DemoScenario(
        ENTERPRISE,
        "数控机床工艺参数优化",
        "Optimising CNC machining parameters",
        "manufacturing-optimisation",
        "芜湖市",
        "芜湖分厂加工铝合金壳体，刀具寿命和表面粗糙度波动大。希望根据材料批次、刀具状态和历史加工数据，"
        "推荐切削速度、进给量和切深，在保证质量的前提下把单件加工时间缩短10%以上。",
        "",
        "500余个零件的加工程序和参数、质检记录，刀具更换记录。",
        (400_000, 900_000),
        50,
        ("钱工", "it@xc-smart.example.cn", "0553-5887766"),
    ),
    DemoScenario(
        GOVERNMENT,
        "居家养老跌倒检测与预警",
        "Fall detection for elderly people living at home",
        "elderly-care",
        "宁国市",
        "全市独居老人约4千人。希望用不采集图像的方式（如毫米波雷达或可穿戴设备）检测跌倒和长时间静止，"
        "及时通知家属和社区网格员，误报率需可控，并保护老人隐私。",
        "About 4,000 elderly people in the city live alone. We want falls and long stillness detected "
        "without cameras (e.g. mmWave radar or wearables), with relatives and community workers alerted "
        "quickly, few false alarms, and privacy protected.",
        "试点社区50户可安装设备；无历史数据。",
        (None, 700_000),
        90,
        ("冯主任", "mzj@ningguo.gov.cn", "0563-4012345"),
    ),
    DemoScenario(
        GOVERNMENT,
        "智能公文写作辅助",
        "Drafting assistant for official documents",
        "smart-office",
        "广德市",
        "机关工作人员起草通知、请示、报告等公文耗时较多，格式和用语常需反复修改。希望提供符合《党政机关公文格式》"
        "的写作辅助、校对和要素检查，部署在政务外网。",
        "",
        "经脱敏的历年公文样本约5千篇。",
        (None, None),
        40,
        ("陈秘书", "bgs@guangde.gov.cn", ""),
        Scenario.Status.CLOSED,
    ),
]

PROPOSAL_TO = "工业互联网设备预测性维护"
PROPOSAL = {
    "summary": "基于振动频谱和电流特征的多变量时序模型，对主轴轴承、伺服电机和液压站故障提前7–10天预警；"
    "边缘网关实时计算健康度，云端训练并按设备类型迁移，预警自动生成MES维修工单。",
    "capabilities": ["时序异常检测", "故障诊断", "边缘部署", "MES集成"],
    "references": "已在合肥两家汽车零部件厂部署，非计划停机减少38%。",
    "price": 860_000,
    "timeline": "第1个月数据接入与诊断；第2–3个月模型训练与试运行；第4个月全线上线与验收。",
}


def load() -> Iterator[str]:
    password = demo_password()
    with transaction.atomic():
        organisations = {
            org.name: org for org in Organisation.objects.filter(name__in=[GOVERNMENT, ENTERPRISE, STARTUP])
        }
        publisher = _publisher(password, organisations[ENTERPRISE])
        yield f"  {'publisher':<10} {PUBLISHER[0]:<10} / {password}   {ENTERPRISE}"
        # The government's scenarios are published by the demo editor, a member of that bureau.
        by = {ENTERPRISE: publisher, GOVERNMENT: User.objects.get(username="editor")}
        today = timezone.localdate()
        scenarios = {}
        for demo in SCENARIOS:
            organisation = organisations[demo.organisation]
            scenario = Scenario.objects.filter(organisation=organisation, title=demo.title).first()
            if scenario is None:
                scenario = _publish(demo, organisation=organisation, by=by[demo.organisation], today=today)
            scenarios[demo.title] = scenario
        yield f"  scenarios  {len(scenarios)} scenario calls at /scenarios/ (publisher: {PUBLISHER[0]})"

        startup = organisations[STARTUP]
        target = scenarios[PROPOSAL_TO]
        if not Proposal.objects.filter(scenario=target, organisation=startup).exists() and target.accepts_proposals:
            sender = User.objects.get(username="startup")
            draft = proposal_save_draft(scenario=target, organisation=startup, by=sender, fields=PROPOSAL)
            proposal_submit(proposal=draft, by=sender)
        yield f"  proposals  {STARTUP} → {PROPOSAL_TO}"


def _publisher(password: str, organisation: Organisation) -> User:
    username, display_name = PUBLISHER
    user = User.objects.filter(username=username).first()
    if user is None:
        user = user_register(
            username=username, email=f"{username}@wanzhi.local", password=password, display_name=display_name
        )
        membership_grant(user=user, organisation=organisation, role=Role.ADMIN)
    return user


def _publish(demo: DemoScenario, *, organisation: Organisation, by: User, today: datetime.date) -> Scenario:
    name, email, phone = demo.contact
    scenario = scenario_create(
        organisation=organisation,
        by=by,
        fields={
            "title": demo.title,
            "title_en": demo.title_en,
            "description": demo.description,
            "description_en": demo.description_en,
            "sector": demo.sector,
            "city": demo.city,
            "budget_min": demo.budget[0],
            "budget_max": demo.budget[1],
            "data_available": demo.data_available,
            "deadline": today + datetime.timedelta(days=demo.days_open),
            "contact_name": name,
            "contact_email": email,
            "contact_phone": phone,
        },
    )
    scenario = scenario_publish(scenario=scenario, by=by)
    if demo.status != Scenario.Status.OPEN:
        scenario = scenario_set_status(scenario=scenario, by=by, status=demo.status)
    return scenario
