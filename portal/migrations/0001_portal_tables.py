from django.db import migrations

from portal.schema import CREATE_TABLES, DROP_TABLES


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.RunSQL(sql=statement, reverse_sql=migrations.RunSQL.noop)
        for statement in CREATE_TABLES
    ] + [migrations.RunSQL(sql=migrations.RunSQL.noop, reverse_sql=DROP_TABLES)]
