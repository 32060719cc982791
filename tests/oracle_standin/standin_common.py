"""TEST STAND-IN helpers shared by tests/oracle_standin/expdp and impdp - never shipped.

What both Data Pump clients do the same way, as Oracle documents it and as the real logs in
tests/data/datapump_logs show it:

- USERID: ``user/password@connect``, the password optionally in double quotes (then it may hold
  ``@ / , `` and spaces); ``/`` is OS authentication, ``/@alias`` a wallet entry. When the test
  wrote ``./.standin_password``, a login with another password fails like Oracle's
  (``UDE-01017`` / ``ORA-01017``, exit 1); ``as sysdba`` is recorded in ``./.standin_login``.
- LOGTIME=ALL|LOGFILE prefixes every line after the banner with ``DD-MON-YY HH24:MI:SS.FF3: ``;
  METRICS=YES adds the worker id (``W-1 ``) and ``in N seconds using direct_path``.
"""

import json
import os
import sys
from datetime import datetime

BANNER_END = "Connected to:"


def parse_userid(value):
    """(user, password or None, connect, as_sysdba) of a USERID value."""
    text = value.strip()
    if text.startswith("'") and text.endswith("'"):
        text = text[1:-1]
    sysdba = text.lower().endswith(" as sysdba")
    if sysdba:
        text = text[: -len(" as sysdba")].strip().strip('"')
    user, _, rest = text.partition("/")
    password, connect = None, ""
    if rest.startswith('"'):
        end = rest.index('"', 1)
        password, rest = rest[1:end], rest[end + 1 :]
        connect = rest[1:] if rest.startswith("@") else ""
    elif rest:
        password, _, connect = rest.partition("@")
        if password == "":
            password = None
    return user, password, connect, sysdba


def check_login(params, banner_log, write):
    """Fail like Oracle when the USERID does not log in (see the module docstring)."""
    value = params.get("USERID")
    user, password, connect, sysdba = parse_userid(value) if value else ("", None, "", False)
    with open(".standin_login", "w") as handle:
        json.dump(
            {"user": user, "connect": connect, "sysdba": sysdba, "os_or_wallet": not user}, handle
        )
    if os.path.exists(".standin_password") and user:
        with open(".standin_password", encoding="utf-8") as handle:
            expected = handle.read()
        if password != expected:
            refused = [
                "UDE-01017: operation generated ORACLE error 1017",
                "ORA-01017: invalid username/password; logon denied",
            ]
            write([*banner_log[:1], "", *refused])
            sys.exit(1)
    return (user or "SYS").upper()


def render(lines, params):
    """The lines as the job's LOGTIME and METRICS options make Data Pump write them."""
    logtime = params.get("LOGTIME", "NONE").upper() in ("ALL", "LOGFILE")
    metrics = params.get("METRICS", "NO").upper() in ("Y", "YES", "TRUE", "1")
    out, after_banner = [], False
    for number, line in enumerate(lines):
        if metrics and line.startswith((". .", "Processing object type")):
            worker = 1 + number % 2
            if line.startswith(". ."):
                line += " in 0 seconds using direct_path"
            line = f"W-{worker} {line}"
        if logtime and after_banner and line:
            stamp = datetime.now().strftime("%d-%b-%y %H:%M:%S.%f")[:-3].upper()
            line = f"{stamp}: {line}"
        if line.startswith(BANNER_END):
            after_banner = True
        out.append(line)
    return out
