"""supervisord as the process supervisor of the local runtime, driven over its XML-RPC socket.

supervisord keeps process groups, log files and clean stops; mlp decides the order and waits for
readiness, which supervisord cannot express. Every program of the platform runs `python -m
mlplatform.runtime.launch NAME`, so the configuration file holds no secret. The local Kubernetes
control plane has a supervisord of its own, which runs the components' command lines directly (they
name files, never secrets), so `mlp down` and `mlp cluster down` each stop only their part of the instance.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import xmlrpc.client
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import psutil
from supervisor.xmlrpc import SupervisorTransport

from mlplatform.config import Settings
from mlplatform.errors import PlatformError
from mlplatform.polling import poll
from mlplatform.runtime.service import Service, write_if_changed

#: Every process of one platform instance carries this variable, so leftovers can be found.
INSTANCE_VARIABLE = "MLP_INSTANCE"
#: Which supervisord of the instance started a process: the platform's services and the local
#: Kubernetes control plane (`mlp cluster`) are stopped apart, so each finds only its own leftovers.
PART_VARIABLE = "MLP_INSTANCE_PART"
PLATFORM_PART = "platform"


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        services: Sequence[Service],
        *,
        part: str = PLATFORM_PART,
        run_dir: Path | None = None,
        logs_dir: Path | None = None,
        launcher: str | None = "mlplatform.runtime.launch",
        excluded_environment: Sequence[str] = (),
    ) -> None:
        """`launcher` is the module supervisord runs with a service's name (None: the service's own
        command line, for services without secrets); `excluded_environment` names variables of mlp's
        environment that supervisord and its programs must not inherit."""
        self.settings = settings
        self.services = services
        self.part = part
        self.run_dir = run_dir or settings.run_dir
        self.logs_dir = logs_dir or settings.logs_dir
        self.launcher = launcher
        self.excluded_environment = frozenset(excluded_environment)
        self.config_file = self.run_dir / "supervisord.conf"
        self.socket = self.run_dir / "supervisor.sock"
        self.pid_file = self.run_dir / "supervisord.pid"

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
        for path in (self.logs_dir, self.run_dir):
            path.mkdir(parents=True, exist_ok=True)
        inherited = {key: value for key, value in os.environ.items() if key not in self.excluded_environment}
        env = {
            **inherited,
            **self.settings.to_env(),
            INSTANCE_VARIABLE: str(self.settings.home),
            PART_VARIABLE: self.part,
        }
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
        poll(
            self.is_running,
            timeout=15,
            interval=0.1,
            error=lambda _: PlatformError(f"supervisord did not answer on {self.socket}; see {self.logs_dir}"),
        )

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
        """Processes of this instance and part still alive (children that escaped their process group)."""
        marker = str(self.settings.home)
        found = []
        for process in psutil.process_iter():
            try:
                environ = process.environ()
                # Processes started before parts existed carry no part: they are the platform's.
                mine = environ.get(PART_VARIABLE, PLATFORM_PART) == self.part
                if environ.get(INSTANCE_VARIABLE) == marker and mine and process.pid != os.getpid():
                    found.append(process)
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return found

    # -- configuration --------------------------------------------------------------------------
    def write_config(self) -> None:
        run, logs = self.run_dir, self.logs_dir
        identifier = "mlp" if self.part == PLATFORM_PART else f"mlp-{self.part}"
        sections = [
            f"[unix_http_server]\nfile={self.socket}\nchmod=0700\n",
            f"[supervisord]\nlogfile={logs / 'supervisord.log'}\npidfile={self.pid_file}\n"
            f"childlogdir={logs}\ndirectory={self.settings.home}\nidentifier={identifier}\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{self.socket}\n",
        ]
        for service in self.services:
            sections.append(
                f"[program:{service.name}]\n"
                f"{self._command(service)}"
                "autostart=false\nautorestart=unexpected\nstartsecs=1\nstartretries=2\n"
                f"stopsignal={service.stop_signal}\nstopwaitsecs={service.stop_timeout}\nstopasgroup=true\nkillasgroup=true\n"
                f"redirect_stderr=true\nstdout_logfile={service.log_file}\n"
                "stdout_logfile_maxbytes=20MB\nstdout_logfile_backups=3\n"
            )
        write_if_changed(self.config_file, "\n".join(sections).replace("%", "%%"), mode=0o600)
        run.mkdir(parents=True, exist_ok=True)

    def _command(self, service: Service) -> str:
        if self.launcher:
            return f"command={sys.executable} -m {self.launcher} {service.name}\n"
        # The service's own command: only for services whose command line and environment hold no secret.
        environment = ",".join(f'{key}="{value}"' for key, value in service.environment().items())
        return f"command={shlex.join(service.argv())}\ndirectory={service.run_dir}\n" + (
            f"environment={environment}\n" if environment else ""
        )

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
