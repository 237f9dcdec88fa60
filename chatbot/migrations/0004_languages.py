import chatbot.models
from django.db import migrations, models
from django.utils.text import slugify


def topics_from_questions(apps, schema_editor):
    """Entries made before topics existed: each question is a topic of its own, in English."""
    FaqEntry = apps.get_model("chatbot", "FaqEntry")
    for entry in FaqEntry.objects.all():
        entry.topic = (slugify(entry.question) or f"topic-{entry.pk}")[:50]
        entry.save(update_fields=["topic"])


class Migration(migrations.Migration):
    dependencies = [
        ("chatbot", "0003_closed_at_and_restricted_messages"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatsession",
            name="language",
            field=models.CharField(default="en", max_length=10),
        ),
        migrations.AddField(
            model_name="message",
            name="code",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="message",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="faqentry",
            name="language",
            field=models.CharField(choices=chatbot.models.customer_language_choices, default="en", max_length=10),
        ),
        migrations.AddField(
            model_name="faqentry",
            name="topic",
            field=models.SlugField(default="", help_text="The same topic in every language, e.g. “delivery”."),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="faqentry",
            name="question",
            field=models.CharField(max_length=200),
        ),
        migrations.RunPython(topics_from_questions, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="faqentry",
            options={
                "ordering": ["topic", "language", "question"],
                "verbose_name": "FAQ entry",
                "verbose_name_plural": "FAQ entries",
            },
        ),
        migrations.AddConstraint(
            model_name="faqentry",
            constraint=models.UniqueConstraint(fields=("topic", "language"), name="faq_topic_language_unique"),
        ),
        migrations.AddConstraint(
            model_name="faqentry",
            constraint=models.UniqueConstraint(fields=("question", "language"), name="faq_question_language_unique"),
        ),
    ]
