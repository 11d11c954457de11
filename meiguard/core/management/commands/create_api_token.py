from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.core.access import Actor
from meiguard.core.models import User
from meiguard.core.tokens import create_token


class Command(BaseCommand):
    help = "为用户创建接口令牌(只显示一次)/ Create an API bearer token for a user (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="what the token is for, e.g. HIS")

    def handle(self, *args: object, **options: str) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"用户不存在或已停用:{options['username']}")
        name = options["name"].strip()
        if not name or len(name) > 64:
            raise CommandError("令牌名称必须为 1–64 个字符")
        _, raw = create_token(Actor.system("create_api_token"), user, name=name)
        self.stdout.write(raw)
