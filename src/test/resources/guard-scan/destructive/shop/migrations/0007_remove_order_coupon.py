from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0006_auto")]

    operations = [
        migrations.RemoveField(model_name="order", name="coupon"),
    ]
