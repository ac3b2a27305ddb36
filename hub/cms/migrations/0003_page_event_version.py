from django.db import migrations


class Migration(migrations.Migration):
    """The sequence behind cms.page.* event versions (see hub.cms.events.next_page_version)."""

    dependencies = [("cms", "0002_announcementindexpage_announcementpage_and_more")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS cms_page_event_version",
            "DROP SEQUENCE IF EXISTS cms_page_event_version",
        )
    ]
