"""The admin carries the product's name and Chinese section names, in English too when the reader chose it."""

from meiguard.core.models import User


def _admin_client(client, db):
    user = User.objects.create_superuser(username="root", password="pw-root-123456", display_name="root")
    client.force_login(user)
    return client


def test_admin_is_branded_with_chinese_sections(client, db):
    body = _admin_client(client, db).get("/admin/").content.decode()
    assert "meiguard 管理后台" in body
    assert "登记注册" in body and "组织与用户" in body


def test_admin_in_english(client, db):
    body = _admin_client(client, db).get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "meiguard administration" in body
    assert "Registry" in body
    assert "登记注册" not in body
