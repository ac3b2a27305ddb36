"""The credit ledger refuses UPDATE and DELETE in the database itself, whoever writes."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION funds_credit_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'funds_credit_ledgerentry is append-only (% refused)', TG_OP USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER funds_credit_ledger_append_only BEFORE UPDATE OR DELETE ON funds_credit_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION funds_credit_ledger_append_only();
"""
BACKWARD = """
DROP TRIGGER funds_credit_ledger_append_only ON funds_credit_ledgerentry;
DROP FUNCTION funds_credit_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("funds_credit", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
