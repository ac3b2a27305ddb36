from django.db import migrations


def add_english(apps, schema_editor):
    apps.get_model("wagtailcore", "Locale").objects.get_or_create(language_code="en")


class Migration(migrations.Migration):
    """Pages are translated into English; Wagtail's migrations only make the default locale."""

    dependencies = [("cms", "0004_policy_index_number_per_language")]

    operations = [migrations.RunPython(add_english, migrations.RunPython.noop)]
