"""The sectors of the programme's plan (slug → label): scenarios, profiles, calls and search share them."""

from django.utils.translation import gettext_lazy as _

SECTORS = {
    "new-energy-vehicles": _("New-energy vehicles"),
    "smart-marketing": _("Smart marketing"),
    "smart-office": _("Smart office"),
    "intelligent-interaction": _("Intelligent interaction"),
    "industrial-internet": _("Industrial internet"),
    "industrial-design": _("Industrial design"),
    "government-services": _("Government services"),
    "education": _("Education"),
    "healthcare": _("Healthcare"),
    "legal-services": _("Legal services"),
    "policing": _("Policing"),
    "agriculture": _("Agriculture"),
    "manufacturing-optimisation": _("Manufacturing process optimisation"),
    "procurement": _("Procurement"),
    "smart-home": _("Smart home"),
    "elderly-care": _("Elderly care"),
    "robotics": _("Robotics"),
    "scientific-research": _("Scientific research"),
}
