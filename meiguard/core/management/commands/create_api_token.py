from django.core.management.base import BaseCommand, CommandError, CommandParser

from meiguard.core.access import Actor
from meiguard.core.errors import ActionError
from meiguard.core.models import User
from meiguard.core.tokens import ALL_SCOPES, create_token


class Command(BaseCommand):
    help = "为用户创建接口令牌(只显示一次)/ Create an API bearer token for a user (shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("name", help="what the token is for, e.g. HIS")
        parser.add_argument(
            "--scope",
            action="append",
            choices=ALL_SCOPES,
            help="read / decide / write (repeatable; default: all three)",
        )
        parser.add_argument(
            "--days", type=int, default=None, help="lifetime in days (default API_TOKEN_DEFAULT_DAYS)"
        )

    def handle(self, *args: object, **options) -> None:  # type: ignore[no-untyped-def]
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"用户不存在或已停用:{options['username']}")
        try:
            _, raw = create_token(
                Actor.system("create_api_token"),
                user,
                name=options["name"],
                scopes=options["scope"],
                days=options["days"],
            )
        except ActionError as exc:
            raise CommandError(str(exc.message)) from exc
        self.stdout.write(raw)
