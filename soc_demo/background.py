"""Benign background traffic of the demo province: citizens, officials, administrators.

Stage: none (test and demo data). Called by :mod:`soc_demo.generator`; the attack side is
:mod:`soc_demo.scenarios`. Nothing here may trigger a shipped rule: failed logins stay below every
correlation threshold per source address (capped over the whole run, whatever the window), no
scanner agents, no payloads, no shells spawned by Office, no accounts created.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, quote_plus

from soc_demo import winevents as win
from soc_demo.events import APACHE, AUTH, NGINX, WINDOWS, Entry
from soc_demo.formats import Request, access_line, auth_line

ISP_PREFIXES = (
    "14.160",
    "14.177",
    "27.72",
    "27.67",
    "42.112",
    "42.113",
    "113.160",
    "113.185",
    "116.96",
    "117.4",
    "171.224",
    "171.241",
    "1.53",
    "118.70",
    "183.80",
)
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_IOS = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
BROWSERS = (
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} Chrome/131.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_WEBKIT} coc_coc_browser/131.0.234 Chrome/125.0.0.0 Safari/537.36",
    f"Mozilla/5.0 (Linux; Android 14; SM-A546E) {_WEBKIT} Chrome/130.0.6723.107 Mobile Safari/537.36",
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) {_IOS} Version/18.1 Mobile/15E148 Safari/604.1",
    f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) {_IOS} Mobile/15E148 Zalo iOS/24111301 "
    "ZaloTheme/light ZaloLanguage/vn",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
)
BOTS = (
    ("66.249.66.", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    ("40.77.167.", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
    ("123.30.175.", "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)"),
)
SEARCHES = (
    "giấy khai sinh",
    "cấp đổi căn cước",
    "đăng ký kết hôn",
    "thủ tục đất đai",
    "lịch tiếp công dân",
    "tuyển dụng viên chức 2026",
    "giá đất Thanh Hóa",
    "quy hoạch Nghi Sơn",
    "đăng ký hộ kinh doanh",
    "nông thôn mới Hoằng Hóa",
    "học bổng sinh viên",
    "cấp giấy phép xây dựng",
)
NEWS = (
    "thanh-hoa-day-manh-chuyen-doi-so-nam-2026",
    "hoi-nghi-tong-ket-cai-cach-hanh-chinh",
    "khai-truong-mua-du-lich-sam-son",
    "ky-hop-thu-muoi-hdnd-tinh-khoa-xviii",
    "trien-khai-de-an-06-ve-du-lieu-dan-cu",
    "phong-chong-lut-bao-cuoi-nam",
    "le-hoi-lam-kinh-2026",
    "thu-hut-dau-tu-khu-kinh-te-nghi-son",
)
PROCEDURES = (
    "cap-giay-phep-xay-dung",
    "dang-ky-ho-kinh-doanh",
    "cap-ban-sao-trich-luc-ho-tich",
    "chung-thuc-ban-sao-tu-ban-chinh",
    "dang-ky-khai-sinh",
    "cap-phieu-ly-lich-tu-phap",
)
STATIC = (
    "/static/css/main.min.css?v=2.3.1",
    "/static/js/jquery-3.7.1.min.js",
    "/static/js/app.min.js?v=2.3.1",
    "/static/img/logo-ubnd.png",
    "/static/fonts/Roboto-Regular.woff2",
    "/favicon.ico",
)
WP_STATIC = (
    "/wp-content/themes/cong-ttdt/style.css?ver=6.4.2",
    "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
    "/wp-content/uploads/2026/10/hoi-nghi-giao-ban.jpg",
    "/wp-content/plugins/contact-form-7/includes/js/index.js?ver=5.9",
)
ADMINS = (("quantri", 1000), ("longvd", 1001), ("namhv", 1002), ("ansible", 1003))
JUMP_HOSTS = ("10.10.9.11", "10.10.9.12", "10.10.9.13", "10.10.9.14")
LINUX_HOSTS = (
    "web-portal-01",
    "web-dvc-01",
    "app-motcua-01",
    "app-qlvb-01",
    "mail-01",
    "web-hhh-01",
    "web-tpth-01",
    "app-lgsp-01",
)
WORKSTATIONS = tuple(
    [(f"STC-PC0{i}.thanhhoa.local", f"10.30.0.{20 + i}") for i in range(1, 7)]
    + [(f"VP-PC0{i}.thanhhoa.local", f"10.11.0.{30 + i}") for i in range(1, 5)]
    + [
        ("SGD-PC01.thanhhoa.local", "10.40.0.21"),
        ("SGD-PC02.thanhhoa.local", "10.40.0.22"),
        ("DONGVE-PC01.thanhhoa.local", "10.60.1.21"),
        ("HOANGDAO-PC01.thanhhoa.local", "10.61.1.21"),
    ]
)
OFFICIALS = ("nguyenthilan", "tranvanminh", "lethuha", "phamquockhanh", "hoangthimai", "dovanhai", "buithithu")
MAX_BG_FAILURES = 3  # per source address over the whole run: far below every correlation threshold


def public_ip(rng: random.Random) -> str:
    return f"{rng.choice(ISP_PREFIXES)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


def _at(start: datetime, seconds: float) -> datetime:
    return start + timedelta(seconds=int(seconds))


@dataclass(frozen=True, slots=True)
class Site:
    """A virtual host: the log file it is written to, its name, port prefix and static assets."""

    file: str
    vhost: str
    port: int | None = None
    statics: tuple[str, ...] = ()


def _web_session(
    rng: random.Random, t: datetime, site: Site, client: tuple[str, str], pages: list[tuple[str, str, int]]
) -> list[Entry]:
    """One visit of ``client`` (address, user agent): pages, each with some static assets."""
    out: list[Entry] = []
    ip, agent = client
    referrer = rng.choice(("-", "https://www.google.com/", "https://coccoc.com/"))
    for method, target, status in pages:
        size = rng.randrange(3000, 90000) if status == 200 else rng.randrange(0, 400)
        req = Request(method, target, status, size, referrer, agent)
        out.append(Entry(t, site.file, access_line(t, site.vhost, ip, req, port=site.port)))
        if method == "GET" and status == 200:
            for asset in rng.sample(site.statics, min(len(site.statics), rng.randrange(0, 4))):
                code = rng.choice((200, 200, 304))
                size = 0 if code == 304 else rng.randrange(500, 250000)
                req = Request("GET", asset, code, size, f"https://{site.vhost}{target}", agent)
                out.append(Entry(t, site.file, access_line(t, site.vhost, ip, req, port=site.port)))
        referrer = f"https://{site.vhost}{target}"
        t += timedelta(seconds=rng.randrange(4, 60))
    return out


def _search(rng: random.Random, param: str) -> str:
    term = rng.choice(SEARCHES)
    return f"{param}={quote_plus(term) if rng.random() < 0.5 else quote(term)}"


def web(rng: random.Random, start: datetime, span: float, scale: float) -> list[Entry]:
    """Citizens and officials on the nginx vhosts and the Apache (WordPress, QLVB) vhosts."""
    out: list[Entry] = []
    login_failures: Counter[str] = Counter()
    for _ in range(int(330 * span / 3600 * scale)):
        t = _at(start, rng.uniform(0, max(span - 300, 1)))
        kind = rng.choices(("portal", "dvc", "motcua", "mail", "bot"), (45, 30, 12, 8, 5))[0]
        ip, agent = public_ip(rng), rng.choice(BROWSERS)
        if kind == "portal":
            pages = [("GET", "/", 200)] + [
                rng.choice(
                    (
                        ("GET", f"/tin-tuc/thoi-su/{rng.choice(NEWS)}-t{rng.randrange(10000, 99999)}.html", 200),
                        ("GET", f"/tim-kiem?{_search(rng, 'q')}", 200),
                        ("GET", "/thu-tuc-hanh-chinh", 200),
                        ("GET", "/van-ban-chi-dao-dieu-hanh?trang=2", 200),
                        ("GET", "/lich-cong-tac", 200),
                        ("GET", "/apple-touch-icon.png", 404),
                    )
                )
                for _ in range(rng.randrange(1, 4))
            ]
            out += _web_session(rng, t, Site(NGINX, "portal.thanhhoa.gov.vn", None, STATIC), (ip, agent), pages)
        elif kind == "dvc":
            pages = [("GET", "/", 200), ("GET", f"/thu-tuc/{rng.choice(PROCEDURES)}", 200)]
            if rng.random() < 0.5:
                failed = rng.random() < 0.2 and login_failures[ip] < MAX_BG_FAILURES
                login_failures[ip] += failed
                pages += [("GET", "/dang-nhap", 200), ("POST", "/dang-nhap", 200 if failed else 302)]
                pages += [
                    (
                        "GET",
                        f"/tra-cuu-ho-so?ma_ho_so=H56.{rng.randrange(10, 99)}-261120-{rng.randrange(1, 9999):04d}",
                        200,
                    )
                ]
            out += _web_session(rng, t, Site(NGINX, "dichvucong.thanhhoa.gov.vn", None, STATIC), (ip, agent), pages)
        elif kind == "motcua":
            ip = f"10.60.1.{rng.randrange(20, 60)}" if rng.random() < 0.5 else f"10.11.0.{rng.randrange(20, 80)}"
            pages = [
                ("GET", "/motcua/ho-so/danh-sach?trang_thai=dang-xu-ly", 200),
                ("GET", f"/motcua/ho-so/chi-tiet?id={rng.randrange(100000, 999999)}", 200),
                ("POST", "/motcua/ho-so/luu", 200),
                ("GET", f"/files/van-ban/2026/qd-{rng.randrange(100, 999)}-ubnd.pdf", 200),
            ]
            out += _web_session(rng, t, Site(NGINX, "motcua.thanhhoa.gov.vn", None, STATIC[:3]), (ip, agent), pages)
        elif kind == "mail":
            ip = f"10.11.0.{rng.randrange(20, 80)}" if rng.random() < 0.7 else public_ip(rng)
            pages = [
                ("POST", "/?_task=login", 302),
                ("GET", "/?_task=mail&_mbox=INBOX", 200),
                ("GET", f"/?_task=mail&_action=show&_uid={rng.randrange(1000, 9000)}&_mbox=INBOX", 200),
                ("POST", "/?_task=mail&_action=refresh", 200),
            ]
            out += _web_session(rng, t, Site(NGINX, "mail.thanhhoa.gov.vn", None, ()), (ip, agent), pages)
        else:
            prefix, agent = rng.choice(BOTS)
            ip = prefix + str(rng.randrange(1, 255))
            pages = [
                ("GET", f"/tin-tuc/thoi-su/{rng.choice(NEWS)}-t{rng.randrange(10000, 99999)}.html", 200),
                ("GET", "/robots.txt", 200),
                ("GET", "/sitemap.xml", 200),
            ]
            out += _web_session(rng, t, Site(NGINX, "portal.thanhhoa.gov.vn", None, ()), (ip, agent), pages)
    for _ in range(int(110 * span / 3600 * scale)):
        t = _at(start, rng.uniform(0, max(span - 300, 1)))
        kind = rng.choices(("hhh", "tpth", "qlvb"), (45, 30, 25))[0]
        ip, agent = public_ip(rng), rng.choice(BROWSERS)
        if kind in ("hhh", "tpth"):
            vhost = "hoanghoa.thanhhoa.gov.vn" if kind == "hhh" else "tpthanhhoa.thanhhoa.gov.vn"
            pages = [
                ("GET", "/", 200),
                ("GET", f"/{rng.choice(NEWS)}/", 200),
                ("GET", f"/?{_search(rng, 's')}", 200),
                ("POST", "/wp-admin/admin-ajax.php", 200),
            ]
            if rng.random() < 0.1:  # an editor of the district portal logs in from the commune office
                ip = f"10.61.1.{rng.randrange(20, 60)}"
                pages += [("GET", "/wp-login.php", 200), ("POST", "/wp-login.php", 302), ("GET", "/wp-admin/", 200)]
            out += _web_session(rng, t, Site(APACHE, vhost, 443, WP_STATIC), (ip, agent), pages)
        else:
            ip = f"10.11.0.{rng.randrange(20, 80)}" if rng.random() < 0.6 else f"10.30.0.{rng.randrange(20, 60)}"
            pages = [
                ("POST", "/qlvb/login", 302),
                ("GET", "/qlvb/van-ban-den/danh-sach", 200),
                ("GET", f"/qlvb/van-ban-den/chi-tiet?id={rng.randrange(10000, 99999)}", 200),
                ("GET", "/qlvb/api/thong-bao?chua_doc=1", 200),
            ]
            out += _web_session(rng, t, Site(APACHE, "qlvb.thanhhoa.gov.vn", 443, ()), (ip, agent), pages)
    return out


def auth(rng: random.Random, start: datetime, span: float, scale: float) -> list[Entry]:
    """Administrators' SSH sessions from the jump hosts, sudo, cron; rare typos below thresholds."""
    out: list[Entry] = []
    failures: Counter[str] = Counter()
    sudo_cmds = (
        "/usr/bin/systemctl reload nginx",
        "/usr/bin/apt-get update",
        "/usr/bin/tail -n 200 /var/log/nginx/error.log",
        "/usr/bin/systemctl status php8.2-fpm",
        "/usr/bin/df -h",
    )
    for _ in range(int(22 * span / 3600 * scale)):
        t = _at(start, rng.uniform(0, max(span - 900, 1)))
        host, ip = rng.choice(LINUX_HOSTS), rng.choice(JUMP_HOSTS)
        user, uid = rng.choice(ADMINS)
        if user == "ansible" and rng.random() < 0.5:
            user, uid = "root", 0
        pid, port = rng.randrange(2000, 60000), rng.randrange(40000, 65000)

        def add(app: str, apid: int, msg: str, t: datetime = t, host: str = host) -> None:
            out.append(Entry(t, AUTH, auth_line(t, host, app, apid, msg)))

        if rng.random() < 0.12 and failures[ip] < MAX_BG_FAILURES:
            failures[ip] += 1
            if rng.random() < 0.3:
                typo = user[:-1] or "admin"
                add("sshd", pid, f"Invalid user {typo} from {ip} port {port}")
                add("sshd", pid, f"Failed password for invalid user {typo} from {ip} port {port} ssh2")
            else:
                add("sshd", pid, f"Failed password for {user} from {ip} port {port} ssh2")
            t += timedelta(seconds=rng.randrange(3, 20))
            pid, port = pid + 1, port + 1
        fp = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=43))
        add("sshd", pid, f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{fp}", t)
        add("sshd", pid, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)", t)
        t += timedelta(seconds=rng.randrange(20, 400))
        if user != "root" and rng.random() < 0.6:
            add(
                "sudo",
                pid + 7,
                f"   {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={rng.choice(sudo_cmds)}",
                t,
            )
            add("sudo", pid + 7, f"pam_unix(sudo:session): session opened for user root(uid=0) by {user}(uid={uid})", t)
            add("sudo", pid + 7, "pam_unix(sudo:session): session closed for user root", t + timedelta(seconds=2))
            t += timedelta(seconds=rng.randrange(30, 300))
        add("sshd", pid, f"Received disconnect from {ip} port {port}:11: disconnected by user", t)
        add("sshd", pid, f"Disconnected from user {user} {ip} port {port}", t)
        add("sshd", pid, f"pam_unix(sshd:session): session closed for user {user}", t)
    minutes = 0
    while minutes * 60 < span:
        host = LINUX_HOSTS[minutes % len(LINUX_HOSTS)]
        t = _at(start, minutes * 60 + 1)
        pid = 30000 + minutes
        out.append(
            Entry(
                t,
                AUTH,
                auth_line(
                    t, host, "CRON", pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
                ),
            )
        )
        out.append(
            Entry(t, AUTH, auth_line(t, host, "CRON", pid, "pam_unix(cron:session): session closed for user root"))
        )
        minutes += 5
    return out


def windows(rng: random.Random, start: datetime, span: float, scale: float) -> list[Entry]:
    """Kerberos logons on the DCs, rare bad passwords, office work on workstations, one benign
    service install and one benign group change."""
    out: list[Entry] = []
    failures: Counter[str] = Counter()
    for _ in range(int(150 * span / 3600 * scale)):
        t = start + timedelta(milliseconds=int(rng.uniform(0, span) * 1000))
        computer, ip = rng.choice(WORKSTATIONS)
        dc = rng.choice(("DC01.thanhhoa.local", "DC02.thanhhoa.local"))
        user = rng.choice(OFFICIALS)
        if rng.random() < 0.03 and failures[ip] < MAX_BG_FAILURES:
            failures[ip] += 1
            out.append(
                Entry(t, WINDOWS, win=win.logon_failure(rng, t, dc, user, ip, workstation=computer.split(".")[0]))
            )
        else:
            out.append(Entry(t, WINDOWS, win=win.logon_success(rng, t, dc, user, ip)))
    office = "C:\\Program Files\\Microsoft Office\\root\\Office16"
    explorer = "C:\\Windows\\explorer.exe"
    chrome = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
    for _ in range(int(110 * span / 3600 * scale)):
        t = start + timedelta(milliseconds=int(rng.uniform(0, span) * 1000))
        computer, _ip = rng.choice(WORKSTATIONS)
        user = rng.choice(OFFICIALS)
        doc = f"C:\\Users\\{user}\\Documents\\{rng.choice(('Bao-cao-thang-11', 'Ke-hoach-2027', 'To-trinh-so-45'))}"
        image, cli, parent, parent_cli = rng.choice(
            (
                (chrome, f'"{chrome}"', explorer, explorer),
                (chrome, f'"{chrome}" --type=renderer --lang=vi --renderer-client-id=7', chrome, f'"{chrome}"'),
                (f"{office}\\WINWORD.EXE", f'"{office}\\WINWORD.EXE" /n "{doc}.docx"', explorer, explorer),
                (f"{office}\\EXCEL.EXE", f'"{office}\\EXCEL.EXE" "{doc}.xlsx"', explorer, explorer),
                (
                    "C:\\Windows\\splwow64.exe",
                    "C:\\Windows\\splwow64.exe 12288",
                    f"{office}\\WINWORD.EXE",
                    f'"{office}\\WINWORD.EXE"',
                ),
                (
                    "C:\\Program Files (x86)\\VNPT-CA Plugin\\VnptCaPlugin.exe",
                    '"C:\\Program Files (x86)\\VNPT-CA Plugin\\VnptCaPlugin.exe"',
                    explorer,
                    explorer,
                ),
                (
                    "C:\\Windows\\System32\\cmd.exe",
                    '"C:\\Windows\\System32\\cmd.exe" /c ipconfig /all',
                    explorer,
                    explorer,
                ),
                (
                    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                    "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\kiem-tra-ket-noi.ps1",
                    explorer,
                    explorer,
                ),
            )
        )
        payload = win.process_creation(
            rng,
            t,
            computer,
            user=user,
            image=image,
            command_line=cli,
            parent_image=parent,
            parent_command_line=parent_cli,
        )
        out.append(Entry(t, WINDOWS, win=payload))
    t = start + timedelta(seconds=span * 0.15)
    chrome_svc = '"C:\\Program Files\\Google\\Chrome\\Application\\131.0.6778.86\\elevation_service.exe"'
    out.append(
        Entry(
            t,
            WINDOWS,
            win=win.service_installed(t, "VP-PC02.thanhhoa.local", "GoogleChromeElevationService", chrome_svc),
        )
    )
    t = start + timedelta(seconds=span * 0.2)
    rdp_users = {
        "MemberName": "-",
        "MemberSid": win.user_sid("tranvanminh"),
        "TargetUserName": "Remote Desktop Users",
        "TargetDomainName": "Builtin",
        "TargetSid": "S-1-5-32-555",
        "SubjectUserSid": win.user_sid("longvd"),
        "SubjectUserName": "longvd",
        "SubjectDomainName": win.DOMAIN,
        "SubjectLogonId": "0x3e1a7",
        "PrivilegeList": "-",
    }
    out.append(Entry(t, WINDOWS, win=win.security(t, "DONGVE-SRV01.thanhhoa.local", 4732, rdp_users)))
    return out
