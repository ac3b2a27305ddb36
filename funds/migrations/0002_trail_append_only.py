"""The audit trail refuses UPDATE and DELETE in the database itself, whoever writes."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION funds_trail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'funds_applicationevent is append-only (% refused)', TG_OP USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER funds_trail_append_only BEFORE UPDATE OR DELETE ON funds_applicationevent
    FOR EACH ROW EXECUTE FUNCTION funds_trail_append_only();
"""
BACKWARD = """
DROP TRIGGER funds_trail_append_only ON funds_applicationevent;
DROP FUNCTION funds_trail_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("funds", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
