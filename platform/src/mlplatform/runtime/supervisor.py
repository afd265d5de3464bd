"""supervisord as the process supervisor of the local runtime, driven over its XML-RPC socket.

supervisord keeps process groups, log files and clean stops; mlp decides the order and waits for
readiness, which supervisord cannot express. Every program runs `python -m mlplatform.runtime.launch
NAME`, so the configuration file holds no secret.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import psutil
from supervisor.xmlrpc import SupervisorTransport

from mlplatform.config import Settings
from mlplatform.errors import PlatformError
from mlplatform.runtime.service import Service, write_if_changed

#: Every process of one platform instance carries this variable, so leftovers can be found.
INSTANCE_VARIABLE = "MLP_INSTANCE"


class Supervisor:
    def __init__(self, settings: Settings, services: Sequence[Service]) -> None:
        self.settings = settings
        self.services = services
        self.config_file = settings.run_dir / "supervisord.conf"
        self.socket = settings.run_dir / "supervisor.sock"
        self.pid_file = settings.run_dir / "supervisord.pid"

    # -- lifecycle of supervisord itself --------------------------------------------------------
    def is_running(self) -> bool:
        try:
            self._rpc().supervisor.getState()
            return True
        except (OSError, xmlrpc.client.Fault):
            return False

    def ensure_running(self) -> None:
        self.write_config()
        if self.is_running():
            self._apply_config_changes()
            return
        for path in (self.settings.logs_dir, self.settings.run_dir):
            path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings.to_env(), INSTANCE_VARIABLE: str(self.settings.home)}
        supervisord = Path(sys.executable).parent / "supervisord"
        result = subprocess.run(
            [str(supervisord), "-c", str(self.config_file)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PlatformError(f"supervisord did not start: {result.stderr or result.stdout}")
        deadline = time.monotonic() + 15
        while not self.is_running():
            if time.monotonic() > deadline:
                raise PlatformError(f"supervisord did not answer on {self.socket}; see {self.settings.logs_dir}")
            time.sleep(0.1)

    def shutdown(self, timeout: float = 60.0) -> None:
        pid = self.pid()
        if self.is_running():
            self._rpc().supervisor.shutdown()
        if pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).wait(timeout)

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    # -- programs -------------------------------------------------------------------------------
    def start(self, name: str) -> None:
        try:
            self._rpc().supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise PlatformError(f"supervisord could not start {name}: {fault.faultString}") from fault

    def stop(self, name: str) -> None:
        try:
            self._rpc().supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            # BAD_NAME: a service added since supervisord started (an upgrade while up) never ran.
            if "NOT_RUNNING" not in fault.faultString and "BAD_NAME" not in fault.faultString:
                raise PlatformError(f"supervisord could not stop {name}: {fault.faultString}") from fault

    def info(self, name: str) -> dict[str, Any]:
        """supervisord's view of one program: statename, pid, description…; STOPPED when it is not running."""
        if not self.is_running():
            return {"name": name, "statename": "STOPPED", "pid": 0, "description": "supervisord not running"}
        try:
            return cast(dict[str, Any], self._rpc().supervisor.getProcessInfo(name))
        except xmlrpc.client.Fault as fault:
            if "BAD_NAME" not in fault.faultString:
                raise
            # A service added since supervisord started; `ensure_running` registers it.
            return {"name": name, "statename": "STOPPED", "pid": 0, "description": "not yet registered"}

    def leftover_processes(self) -> list[psutil.Process]:
        """Processes of this instance still alive (children that escaped their process group)."""
        marker = str(self.settings.home)
        found = []
        for process in psutil.process_iter():
            try:
                if process.environ().get(INSTANCE_VARIABLE) == marker and process.pid != os.getpid():
                    found.append(process)
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return found

    # -- configuration --------------------------------------------------------------------------
    def write_config(self) -> None:
        run, logs = self.settings.run_dir, self.settings.logs_dir
        sections = [
            f"[unix_http_server]\nfile={self.socket}\nchmod=0700\n",
            f"[supervisord]\nlogfile={logs / 'supervisord.log'}\npidfile={self.pid_file}\n"
            f"childlogdir={logs}\ndirectory={self.settings.home}\nidentifier=mlp\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{self.socket}\n",
        ]
        for service in self.services:
            sections.append(
                f"[program:{service.name}]\n"
                f"command={sys.executable} -m mlplatform.runtime.launch {service.name}\n"
                "autostart=false\nautorestart=unexpected\nstartsecs=1\nstartretries=2\n"
                f"stopsignal={service.stop_signal}\nstopwaitsecs=60\nstopasgroup=true\nkillasgroup=true\n"
                f"redirect_stderr=true\nstdout_logfile={service.log_file}\n"
                "stdout_logfile_maxbytes=20MB\nstdout_logfile_backups=3\n"
            )
        write_if_changed(self.config_file, "\n".join(sections).replace("%", "%%"), mode=0o600)
        run.mkdir(parents=True, exist_ok=True)

    def _apply_config_changes(self) -> None:
        """Let a running supervisord pick up programs added or changed since it started."""
        rpc = self._rpc()
        added, changed, removed = rpc.supervisor.reloadConfig()[0]
        for name in removed + changed:
            self.stop(name)
            rpc.supervisor.removeProcessGroup(name)
        for name in added + changed:
            rpc.supervisor.addProcessGroup(name)

    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
