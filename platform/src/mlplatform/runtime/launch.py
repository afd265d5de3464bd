"""The command supervisord runs for a service: prepare its environment, drop privileges, exec.

Secrets reach the service only here, through its environment, so neither supervisord's
configuration file nor any command line holds them.
"""

from __future__ import annotations

import os
import pwd
import sys

from mlplatform.config import Settings
from mlplatform.runtime import services


def main(argv: list[str]) -> None:
    settings = Settings()
    service = services.get(settings, argv[1])
    env = {**os.environ, **service.environment()}
    user = service.os_user()
    if user:
        account = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
        env.update(HOME=account.pw_dir, USER=user, LOGNAME=user)
    command = service.argv()
    os.chdir(service.run_dir)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv)
