"""Photos and files in an S3-compatible bucket (django-storages), against moto's
S3 server on loopback: what the README's ``ATTACHMENTS_STORAGE=s3`` promises.

In this process the storage is swapped through ``settings.STORAGES``; on two
real daphne workers it is chosen from the environment, as an operator would
(``fiido/settings.py``), and a photo uploaded to one is served by the other.
"""

from __future__ import annotations

import io
import uuid

import pytest
from django.test import Client

from chatbot import conversations
from tests.chatbot.test_attachments import PDF, SVG, Desk, jpeg_with_gps
from tests.support import customer, free_port, need

KEYS = {"ATTACHMENTS_S3_ACCESS_KEY_ID": "fiido-test", "ATTACHMENTS_S3_SECRET_ACCESS_KEY": "fiido-test-secret"}


class S3:
    """moto's S3 server on a free loopback port, and one private bucket in it."""

    def __init__(self) -> None:
        try:
            import boto3
            import storages.backends.s3  # noqa: F401 - the backend under test
            from moto.server import ThreadedMotoServer
        except ImportError:
            need("boto3, django-storages and moto[server] are not installed (pip install -r requirements-test.txt)")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = f"fiido-{uuid.uuid4().hex[:12]}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEYS["ATTACHMENTS_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["ATTACHMENTS_S3_SECRET_ACCESS_KEY"],
        )
        self.client.create_bucket(Bucket=self.bucket)

    def keys(self) -> list[str]:
        return sorted(item["Key"] for item in self.client.list_objects_v2(Bucket=self.bucket).get("Contents", []))

    def env(self) -> dict[str, str]:
        """The environment an operator sets (README "Photos and files")."""
        return {
            "ATTACHMENTS_STORAGE": "s3",
            "ATTACHMENTS_S3_BUCKET": self.bucket,
            "ATTACHMENTS_S3_ENDPOINT_URL": self.endpoint,
            "ATTACHMENTS_S3_REGION": "us-east-1",
            **KEYS,
        }


@pytest.fixture
def s3(settings):
    bucket = S3()
    try:
        yield bucket
    finally:
        bucket.server.stop()


@pytest.fixture
def s3_storage(s3, settings):
    """This process's attachments storage is the bucket, with the options settings.py builds."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": s3.bucket,
                "endpoint_url": s3.endpoint,
                "region_name": "us-east-1",
                "access_key": KEYS["ATTACHMENTS_S3_ACCESS_KEY_ID"],
                "secret_key": KEYS["ATTACHMENTS_S3_SECRET_ACCESS_KEY"],
                "location": "attachments",
                "default_acl": "private",
                "file_overwrite": False,
                "querystring_auth": True,
            },
        },
    }
    return s3


@pytest.fixture
def desk(db, settings) -> Desk:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return Desk()


def test_a_photo_is_a_private_object_served_through_the_access_check(desk, s3_storage, attachments_root):
    part = desk.upload(jpeg_with_gps(), "rack.jpg").json()["message"]["parts"][0]
    keys = s3_storage.keys()
    assert len(keys) == 2 and all(key.startswith("attachments/") for key in keys)  # the photo and its thumbnail
    assert not list(attachments_root.rglob("*.*")), "nothing written to the local directory"
    for key in keys:
        grants = s3_storage.client.get_object_acl(Bucket=s3_storage.bucket, Key=key)["Grants"]
        assert all("URI" not in grant["Grantee"] for grant in grants), "an object is readable by a group"
    response = desk.agent.get(part["url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    body = b"".join(response.streaming_content)
    photo = next(key for key in keys if key.endswith(".jpg"))
    assert body == s3_storage.client.get_object(Bucket=s3_storage.bucket, Key=photo)["Body"].read()
    assert b"GPS" not in body
    assert Client().get(part["url"]).status_code == 404


def test_refusals_leave_no_object_and_erasure_deletes_them(desk, s3_storage, django_capture_on_commit_callbacks):
    assert desk.upload(SVG, "photo.jpg").status_code == 415
    conversations.close(desk.session)
    assert desk.upload(PDF, "late.pdf").status_code == 409
    assert s3_storage.keys() == []
    other = Desk.__new__(Desk)
    other.customer = Client()
    other.name = other.customer.post("/api/sessions", b"{}", content_type="application/json").json()["session_name"]
    assert other.upload(PDF, "a.pdf").status_code == 201
    assert len(s3_storage.keys()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        conversations.purge(other.session)
    assert s3_storage.keys() == []


@pytest.mark.e2e
def test_two_workers_configured_from_the_environment_share_the_bucket(workers, s3):
    """An upload on one worker, served by the other: nothing per machine."""
    first, second = workers(2, **s3.env())
    visitor, name = customer(first.url)
    sent = visitor.client.post(
        f"/api/sessions/{name}/attachments",
        files={"file": ("manual.pdf", io.BytesIO(PDF), "application/pdf")},
        headers={"X-CSRFToken": visitor.csrf},
    )
    assert sent.status_code == 201, sent.text
    part = sent.json()["message"]["parts"][0]
    assert len(s3.keys()) == 1
    with visitor.at(second.url) as client:
        served = client.get(part["url"])
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-disposition"] == 'attachment; filename="manual.pdf"'
