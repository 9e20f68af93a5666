import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from skeldir.cli import bad_input
from skeldir.operator import OperatorUserInvalid, operator_user_upsert


class Command(BaseCommand):
    help = "Create a staff user for the operations admin (or set its password); prints the user name last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--password", help="'-' reads it from stdin (keeps it out of shell history)")
        source.add_argument("--password-env", metavar="NAME", help="read it from this environment variable")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["password_env"]:
            password = os.environ.get(opts["password_env"], "")
        elif opts["password"] == "-":
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = opts["password"]
        try:
            user = operator_user_upsert(username=opts["username"], password=password)
        except OperatorUserInvalid as exc:
            raise bad_input(exc) from None
        self.stdout.write(user.get_username())
